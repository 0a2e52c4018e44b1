"""``/pulp/api/v2/repo_groups/``: repository groups, their distributors and group publish."""

from __future__ import annotations

from flask import jsonify, request
from flask.views import MethodView

from pulp2ng import representations as rep
from pulp2ng.controllers import repo_groups as groups
from pulp2ng.db.criteria import parse_criteria
from pulp2ng.server import schemas
from pulp2ng.server.arguments import Blueprint
from pulp2ng.server.blueprints.common import accepted, created, platform, search_body

blp = Blueprint("repo_groups", __name__, url_prefix="/pulp/api/v2",
                description="Repository groups, group distributors and group publish")


@blp.route("/repo_groups/")
class RepoGroups(MethodView):
    @blp.response(200, schemas.RepoGroupSchema(many=True))
    def get(self):
        """List repository groups."""
        return jsonify([rep.repo_group(g) for g in groups.list_groups(platform())])

    @blp.arguments(schemas.RepoGroupCreateSchema)
    @blp.response(201, schemas.RepoGroupSchema)
    def post(self, body):
        """Create a group with its members and distributors (201)."""
        return created(rep.repo_group(groups.create_group(platform(), body)))


@blp.route("/repo_groups/search/", methods=["GET", "POST"])
@blp.post_body(schemas.SearchSchema)
@blp.response(200, schemas.RepoGroupSchema(many=True))
def search_groups():
    """Search repository groups with Pulp criteria."""
    criteria, _ = search_body(request.get_json(silent=True) if request.method == "POST"
                              else None)
    parsed = parse_criteria(criteria)
    docs = [rep.repo_group(g) for g in groups.search_groups(platform(), parsed)]
    return jsonify(rep.only_fields(docs, parsed.fields, {"_href", "id", "_id"}))


@blp.route("/repo_groups/<group_id>/")
class RepoGroup(MethodView):
    @blp.response(200, schemas.RepoGroupSchema)
    def get(self, group_id):
        return jsonify(rep.repo_group(groups.get_group(platform(), group_id)))

    @blp.arguments(schemas.RepoGroupUpdateSchema)
    @blp.response(200, schemas.RepoGroupSchema)
    def put(self, body, group_id):
        """Change ``display_name``, ``description``; merge ``notes`` (null removes a key)."""
        return jsonify(rep.repo_group(groups.update_group(platform(), group_id, body)))

    @blp.response(200, schemas.NULL)
    def delete(self, group_id):
        """Delete the group and its distributors (its repositories stay)."""
        groups.delete_group(platform(), group_id)
        return jsonify(None)


@blp.route("/repo_groups/<group_id>/actions/associate/", methods=["POST"])
@blp.arguments(schemas.RepoGroupMembersSchema)
@blp.response(200, {"type": "array", "items": {"type": "string"}})
def associate(body, group_id):
    """Add the repositories matching ``criteria``; answers the group's repository ids."""
    return jsonify(groups.associate(platform(), group_id, body))


@blp.route("/repo_groups/<group_id>/actions/unassociate/", methods=["POST"])
@blp.arguments(schemas.RepoGroupMembersSchema)
@blp.response(200, {"type": "array", "items": {"type": "string"}})
def unassociate(body, group_id):
    """Remove the repositories matching ``criteria``; answers the group's repository ids."""
    return jsonify(groups.unassociate(platform(), group_id, body))


@blp.route("/repo_groups/<group_id>/actions/publish/", methods=["POST"])
@blp.arguments(schemas.GroupPublishSchema)
@blp.response(202, schemas.CallReportSchema)
def publish(body, group_id):
    """Publish the group with one of its distributors (``id``)."""
    return accepted(groups.queue_publish(platform(), group_id, body))


@blp.route("/repo_groups/<group_id>/distributors/")
class GroupDistributors(MethodView):
    @blp.response(200, schemas.GroupDistributorSchema(many=True))
    def get(self, group_id):
        return jsonify([rep.group_distributor(d)
                        for d in groups.list_distributors(platform(), group_id)])

    @blp.arguments(schemas.GroupDistributorSpecSchema)
    @blp.response(201, schemas.GroupDistributorSchema)
    def post(self, body, group_id):
        """Add a group distributor (201)."""
        return created(rep.group_distributor(groups.add_distributor(platform(), group_id, body)))


@blp.route("/repo_groups/<group_id>/distributors/<dist_id>/")
class GroupDistributor(MethodView):
    @blp.response(200, schemas.GroupDistributorSchema)
    def get(self, group_id, dist_id):
        return jsonify(rep.group_distributor(groups.get_distributor(platform(), group_id,
                                                                    dist_id)))

    @blp.arguments(schemas.GroupDistributorUpdateSchema)
    @blp.response(200, schemas.GroupDistributorSchema)
    def put(self, body, group_id, dist_id):
        """Merge ``distributor_config`` (null removes a key)."""
        return jsonify(rep.group_distributor(
            groups.update_distributor(platform(), group_id, dist_id, body)))

    @blp.response(200, schemas.NULL)
    def delete(self, group_id, dist_id):
        groups.delete_distributor(platform(), group_id, dist_id)
        return jsonify(None)
