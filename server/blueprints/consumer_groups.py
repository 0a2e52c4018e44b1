"""``/pulp/api/v2/consumer_groups/``: consumer groups, their membership, and bindings and
content actions fanned out to their members."""

from __future__ import annotations

from flask import jsonify, request
from flask.views import MethodView

from pulp2ng import representations as rep
from pulp2ng.controllers import consumer_groups as groups
from pulp2ng.db.criteria import parse_criteria
from pulp2ng.server import schemas
from pulp2ng.server.arguments import Blueprint
from pulp2ng.server.blueprints.common import accepted, created, platform, search_body

blp = Blueprint("consumer_groups", __name__, url_prefix="/pulp/api/v2",
                description="Consumer groups: membership, group bindings and content actions")

_IDS = {"type": "array", "items": {"type": "string"}}


@blp.route("/consumer_groups/")
class ConsumerGroups(MethodView):
    @blp.response(200, schemas.ConsumerGroupSchema(many=True))
    def get(self):
        """List consumer groups."""
        return jsonify([rep.consumer_group(g) for g in groups.list_groups(platform())])

    @blp.arguments(schemas.ConsumerGroupCreateSchema)
    @blp.response(201, schemas.ConsumerGroupSchema)
    def post(self, body):
        """Create a group of existing consumers (201)."""
        return created(rep.consumer_group(groups.create_group(platform(), body)))


@blp.route("/consumer_groups/search/", methods=["GET", "POST"])
@blp.post_body(schemas.SearchSchema)
@blp.response(200, schemas.ConsumerGroupSchema(many=True))
def search_groups():
    """Search consumer groups with Pulp criteria."""
    criteria, _ = search_body(request.get_json(silent=True) if request.method == "POST"
                              else None)
    parsed = parse_criteria(criteria)
    docs = [rep.consumer_group(g) for g in groups.search_groups(platform(), parsed)]
    return jsonify(rep.only_fields(docs, parsed.fields, {"_href", "id", "_id"}))


@blp.route("/consumer_groups/<group_id>/")
class ConsumerGroup(MethodView):
    @blp.response(200, schemas.ConsumerGroupSchema)
    def get(self, group_id):
        return jsonify(rep.consumer_group(groups.get_group(platform(), group_id)))

    @blp.arguments(schemas.ConsumerGroupUpdateSchema)
    @blp.response(200, schemas.ConsumerGroupSchema)
    def put(self, body, group_id):
        """Change ``display_name``, ``description``; merge ``notes`` (null removes a key)."""
        return jsonify(rep.consumer_group(groups.update_group(platform(), group_id, body)))

    @blp.response(200, schemas.NULL)
    def delete(self, group_id):
        """Delete the group (its consumers stay, with their bindings)."""
        groups.delete_group(platform(), group_id)
        return jsonify(None)


@blp.route("/consumer_groups/<group_id>/actions/associate/", methods=["POST"])
@blp.arguments(schemas.ConsumerGroupMembersSchema)
@blp.response(200, _IDS)
def associate(body, group_id):
    """Add the consumers matching ``criteria``; answers the group's consumer ids."""
    return jsonify(groups.associate(platform(), group_id, body))


@blp.route("/consumer_groups/<group_id>/actions/unassociate/", methods=["POST"])
@blp.arguments(schemas.ConsumerGroupMembersSchema)
@blp.response(200, _IDS)
def unassociate(body, group_id):
    """Remove the consumers matching ``criteria``; answers the group's consumer ids."""
    return jsonify(groups.unassociate(platform(), group_id, body))


@blp.route("/consumer_groups/<group_id>/bindings/", methods=["POST"])
@blp.arguments(schemas.BindSchema)
@blp.response(202, schemas.CallReportSchema,
              description="One agent request (agent_bind) per member told")
def bind(body, group_id):
    """Bind every member to a repository's distributor."""
    return accepted(groups.bind(platform(), group_id, body))


@blp.route("/consumer_groups/<group_id>/bindings/<repo_id>/<distributor_id>/",
           methods=["DELETE"])
@blp.arguments(schemas.UnbindSchema, required=False)
@blp.response(202, schemas.CallReportSchema,
              description="One agent request (agent_unbind) per member told")
def unbind(body, group_id, repo_id, distributor_id):
    """Unbind every member bound to the distributor (``force``: delete the bindings now)."""
    return accepted(groups.unbind(platform(), group_id, repo_id, distributor_id, body or {}))


@blp.route("/consumer_groups/<group_id>/actions/content/"
           "<any(install,update,uninstall):action>/", methods=["POST"])
@blp.arguments(schemas.ContentActionSchema)
@blp.response(202, schemas.CallReportSchema)
def content_action(body, group_id, action):
    """Install, update or uninstall units on every member: one agent request each."""
    return accepted(groups.content_action(platform(), group_id, action, body))
