"""``/pulp/api/v2/status/`` (no auth) and ``/pulp/api/v2/plugins/``."""

from __future__ import annotations

import time

from flask import jsonify

from pulp2ng import __version__
from pulp2ng.db.errors import ConnectionFailure
from pulp2ng.db.store import isoformat
from pulp2ng.errors import MissingResource
from pulp2ng.server import schemas
from pulp2ng.server.arguments import Blueprint
from pulp2ng.server.blueprints.common import platform
from pulp2ng.tasking.workers import live_workers

blp = Blueprint("status", __name__, url_prefix="/pulp/api/v2",
                description="Server status and installed plugins")

_broker_check = {"at": 0.0, "ok": False}


def _messaging_connected(p) -> bool:
    """The broker answers (cached for 5 s so status stays cheap)."""
    if not p.settings.get("broker", "url"):
        return p.store.ping()
    if time.monotonic() - _broker_check["at"] > 5:
        try:
            with p.celery.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            _broker_check["ok"] = True
        except Exception:  # any broker failure means "not connected"
            _broker_check["ok"] = False
        _broker_check["at"] = time.monotonic()
    return _broker_check["ok"]


@blp.route("/status/")
@blp.doc(security=[])
@blp.response(200, schemas.StatusSchema)
def status():
    p = platform()
    connected = p.store.ping()  # the driver's health flag, or one ping bounded to 1 s
    workers = []
    if connected:
        try:
            workers = live_workers(p)
        except ConnectionFailure:  # went down between the ping and this read
            connected = False
    return jsonify({
        "api_version": "2",
        "versions": {"platform_version": __version__},
        "database_connection": {"connected": connected},
        "messaging_connection": {"connected": _messaging_connected(p)},
        "known_workers": [
            {"name": w["_id"], "last_heartbeat": isoformat(w["last_heartbeat"]),
             "role": w.get("role", "worker")}
            for w in workers
        ],
    })


def _type_doc(t) -> dict:
    return {
        "_href": f"/pulp/api/v2/plugins/types/{t.id}/",
        "_id": {"$oid": t.id},
        "_ns": "content_types",
        "id": t.id,
        "display_name": t.display_name,
        "description": t.description,
        "unit_key": list(t.unit_key),
        "search_indexes": [list(i) if not isinstance(i, str) else [i] for i in t.search_indexes],
        "referenced_types": list(t.referenced_types),
    }


def _plugin_doc(kind: str, cls) -> dict:
    meta = cls.metadata()
    return {"_href": f"/pulp/api/v2/plugins/{kind}/{meta['id']}/", "id": meta["id"],
            "display_name": meta["display_name"],
            "types": [t for t in meta["types"] if t not in platform().plugins.internal_types]}


@blp.route("/plugins/types/")
@blp.response(200, schemas.ContentTypeSchema(many=True))
def plugin_types():
    return jsonify([_type_doc(t) for _, t in sorted(platform().plugins.public_types.items())])


@blp.route("/plugins/types/<type_id>/")
@blp.response(200, schemas.ContentTypeSchema)
def plugin_type(type_id):
    t = platform().plugins.public_types.get(type_id)
    if t is None:
        raise MissingResource(type=type_id)
    return jsonify(_type_doc(t))


@blp.route("/content/types/")
@blp.response(200, schemas.ContentTypeSchema(many=True))
def content_types():
    """The installed unit types, as ``plugins/types/`` lists them."""
    return plugin_types()


@blp.route("/content/types/<type_id>/")
@blp.response(200, schemas.ContentTypeSchema)
def content_type(type_id):
    return plugin_type(type_id)


@blp.route("/plugins/<any(importers, distributors):kind>/")
@blp.response(200, schemas.PluginSchema(many=True))
def plugin_list(kind):
    table = getattr(platform().plugins, kind)
    return jsonify([_plugin_doc(kind, cls) for _, cls in sorted(table.items())])


@blp.route("/plugins/<any(importers, distributors):kind>/<plugin_id>/")
@blp.response(200, schemas.PluginSchema)
def plugin_item(kind, plugin_id):
    cls = getattr(platform().plugins, kind).get(plugin_id)
    if cls is None:
        raise MissingResource(**{kind[:-1]: plugin_id})
    return jsonify(_plugin_doc(kind, cls))
