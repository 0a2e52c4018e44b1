"""``/pulp/api/v2/events/``: event listeners (§1.12)."""

from __future__ import annotations

from flask import jsonify
from flask.views import MethodView

from pulp2ng import representations as rep
from pulp2ng.controllers import events
from pulp2ng.server import schemas
from pulp2ng.server.arguments import Blueprint
from pulp2ng.server.blueprints.common import created, platform

blp = Blueprint("events", __name__, url_prefix="/pulp/api/v2", description="Event listeners")


@blp.route("/events/", endpoint="listener_collection")
class Listeners(MethodView):
    @blp.response(200, schemas.ListenerSchema(many=True))
    def get(self):
        """Every event listener."""
        return jsonify([rep.event_listener(d) for d in events.list_listeners(platform())])

    @blp.arguments(schemas.ListenerCreateSchema)
    @blp.response(201, schemas.ListenerSchema)
    def post(self, body):
        """Create a listener: 201 with ``Location``."""
        return created(rep.event_listener(events.create_listener(platform(), body)))


@blp.route("/events/<listener_id>/", endpoint="listener_item")
class Listener(MethodView):
    @blp.response(200, schemas.ListenerSchema)
    def get(self, listener_id):
        """The listener, with its last delivery."""
        return jsonify(rep.event_listener(events.get_listener(platform(), listener_id)))

    @blp.arguments(schemas.ListenerUpdateSchema)
    @blp.response(200, schemas.ListenerSchema)
    def put(self, body, listener_id):
        """Change ``notifier_config`` and/or ``event_types``."""
        doc = events.update_listener(platform(), listener_id, body)
        return jsonify(rep.event_listener(doc))

    @blp.response(200, schemas.NULL)
    def delete(self, listener_id):
        """Delete the listener (its pending deliveries are dropped)."""
        events.delete_listener(platform(), listener_id)
        return jsonify(None)
