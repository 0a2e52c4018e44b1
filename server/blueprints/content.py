"""Units and content: repository unit search, copy, removal, uploads, units by type, orphans."""

from __future__ import annotations

from flask import jsonify, request
from flask.views import MethodView

from pulp2ng import representations as rep
from pulp2ng.controllers import orphans, units, uploads
from pulp2ng.controllers import repositories as repos
from pulp2ng.errors import InvalidType
from pulp2ng.server import schemas
from pulp2ng.server.arguments import Blueprint
from pulp2ng.server.blueprints.common import accepted, created, flag, platform, search_body

blp = Blueprint("units", __name__, url_prefix="/pulp/api/v2",
                description="Unit search, copy, removal, uploads and orphans")


def _json_body():
    return request.get_json(silent=True) if request.method == "POST" else None


# -- repository units ------------------------------------------------------------------------


@blp.route("/repositories/<repo_id>/search/units/", methods=["GET", "POST"])
@blp.post_body(schemas.SearchSchema)
@blp.response(200, schemas.AssociationSchema(many=True))
def search_repository_units(repo_id):
    """Association documents with their unit as ``metadata`` (unit association criteria)."""
    if request.method == "GET":
        repos.get_repository(platform(), repo_id)
        criteria, _ = search_body(None)
        criteria = _association_criteria_from_args(criteria)
    else:
        criteria, _ = search_body(_json_body())
    return jsonify(units.search_units(platform(), repo_id, criteria))


def _association_criteria_from_args(criteria: dict) -> dict:
    """GET searches: ``type_ids`` repeated; ``filters``/``sort`` are JSON, either split into
    ``unit``/``association`` as in POST or, unsplit, applied to units."""
    if request.args.getlist("type_ids"):
        criteria["type_ids"] = request.args.getlist("type_ids")
    for key in ("filters", "sort", "fields"):
        value = criteria.get(key)
        split = isinstance(value, dict) and value and set(value) <= {"unit", "association"}
        if value is not None and not split:
            criteria[key] = {"unit": value}  # unsplit GET parameters apply to units
    return criteria


@blp.route("/repositories/<repo_id>/actions/associate/", methods=["POST"])
@blp.arguments(schemas.AssociateSchema)
@blp.response(202, schemas.CallReportSchema)
def associate(body, repo_id):
    """Copy units of ``source_repo_id`` matching ``criteria`` into this repository."""
    return accepted(units.queue_associate(platform(), repo_id, body))


@blp.route("/repositories/<repo_id>/actions/unassociate/", methods=["POST"])
@blp.arguments(schemas.UnassociateSchema)
@blp.response(202, schemas.CallReportSchema)
def unassociate(body, repo_id):
    """Remove units matching ``criteria`` (``{}``: every unit) from this repository."""
    return accepted(units.queue_unassociate(platform(), repo_id, body))


@blp.route("/repositories/<repo_id>/actions/import_upload/", methods=["POST"])
@blp.arguments(schemas.ImportUploadSchema)
@blp.response(202, schemas.CallReportSchema)
def import_upload(body, repo_id):
    """Import an upload as a unit with the repository's importer."""
    return accepted(uploads.queue_import_upload(platform(), repo_id, body))


# -- units by type -----------------------------------------------------------------------------


@blp.route("/content/units/<type_id>/")
@blp.response(200, schemas.UnitSchema(many=True))
def list_units(type_id):
    return jsonify(units.list_units(platform(), type_id))


@blp.route("/content/units/<type_id>/search/", methods=["GET", "POST"])
@blp.post_body(schemas.UnitSearchSchema)
@blp.response(200, schemas.UnitSchema(many=True))
def search_units(type_id):
    """Units of a type by criteria; ``include_repos`` adds ``repository_memberships``."""
    criteria, options = search_body(_json_body())
    return jsonify(units.search_type(platform(), type_id, criteria,
                                     flag("include_repos", options)))


@blp.route("/content/units/<type_id>/<unit_id>/")
@blp.response(200, schemas.UnitSchema)
def get_unit(type_id, unit_id):
    return jsonify(rep.unit(units.get_unit(platform(), type_id, unit_id)))


@blp.route("/content/units/<type_id>/<unit_id>/pulp_user_metadata/", endpoint="user_metadata")
class UserMetadata(MethodView):
    @blp.response(200, schemas.USER_METADATA)
    def get(self, type_id, unit_id):
        return jsonify(units.get_user_metadata(platform(), type_id, unit_id))

    @blp.response(200, schemas.NULL)
    def put(self, type_id, unit_id):
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise InvalidType(["pulp_user_metadata"], "The body must be a JSON object")
        units.set_user_metadata(platform(), type_id, unit_id, body)
        return jsonify(None)


# -- uploads -------------------------------------------------------------------------------------


@blp.route("/content/uploads/", endpoint="upload_collection")
class Uploads(MethodView):
    @blp.response(200, schemas.UploadIdsSchema)
    def get(self):
        return jsonify(uploads.list_uploads(platform()))

    @blp.response(201, schemas.UploadSchema)
    def post(self):
        return created(uploads.create_upload(platform()))


@blp.route("/content/uploads/<upload_id>/<offset>/", methods=["PUT"])
@blp.response(200, schemas.NULL)
def upload_chunk(upload_id, offset):
    """Write the raw request body at byte ``offset`` (streamed, never held whole)."""
    uploads.write_chunk(platform(), upload_id, offset, request.stream)
    return jsonify(None)


@blp.route("/content/uploads/<upload_id>/", methods=["DELETE"])
@blp.response(200, schemas.NULL)
def delete_upload(upload_id):
    uploads.delete_upload(platform(), upload_id)
    return jsonify(None)


# -- orphans --------------------------------------------------------------------------------------


@blp.route("/content/orphans/", endpoint="orphan_collection")
class Orphans(MethodView):
    @blp.response(200, schemas.ORPHAN_COUNTS)
    def get(self):
        return jsonify(orphans.counts(platform()))

    @blp.response(202, schemas.CallReportSchema)
    def delete(self):
        return accepted(orphans.queue_delete(platform()))


@blp.route("/content/orphans/<type_id>/", endpoint="orphans_of_type")
class OrphansOfType(MethodView):
    @blp.response(200, schemas.UnitSchema(many=True))
    def get(self, type_id):
        return jsonify(orphans.list_type(platform(), type_id))

    @blp.response(202, schemas.CallReportSchema)
    def delete(self, type_id):
        return accepted(orphans.queue_delete(platform(), type_id))


@blp.route("/content/orphans/<type_id>/<unit_id>/", endpoint="orphan")
class Orphan(MethodView):
    @blp.response(200, schemas.UnitSchema)
    def get(self, type_id, unit_id):
        return jsonify(orphans.get_orphan(platform(), type_id, unit_id))

    @blp.response(202, schemas.CallReportSchema)
    def delete(self, type_id, unit_id):
        return accepted(orphans.queue_delete(platform(), type_id, unit_id))
