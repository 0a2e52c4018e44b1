"""Consumers (Pulp 2 §1.10): registration with a client certificate, the consumer document,
its history. Bindings and content actions live in :mod:`pulp2ng.controllers.bindings`."""

from __future__ import annotations

import datetime as dt
import re

from pulp2ng.controllers.fields import known_fields
from pulp2ng.db.common import check_keys
from pulp2ng.db.store import UTC, key_updates
from pulp2ng.errors import InvalidValue, MissingResource, MissingValue

CONSUMER_ID = re.compile(r"^[.\-_A-Za-z0-9]+$")
_FIELDS = {"id", "display_name", "description", "notes", "rsa_pub"}
_DELTA = {"display_name", "description", "notes", "rsa_pub"}
#: Pulp 2's consumer history event types.
EVENT_TYPES = ("consumer_registered", "consumer_unregistered", "repo_bound", "repo_unbound",
               "content_unit_installed", "content_unit_uninstalled", "unit_profile_changed",
               "added_to_group", "removed_from_group")


def _fields(body, allowed: set, what: str) -> dict:
    known_fields(body, allowed, what)
    for key in ("display_name", "description", "rsa_pub"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise InvalidValue([key], f"{key} must be a string")
    if body.get("notes") is not None:
        if not isinstance(body["notes"], dict):
            raise InvalidValue(["notes"], "notes must be an object")
        check_keys(body["notes"], "notes")
    return body


def get_consumer(platform, consumer_id: str) -> dict:
    consumer = platform.store.find_consumer(consumer_id)
    if consumer is None:
        raise MissingResource(consumer=consumer_id)
    return consumer


def register_consumer(platform, body, certificates, originator: str | None) -> tuple[dict, str]:
    """Create the consumer; returns it with its key and certificate (one PEM string), which
    authenticate it over HTTPS for its own resources until it is unregistered."""
    body = _fields(body, _FIELDS, "consumer")
    consumer_id = body.get("id")
    if consumer_id is None:
        raise MissingValue(["id"])
    if not isinstance(consumer_id, str) or not CONSUMER_ID.match(consumer_id):
        raise InvalidValue(["id"], f"Invalid consumer id {consumer_id!r}")
    consumer = {
        "_id": consumer_id, "id": consumer_id,
        "display_name": body.get("display_name") or consumer_id,
        "description": body.get("description"),
        "notes": {k: v for k, v in (body.get("notes") or {}).items() if v is not None},
        "rsa_pub": body.get("rsa_pub"),
        "capabilities": {},
    }
    token = platform.store.insert_consumer(consumer)
    days = platform.settings.getfloat("auth", "consumer_cert_days")
    certificate = certificates.issue_consumer(consumer_id, token, days)
    platform.store.add_consumer_event(consumer_id, "consumer_registered", None, originator)
    return get_consumer(platform, consumer_id), certificate


def update_consumer(platform, consumer_id: str, body) -> dict:
    if not isinstance(body, dict) or not isinstance(body.get("delta"), dict):
        raise MissingValue(["delta"])
    delta = _fields(body["delta"], _DELTA, "delta")
    update: dict = {}
    changes = {k: delta[k] for k in ("display_name", "description", "rsa_pub") if k in delta}
    if changes:
        update["$set"] = changes
    for op, fields in key_updates("notes", delta.get("notes") or {}).items():
        update.setdefault(op, {}).update(fields)
    get_consumer(platform, consumer_id)
    consumer = platform.store.update_consumer(consumer_id, update)
    if consumer is None:
        raise MissingResource(consumer=consumer_id)
    return consumer


def unregister_consumer(platform, consumer_id: str, originator: str | None) -> None:
    """Delete the consumer with its bindings and schedules; its certificate stops working at
    once."""
    get_consumer(platform, consumer_id)
    if not platform.store.delete_consumer(consumer_id):
        raise MissingResource(consumer=consumer_id)
    platform.store.delete_consumer_schedules(consumer_id)
    platform.store.add_consumer_event(consumer_id, "consumer_unregistered", None, originator)


def search_consumers(platform, criteria):
    return platform.store.search_consumers(criteria)


def history(platform, consumer_id: str, args) -> list[dict]:
    """Events filtered by ``event_type``, ``start_date``/``end_date`` (ISO-8601), ``sort``
    (``ascending``/``descending``, newest first by default) and ``limit``."""
    get_consumer(platform, consumer_id)
    types = args.getlist("event_type")
    bad = [t for t in types if t not in EVENT_TYPES]
    if bad:
        raise InvalidValue(["event_type"], f"Unknown event types {bad}")
    sort = args.get("sort", "descending")
    if sort not in ("ascending", "descending"):
        raise InvalidValue(["sort"], "sort must be ascending or descending")
    limit = args.get("limit")
    if limit is not None and (not limit.isdigit() or int(limit) < 1):
        raise InvalidValue(["limit"], "limit must be a positive integer")
    return platform.store.consumer_events(
        consumer_id, types, _date(args, "start_date"), _date(args, "end_date"),
        1 if sort == "ascending" else -1, int(limit) if limit else None)


def _date(args, name: str):
    value = args.get(name)
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidValue([name], f"{name} must be an ISO-8601 date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
