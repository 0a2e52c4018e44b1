"""Event listeners (Pulp 2's ``events/``) and the delivery of events to them.

An event never waits on a receiver: :func:`emit` writes one delivery document per matching
listener and queues an internal job for it (:mod:`pulp2ng.tasking.internal`: no task report,
no reservation, no task events of its own). A job makes one attempt; a failure queues the
next after 1, 2, 4, 8 s, up to ``MAX_ATTEMPTS``. The listener's ``last_delivery`` shows how
the latest attempt went. A job whose message was lost is sent again by the scheduler
(:func:`resend_overdue`), and a delivery attempt is claimed first, so it is made once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid

from pulp2ng import notifiers
from pulp2ng import representations as rep
from pulp2ng.db.events import ALL_EVENTS, new_listener_id
from pulp2ng.db.store import now
from pulp2ng.errors import InvalidValue, MissingResource, MissingValue
from pulp2ng.secrets import NOTIFIER_SECRET_KEYS, keep_masked
from pulp2ng.tasking.internal import send_job
from pulp2ng.tasking.registry import internal

log = logging.getLogger(__name__)

EVENT_TYPES = ("repo.sync.start", "repo.sync.finish", "repo.publish.start",
               "repo.publish.finish", "task.finish", "task.error")
NOTIFIER_TYPES = tuple(notifiers.SENDERS)
#: notifier_config keys per notifier type, and which of them are required.
CONFIG_KEYS = {
    "http": ({"url", "username", "password"}, {"url"}),
    "email": ({"subject", "addresses"}, {"addresses"}),
    "amqp": ({"url", "exchange"}, set()),
}
MAX_ATTEMPTS = 5
FIRST_RETRY_DELAY = 1.0  # seconds, doubled after each failed attempt
#: A pending delivery this long past its due time lost its message: the scheduler resends it.
OVERDUE_AFTER = dt.timedelta(seconds=60)
#: Finished deliveries are kept this long (for inspection), then dropped by a TTL index.
KEEP_DELIVERIES = dt.timedelta(days=1)
DELIVER_JOB = "pulp2ng.events.deliver"


# -- listeners ----------------------------------------------------------------------------


def list_listeners(platform) -> list[dict]:
    return platform.store.list_listeners()


def get_listener(platform, listener_id: str) -> dict:
    doc = platform.store.find_listener(listener_id)
    if doc is None:
        raise MissingResource(event_listener=listener_id)
    return doc


def create_listener(platform, body: dict) -> dict:
    missing = [k for k in ("notifier_type_id", "event_types") if body.get(k) is None]
    if missing:
        raise MissingValue(missing)
    notifier_type = body["notifier_type_id"]
    if notifier_type not in NOTIFIER_TYPES:
        raise InvalidValue(["notifier_type_id"],
                           f"notifier_type_id must be one of {list(NOTIFIER_TYPES)}")
    config = _config(notifier_type, body.get("notifier_config") or {})
    doc = {
        "_id": new_listener_id(),
        "notifier_type_id": notifier_type,
        "notifier_config": platform.secrets.seal(config, NOTIFIER_SECRET_KEYS),
        "event_types": _event_types(body["event_types"]),
        "last_delivery": None,
    }
    platform.store.insert_listener(doc)
    return doc


def update_listener(platform, listener_id: str, body: dict) -> dict:
    """``notifier_config`` merges key by key (null removes a key, the mask keeps the stored
    secret), as Pulp 2 did; ``event_types`` replaces the list."""
    doc = get_listener(platform, listener_id)
    changes = {}
    if body.get("notifier_config") is not None:
        delta = body["notifier_config"]
        if not isinstance(delta, dict):
            raise InvalidValue(["notifier_config"], "notifier_config must be an object")
        stored = doc.get("notifier_config") or {}
        merged = {**stored, **keep_masked(delta, stored, NOTIFIER_SECRET_KEYS)}
        merged = {k: v for k, v in merged.items() if v is not None}
        config = _config(doc["notifier_type_id"], platform.secrets.open(merged))
        changes["notifier_config"] = platform.secrets.seal(config, NOTIFIER_SECRET_KEYS)
    if body.get("event_types") is not None:
        changes["event_types"] = _event_types(body["event_types"])
    if changes and not platform.store.set_listener_fields(listener_id, changes):
        raise MissingResource(event_listener=listener_id)
    return {**doc, **changes}


def delete_listener(platform, listener_id: str) -> None:
    if not platform.store.delete_listener(listener_id):
        raise MissingResource(event_listener=listener_id)


def _event_types(value) -> list[str]:
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, str) for v in value)):
        raise InvalidValue(["event_types"], "event_types must be a non-empty list of strings")
    if value == [ALL_EVENTS]:
        return value
    bad = [v for v in value if v not in EVENT_TYPES]
    if bad:
        raise InvalidValue(["event_types"],
                           f"Unknown event types {bad}; use {list(EVENT_TYPES)} or ['*']")
    return list(dict.fromkeys(value))


def _config(notifier_type: str, config) -> dict:
    if not isinstance(config, dict):
        raise InvalidValue(["notifier_config"], "notifier_config must be an object")
    allowed, required = CONFIG_KEYS[notifier_type]
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise InvalidValue(["notifier_config"],
                           f"Unknown {notifier_type} notifier_config keys {unknown}; "
                           f"allowed: {sorted(allowed)}")
    missing = sorted(k for k in required if not config.get(k))
    if missing:
        raise InvalidValue(["notifier_config"],
                           f"The {notifier_type} notifier needs notifier_config {missing}")
    strings = ("url", "username", "password", "subject", "exchange")
    bad = [k for k in strings if k in config and not isinstance(config[k], str)]
    if "addresses" in config and (
            not isinstance(config["addresses"], list)
            or not all(isinstance(a, str) and a for a in config["addresses"])):
        bad.append("addresses")
    if bad:
        raise InvalidValue(["notifier_config"], f"Invalid notifier_config values: {bad}")
    if "url" in config and notifier_type == "http" and \
            not config["url"].startswith(("http://", "https://")):
        raise InvalidValue(["notifier_config"], "The http notifier's url must be http(s)://")
    return config


# -- emitting -----------------------------------------------------------------------------


def emit(platform, event_type: str, payload, task_id: str | None = None) -> None:
    """Queue ``event_type`` for every listener of it; never raises (the caller is a task
    whose outcome an event must not change). ``call_report`` is the task's report now."""
    try:
        listeners = platform.store.listeners_for(event_type)
        if listeners:
            _queue(platform, event_type, payload, _report(platform, task_id), listeners)
    except Exception:
        log.exception("could not queue event %s", event_type)


