"""Consumer profiles, content applicability and applicability regeneration (§1.10)."""

from __future__ import annotations

from flask import jsonify, request
from flask.views import MethodView

from pulp2ng import representations as rep
from pulp2ng.controllers import applicability, profiles
from pulp2ng.server import schemas
from pulp2ng.server.arguments import Blueprint
from pulp2ng.server.blueprints.common import accepted, created, platform, search_body

blp = Blueprint("profiles", __name__, url_prefix="/pulp/api/v2",
                description="Consumer profiles and content applicability")


@blp.route("/consumers/<consumer_id>/profiles/")
class Profiles(MethodView):
    @blp.response(200, schemas.ProfileSchema(many=True))
    def get(self, consumer_id):
        """The consumer's profiles, one per content type."""
        return jsonify([rep.profile(p) for p in profiles.list_profiles(platform(), consumer_id)])

    @blp.arguments(schemas.ProfileCreateSchema)
    @blp.response(201, schemas.ProfileSchema)
    def post(self, body, consumer_id):
        """Create (or replace) the profile of ``content_type`` (201)."""
        return created(rep.profile(profiles.create_profile(platform(), consumer_id, body)))


@blp.route("/consumers/<consumer_id>/profiles/<content_type>/")
class Profile(MethodView):
    @blp.response(200, schemas.ProfileSchema)
    def get(self, consumer_id, content_type):
        return jsonify(rep.profile(profiles.get_profile(platform(), consumer_id, content_type)))

    @blp.arguments(schemas.ProfileUpdateSchema)
    @blp.response(200, schemas.ProfileSchema)
    def put(self, body, consumer_id, content_type):
        """Replace the profile."""
        return jsonify(rep.profile(profiles.update_profile(platform(), consumer_id, content_type,
                                                      body)))

    @blp.response(200, schemas.NULL)
    def delete(self, consumer_id, content_type):
        profiles.delete_profile(platform(), consumer_id, content_type)
        return jsonify(None)


@blp.route("/consumers/profile/search/", methods=["GET", "POST"])
@blp.post_body(schemas.SearchSchema)
@blp.response(200, schemas.ProfileSchema(many=True))
def search_profiles():
    """Search profiles with Pulp criteria."""
    criteria, _ = search_body(request.get_json(silent=True) if request.method == "POST"
                              else None)
    docs = [rep.profile(p) for p in profiles.search_profiles(platform(), criteria)]
    from pulp2ng.db.criteria import parse_criteria

    return jsonify(rep.only_fields(docs, parse_criteria(criteria).fields,
                                   {"_href", "_id", "consumer_id", "content_type"}))


@blp.route("/consumers/content/applicability/", methods=["POST"])
@blp.arguments(schemas.ApplicabilityQuerySchema)
@blp.response(200, schemas.ApplicabilitySchema(many=True))
def content_applicability(body):
    """Applicable units of the consumers matching ``criteria``, consumers with identical
    results grouped; missing or stale results are computed now."""
    return jsonify(applicability.consumer_applicability(platform(), body))


@blp.route("/consumers/actions/content/regenerate_applicability/", methods=["POST"])
@blp.arguments(schemas.ConsumerRegenerationSchema)
@blp.response(202, schemas.CallReportSchema)
def regenerate_consumers(body):
    """Recompute applicability for the consumers matching ``consumer_criteria``."""
    return accepted(applicability.queue_consumers(platform(), body))


@blp.route("/consumers/<consumer_id>/actions/content/regenerate_applicability/",
           methods=["POST"])
@blp.response(202, schemas.CallReportSchema)
def regenerate_consumer(consumer_id):
    """Recompute applicability for one consumer."""
    return accepted(applicability.queue_consumer(platform(), consumer_id))


@blp.route("/repositories/actions/content/regenerate_applicability/", methods=["POST"])
@blp.arguments(schemas.RepoRegenerationSchema)
@blp.response(202, {"oneOf": [schemas.CallReportSchema, schemas.GroupCallReportSchema]},
              description="A call report; with ``parallel`` a group call report")
def regenerate_repositories(body):
    """Recompute applicability for the consumers bound to the matching repositories."""
    report = applicability.queue_repositories(platform(), body)
    if isinstance(report, dict):
        return jsonify(report), 202
    return accepted(report)
