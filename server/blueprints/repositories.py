"""``/pulp/api/v2/repositories/``: repositories, importers, distributors, actions, history."""

from __future__ import annotations

from flask import jsonify, request
from flask.views import MethodView

from pulp2ng import representations as rep
from pulp2ng.controllers import repositories as repos
from pulp2ng.controllers import sync
from pulp2ng.controllers.config_warnings import with_warnings
from pulp2ng.db.criteria import parse_criteria
from pulp2ng.server import schemas
from pulp2ng.server.arguments import Blueprint
from pulp2ng.server.blueprints.common import accepted, created, flag, platform, search_body

blp = Blueprint("repositories", __name__, url_prefix="/pulp/api/v2",
                description="Repositories with their importer and distributors")


def _repo_doc(repo: dict, source=None) -> dict:
    details = flag("details", source)
    importers = [i for i in [repos.find_importer(platform(), repo["_id"])] if i] if (
        details or flag("importers", source)) else None
    distributors = repos.find_distributors(platform(), repo["_id"]) if (
        details or flag("distributors", source)) else None
    return rep.repository(repo, importers, distributors)


@blp.route("/repositories/")
class Repositories(MethodView):
    @blp.response(200, schemas.RepositorySchema(many=True))
    def get(self):
        """List repositories (``details``, ``importers``, ``distributors`` flags)."""
        repos_ = repos.list_repositories(platform())
        return jsonify([_repo_doc(r) for r in repos_])

    @blp.arguments(schemas.RepositoryCreateSchema)
    @blp.response(201, schemas.RepositorySchema)
    def post(self, body):
        """Create a repository, optionally with an importer and distributors (atomically)."""
        repo, warnings = repos.create_repository(platform(), body)
        return created(with_warnings(rep.repository(repo), warnings))


@blp.route("/repositories/search/", methods=["GET", "POST"])
@blp.post_body(schemas.RepositorySearchSchema)
@blp.response(200, schemas.RepositorySchema(many=True))
def search_repositories():
    """Search repositories with Pulp criteria."""
    criteria, options = search_body(request.get_json(silent=True) if request.method == "POST"
                                    else None)
    parsed = parse_criteria(criteria)
    stored = parsed.renamed({"id": "_id"})
    docs = list(repos.search_repositories(platform(), stored))
    result = [_repo_doc(r, options) for r in docs]
    return jsonify(rep.only_fields(result, parsed.fields,
                                   {"_href", "id", "_id", "importers", "distributors"}))


@blp.route("/repositories/<repo_id>/")
class Repository(MethodView):
    @blp.response(200, schemas.RepositorySchema)
    def get(self, repo_id):
        """One repository; ``details=true`` adds unit totals, importers and distributors."""
        repo = repos.get_repository(platform(), repo_id)
        doc = _repo_doc(repo)
        if flag("details"):
            total = sum(repo.get("content_unit_counts", {}).values())
            doc["total_repository_units"] = total
            doc["locally_stored_units"] = total
        return jsonify(doc)

    @blp.arguments(schemas.RepositoryUpdateSchema)
    @blp.response(200, schemas.CallReportSchema, description="Updated; no task spawned")
    @blp.alt_response(202, schema=schemas.CallReportSchema,
                      description="Distributor configs are updated by the spawned tasks")
    def put(self, body, repo_id):
        """Update delta and importer config now; distributor configs as tasks (then 202)."""
        report = repos.update_repository(platform(), repo_id, body)
        return jsonify(rep.call_report(report)), 202 if report.spawned_tasks else 200

    @blp.response(202, schemas.CallReportSchema)
    def delete(self, repo_id):
        """Delete the repository in a task tagged ``pulp:action:delete``."""
        return accepted(repos.queue_delete_repository(platform(), repo_id))


# -- importers -----------------------------------------------------------------------------


@blp.route("/repositories/<repo_id>/importers/")
class Importers(MethodView):
    @blp.response(200, schemas.ImporterSchema(many=True))
    def get(self, repo_id):
        imp = repos.find_importer(platform(), repo_id)
        return jsonify([rep.importer(imp)] if imp else [])

    @blp.arguments(schemas.ImporterCreateSchema)
    @blp.response(202, schemas.CallReportSchema)
    def post(self, body, repo_id):
        """Associate an importer (validated now, attached by a task)."""
        return accepted(repos.queue_set_importer(platform(), repo_id, body))


