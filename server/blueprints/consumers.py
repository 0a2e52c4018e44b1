"""``consumers/``: registration, bindings, content actions and history of consumers."""

from __future__ import annotations

from flask import current_app, g, jsonify, request
from flask.views import MethodView

from pulp2ng import representations as rep
from pulp2ng.controllers import bindings, consumers
from pulp2ng.db.criteria import parse_criteria
from pulp2ng.server import schemas
from pulp2ng.server.arguments import Blueprint
from pulp2ng.server.blueprints.common import accepted, flag, platform, search_body

blp = Blueprint("consumers", __name__, url_prefix="/pulp/api/v2",
                description="Consumers: hosts bound to repositories, and their agents")


def _consumer_doc(doc: dict, source=None) -> dict:
    with_bindings = flag("details", source) or flag("bindings", source)
    found = platform().store.find_bindings({"consumer_id": doc["_id"]}) if with_bindings \
        else None
    return rep.consumer(doc, found)


def _originator() -> str | None:
    return g.get("login") or g.get("consumer")


@blp.route("/consumers/")
class Consumers(MethodView):
    @blp.response(200, schemas.ConsumerSchema(many=True))
    def get(self):
        """Every consumer (``details``/``bindings`` add their bindings)."""
        docs = consumers.search_consumers(platform(), parse_criteria({}))
        return jsonify([_consumer_doc(d) for d in docs])

    @blp.arguments(schemas.ConsumerCreateSchema)
    @blp.response(201, schemas.RegistrationSchema)
    def post(self, body):
        """Register a consumer: answers it with its key and certificate (one PEM string),
        its login on the HTTPS listener for its own resources."""
        doc, certificate = consumers.register_consumer(
            platform(), body, current_app.extensions["pulp2ng.certificates"], _originator())
        consumer = rep.consumer(doc)
        response = jsonify({"consumer": consumer, "certificate": certificate})
        response.status_code = 201
        response.headers["Location"] = consumer["_href"]
        return response


@blp.route("/consumers/search/", methods=["GET", "POST"])
@blp.post_body(schemas.SearchSchema)
@blp.response(200, schemas.ConsumerSchema(many=True))
def search_consumers():
    """Search consumers with Pulp criteria (``details``/``bindings`` flags)."""
    criteria, options = search_body(request.get_json(silent=True) if request.method == "POST"
                                    else None)
    parsed = parse_criteria(criteria)
    docs = consumers.search_consumers(platform(), parsed.renamed({"id": "_id"}))
    return jsonify(rep.only_fields([_consumer_doc(d, options) for d in docs], parsed.fields,
                                   {"_href", "id", "_id", "bindings"}))


@blp.route("/consumers/<consumer_id>/")
class Consumer(MethodView):
    @blp.response(200, schemas.ConsumerSchema)
    def get(self, consumer_id):
        """One consumer."""
        return jsonify(_consumer_doc(consumers.get_consumer(platform(), consumer_id)))

    @blp.arguments(schemas.ConsumerUpdateSchema)
    @blp.response(200, schemas.ConsumerSchema)
    def put(self, body, consumer_id):
        """Change ``display_name``, ``description``, ``notes`` (null removes a key) or
        ``rsa_pub``."""
        return jsonify(rep.consumer(consumers.update_consumer(platform(), consumer_id, body)))

    @blp.response(200, schemas.NULL)
    def delete(self, consumer_id):
        """Unregister: the consumer, its bindings and its certificate are gone at once."""
        consumers.unregister_consumer(platform(), consumer_id, _originator())
        return jsonify(None)


@blp.route("/consumers/<consumer_id>/bindings/")
class Bindings(MethodView):
    @blp.response(200, schemas.BindingSchema(many=True))
    def get(self, consumer_id):
        """The consumer's bindings."""
        return jsonify([rep.binding(b) for b in bindings.list_bindings(platform(), consumer_id)])

    @blp.arguments(schemas.BindSchema)
    @blp.response(200, schemas.CallReportSchema,
                  description="notify_agent false: the binding is the result")
    @blp.alt_response(202, schema=schemas.CallReportSchema,
                      description="An agent request (agent_bind) waits for the consumer")
    def post(self, body, consumer_id):
        """Bind the consumer to a repository's distributor."""
        report, _ = bindings.bind(platform(), consumer_id, body)
        if not report.spawned_tasks:
            report.result = rep.binding(report.result)
            return jsonify(rep.call_report(report))
        return accepted(report)


@blp.route("/consumers/<consumer_id>/bindings/<repo_id>/", methods=["GET"])
@blp.response(200, schemas.BindingSchema(many=True))
def repository_bindings(consumer_id, repo_id):
    """The consumer's bindings to one repository."""
    found = bindings.list_bindings(platform(), consumer_id, repo_id)
    return jsonify([rep.binding(b) for b in found])


@blp.route("/consumers/<consumer_id>/bindings/<repo_id>/<distributor_id>/")
class Binding(MethodView):
    @blp.response(200, schemas.BindingSchema)
    def get(self, consumer_id, repo_id, distributor_id):
        """One binding with ``details``: what the distributor gives the consumer."""
        found = bindings.get_binding(platform(), consumer_id, repo_id, distributor_id)
        return jsonify(rep.binding(found, bindings.binding_details(platform(), found)))

    @blp.arguments(schemas.UnbindSchema, required=False)
    @blp.response(200, schemas.CallReportSchema, description="Deleted; no agent to tell")
    @blp.alt_response(202, schema=schemas.CallReportSchema,
                      description="An agent request (agent_unbind); marked deleted till then")
    def delete(self, body, consumer_id, repo_id, distributor_id):
        """Unbind (``force``: delete the binding now, and still tell the agent)."""
        report = bindings.unbind(platform(), consumer_id, repo_id, distributor_id, body or {})
        return accepted(report) if report.spawned_tasks else jsonify(rep.call_report(report))


@blp.route("/consumers/binding/search/", methods=["GET", "POST"])
@blp.post_body(schemas.SearchSchema)
@blp.response(200, schemas.BindingSchema(many=True))
def search_bindings():
    """Search every consumer's bindings with Pulp criteria."""
    criteria, _ = search_body(request.get_json(silent=True) if request.method == "POST"
                              else None)
    parsed = parse_criteria(criteria)
    return jsonify([rep.binding(b) for b in platform().store.search_bindings(parsed)])


@blp.route("/consumers/<consumer_id>/actions/content/<any(install,update,uninstall):action>/",
           methods=["POST"])
@blp.arguments(schemas.ContentActionSchema)
@blp.response(202, schemas.CallReportSchema)
def content_action(body, consumer_id, action):
    """Install, update or uninstall units on the consumer: an agent request."""
    return accepted(bindings.content_action(platform(), consumer_id, action, body))


@blp.route("/consumers/<consumer_id>/history/", methods=["GET"])
@blp.response(200, schemas.ConsumerEventSchema(many=True))
def history(consumer_id):
    """The consumer's events (``event_type``, ``start_date``, ``end_date``, ``sort``,
    ``limit``)."""
    events = consumers.history(platform(), consumer_id, request.args)
    return jsonify([rep.consumer_event(e) for e in events])
