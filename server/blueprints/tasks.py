"""``/pulp/api/v2/tasks/``: task reports, cancel, purge, search; ``task_groups/``."""

from __future__ import annotations

from flask import jsonify, request
from flask.views import MethodView

from pulp2ng import representations as rep
from pulp2ng.controllers import tasks
from pulp2ng.db.criteria import parse_criteria
from pulp2ng.server import schemas
from pulp2ng.server.arguments import Blueprint
from pulp2ng.server.blueprints.common import platform, search_body

blp = Blueprint("tasks", __name__, url_prefix="/pulp/api/v2", description="Task reports")


@blp.route("/tasks/", endpoint="task_collection")
class Tasks(MethodView):
    @blp.response(200, schemas.TaskSchema(many=True))
    def get(self):
        """Tasks with every ``tag`` given (AND)."""
        docs = tasks.list_tasks(platform(), request.args.getlist("tag"))
        return jsonify([rep.task(d) for d in docs])

    @blp.response(204)
    def delete(self):
        """Purge completed tasks by ``state``."""
        tasks.purge_tasks(platform(), request.args.getlist("state"))
        return "", 204


@blp.route("/tasks/search/", methods=["GET", "POST"])
@blp.post_body(schemas.SearchSchema)
@blp.response(200, schemas.TaskSchema(many=True))
def search_tasks():
    criteria, _ = search_body(request.get_json(silent=True) if request.method == "POST"
                              else None)
    docs = tasks.search_tasks(platform(), parse_criteria(criteria))
    return jsonify([rep.task(d) for d in docs])


@blp.route("/tasks/<task_id>/", endpoint="task_item")
class Task(MethodView):
    @blp.response(200, schemas.TaskSchema)
    def get(self, task_id):
        """The task report."""
        return jsonify(rep.task(tasks.get_task(platform(), task_id), with_queue=True))

    @blp.response(200, schemas.NULL)
    def delete(self, task_id):
        """Cancel (a no-op for a completed task)."""
        tasks.cancel_task(platform(), task_id)
        return jsonify(None)


@blp.route("/task_groups/<group_id>/", endpoint="task_group")
class TaskGroup(MethodView):
    @blp.response(200, schemas.TaskSchema(many=True))
    def get(self, group_id):
        """The reports of the group's tasks (Pulp 2 always answered 404 here)."""
        return jsonify([rep.task(d) for d in tasks.group_tasks(platform(), group_id)])

    @blp.response(200, schemas.NULL)
    def delete(self, group_id):
        """Cancel every task of the group."""
        tasks.cancel_group(platform(), group_id)
        return jsonify(None)


@blp.route("/task_groups/<group_id>/state_summary/", methods=["GET"])
@blp.response(200, schemas.TaskGroupSummarySchema)
def task_group_summary(group_id):
    """How many of the group's tasks are in each state."""
    return jsonify(rep.task_group_summary(tasks.group_state_counts(platform(), group_id)))
