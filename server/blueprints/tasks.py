"""``/pulp/api/v2/tasks/``: task reports, cancel, purge, search."""

from __future__ import annotations

from flask import jsonify, request

from pulp2ng import representations as rep
from pulp2ng.controllers import tasks
from pulp2ng.db.criteria import parse_criteria
from pulp2ng.server.arguments import Blueprint
from pulp2ng.server.blueprints.common import platform, search_body

blp = Blueprint("tasks", __name__, url_prefix="/pulp/api/v2", description="Task reports")


@blp.route("/tasks/", methods=["GET", "DELETE"])
@blp.response(200)
def task_collection():
    """GET: tasks with every ``tag`` given (AND). DELETE: purge completed tasks by ``state``."""
    if request.method == "DELETE":
        tasks.purge_tasks(platform(), request.args.getlist("state"))
        return "", 204
    docs = tasks.list_tasks(platform(), request.args.getlist("tag"))
    return jsonify([rep.task(d) for d in docs])


@blp.route("/tasks/search/", methods=["GET", "POST"])
@blp.response(200)
def search_tasks():
    criteria, _ = search_body(request.get_json(silent=True) if request.method == "POST"
                              else None)
    docs = tasks.search_tasks(platform(), parse_criteria(criteria))
    return jsonify([rep.task(d) for d in docs])


@blp.route("/tasks/<task_id>/", methods=["GET", "DELETE"])
@blp.response(200)
def task_item(task_id):
    """GET: the task report. DELETE: cancel (a no-op for a completed task)."""
    if request.method == "DELETE":
        tasks.cancel_task(platform(), task_id)
        return jsonify(None)
    return jsonify(rep.task(tasks.get_task(platform(), task_id), with_queue=True))