def task_completed(platform, task_id: str) -> None:
    """``task.finish`` for every task that ended, and ``task.error`` for those that failed.

    Runs after every task, so the listeners are read first, once for both events: without a
    listener of task events this costs one read and the task is not read at all."""
    try:
        listeners = platform.store.listeners_for("task.finish", "task.error")
        if not listeners:
            return
        status = platform.store.find_task(task_id, {"kwargs": 0})
        if status is None:
            return
        payload = {"task_id": task_id, "task_type": status.get("task_type"),
                   "state": status.get("state"), "tags": status.get("tags") or [],
                   "error": status.get("error")}
        report = rep.task(status, with_queue=True)
        events = ["task.finish"] + (["task.error"] if status.get("state") == "error" else [])
        for event_type in events:
            subscribed = [li for li in listeners
                          if {event_type, ALL_EVENTS} & set(li.get("event_types") or ())]
            if subscribed:
                _queue(platform, event_type, payload, report, subscribed)
    except Exception:
        log.exception("could not queue the events of task %s", task_id)


def _report(platform, task_id: str | None) -> dict | None:
    status = platform.store.find_task(task_id, {"kwargs": 0}) if task_id else None
    return rep.task(status, with_queue=True) if status else None


def _queue(platform, event_type: str, payload, report, listeners: list[dict]) -> None:
    """One delivery document and one job per listener."""
    body = json.dumps({"event_type": event_type, "payload": rep.jsonable(payload),
                       "call_report": report}, default=str)
    for listener in listeners:
        delivery_id = uuid.uuid4().hex
        platform.store.insert_delivery({
            "_id": delivery_id, "listener_id": listener["_id"], "event_type": event_type,
            "body": body, "state": "pending", "attempts": 0, "created": now(),
            "next_attempt": now(), "expire_at": None,
        })
        send_job(platform, DELIVER_JOB, {"delivery_id": delivery_id})


# -- delivering ---------------------------------------------------------------------------


@internal(DELIVER_JOB)
def deliver(platform, delivery_id: str) -> None:
    """One attempt at a delivery; on failure, the next one is queued after a back-off."""
    store = platform.store
    delivery = store.find_delivery(delivery_id)
    if delivery is None or delivery["state"] != "pending":
        return  # done already (a message sent twice), or its listener was deleted
    listener = store.find_listener(delivery["listener_id"])
    if listener is None:
        store.set_delivery_fields(delivery_id, {"state": "dropped"})
        return
    if not store.claim_delivery_attempt(delivery_id, delivery["attempts"]):
        return
    attempt = delivery["attempts"] + 1
    body = json.loads(delivery["body"])
    config = platform.secrets.open(listener.get("notifier_config") or {})
    error = None
    try:
        notifiers.SENDERS[listener["notifier_type_id"]](config, body, platform.settings)
    except Exception as exc:  # whatever went wrong is the delivery's, never the task's
        error = f"{type(exc).__name__}: {exc}"[:1000]
    moment = now()
    if error is None:
        state = "ok"
    elif attempt >= MAX_ATTEMPTS:
        state = "failed"
    else:
        state = "retrying"
    fields = {"last_error": error, "last_attempt": moment}
    if state == "retrying":
        delay = FIRST_RETRY_DELAY * 2 ** (attempt - 1)
        fields["next_attempt"] = moment + dt.timedelta(seconds=delay)
        store.set_delivery_fields(delivery_id, fields)
        send_job(platform, DELIVER_JOB, {"delivery_id": delivery_id}, countdown=delay)
    else:
        fields.update(state=state, expire_at=moment + KEEP_DELIVERIES)
        store.set_delivery_fields(delivery_id, fields)
    store.set_listener_fields(listener["_id"], {"last_delivery": {
        "event_type": delivery["event_type"], "status": state, "attempts": attempt,
        "error": error, "time": moment,
    }})


def resend_overdue(platform) -> None:
    """Queue again the deliveries whose job was lost (a worker died holding its message)."""
    for delivery in platform.store.overdue_deliveries(now() - OVERDUE_AFTER):
        platform.store.set_delivery_fields(delivery["_id"], {"next_attempt": now()})
        send_job(platform, DELIVER_JOB, {"delivery_id": delivery["_id"]})
    platform.store.delete_expired_deliveries(now())