@blp.route("/repositories/<repo_id>/importers/<importer_id>/")
class Importer(MethodView):
    @blp.response(200, schemas.ImporterSchema)
    def get(self, repo_id, importer_id):
        repos.get_repository(platform(), repo_id)
        return jsonify(rep.importer(repos.get_importer(platform(), repo_id, importer_id)))

    @blp.arguments(schemas.ImporterUpdateSchema)
    @blp.response(202, schemas.CallReportSchema)
    def put(self, body, repo_id, importer_id):
        return accepted(repos.queue_update_importer(platform(), repo_id, importer_id, body))

    @blp.response(202, schemas.CallReportSchema)
    def delete(self, repo_id, importer_id):
        return accepted(repos.queue_delete_importer(platform(), repo_id, importer_id))


# -- distributors --------------------------------------------------------------------------


@blp.route("/repositories/<repo_id>/distributors/")
class Distributors(MethodView):
    @blp.response(200, schemas.DistributorSchema(many=True))
    def get(self, repo_id):
        repos.get_repository(platform(), repo_id)
        return jsonify([rep.distributor(d) for d in repos.find_distributors(platform(), repo_id)])

    @blp.arguments(schemas.DistributorSpecSchema)
    @blp.response(201, schemas.DistributorSchema)
    def post(self, body, repo_id):
        """Add a distributor synchronously (201)."""
        dist, warnings = repos.add_distributor(platform(), repo_id, body)
        return created(with_warnings(rep.distributor(dist), warnings))


@blp.route("/repositories/<repo_id>/distributors/<dist_id>/")
class Distributor(MethodView):
    @blp.response(200, schemas.DistributorSchema)
    def get(self, repo_id, dist_id):
        return jsonify(rep.distributor(repos.get_distributor(platform(), repo_id, dist_id)))

    @blp.arguments(schemas.DistributorUpdateSchema)
    @blp.response(202, schemas.CallReportSchema)
    def put(self, body, repo_id, dist_id):
        return accepted(repos.queue_update_distributor(platform(), repo_id, dist_id, body))

    @blp.response(202, schemas.CallReportSchema)
    def delete(self, repo_id, dist_id):
        return accepted(repos.queue_delete_distributor(platform(), repo_id, dist_id))


@blp.route("/distributors/search/", methods=["GET", "POST"])
@blp.post_body(schemas.SearchSchema)
@blp.response(200, schemas.DistributorSchema(many=True))
def search_distributors():
    """Search distributors of every repository."""
    criteria, _ = search_body(request.get_json(silent=True) if request.method == "POST"
                              else None)
    parsed = parse_criteria(criteria)
    docs = repos.search_distributors(platform(), parsed)
    return jsonify(rep.only_fields([rep.distributor(d) for d in docs], parsed.fields,
                                   {"_href", "id", "_id", "repo_id"}))


# -- actions and history -----------------------------------------------------------------------


@blp.route("/repositories/<repo_id>/actions/sync/", methods=["POST"])
@blp.arguments(schemas.SyncSchema)
@blp.response(202, schemas.CallReportSchema)
def sync_repository(body, repo_id):
    """Sync from the importer's feed; auto-publish follows a successful sync."""
    return accepted(sync.sync_call_report(platform(), repo_id, body))


@blp.route("/repositories/<repo_id>/actions/publish/", methods=["POST"])
@blp.arguments(schemas.PublishSchema)
@blp.response(202, schemas.CallReportSchema)
def publish_repository(body, repo_id):
    """Publish with one distributor (``id``)."""
    return accepted(sync.publish_call_report(platform(), repo_id, body))


@blp.route("/repositories/<repo_id>/history/sync/")
@blp.response(200, schemas.HistoryEntrySchema(many=True))
def sync_history(repo_id):
    return jsonify(sync.sync_history(platform(), repo_id, request.args))


@blp.route("/repositories/<repo_id>/history/publish/<dist_id>/")
@blp.response(200, schemas.HistoryEntrySchema(many=True))
def publish_history(repo_id, dist_id):
    return jsonify(sync.publish_history(platform(), repo_id, dist_id, request.args))
