"""Sync schedules per importer, publish schedules per distributor, and content action
schedules (install, update, uninstall) per consumer: one mechanism for all three.

A schedule is an ISO-8601 interval ``[R<n>/][<start>/]<duration>``. The scheduler claims a
due schedule with one atomic update (its ``next_run`` must still be the one it read), so
several schedulers never fire the same run twice; the claimed run goes through the normal
dispatch path (a content action: the same agent request as the API's). Task outcomes (an
agent request's: the agent's result) feed ``consecutive_failures``; reaching
``failure_threshold`` disables the schedule.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

from pulp2ng import representations as rep
from pulp2ng.controllers.bindings import (
    CONTENT_ACTIONS,
    check_options,
    check_units,
    request_content_action,
)
from pulp2ng.controllers.consumers import get_consumer
from pulp2ng.db.store import UTC, now
from pulp2ng.errors import InvalidValue, MissingResource, MissingValue

_DURATION = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_interval(text: str) -> tuple[dt.timedelta, dt.datetime | None, int | None]:
    """``R5/2015-01-01T00:00:00Z/PT6H`` → (6 h, start, 5). Raises InvalidValue."""
    if not isinstance(text, str) or not text:
        raise InvalidValue(["schedule"], "schedule must be an ISO-8601 interval")
    parts = text.split("/")
    if len(parts) > 3:
        raise InvalidValue(["schedule"], f"Invalid schedule {text!r}")
    runs = None
    if parts[0].startswith("R"):
        count = parts.pop(0)[1:]
        if not count.isdigit() or int(count) < 1:
            raise InvalidValue(["schedule"], f"Invalid repetition in {text!r}")
        runs = int(count)
    start = None
    if len(parts) == 2:
        try:
            start = dt.datetime.fromisoformat(parts.pop(0).replace("Z", "+00:00"))
        except ValueError:
            raise InvalidValue(["schedule"], f"Invalid start time in {text!r}") from None
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
    if len(parts) != 1:
        raise InvalidValue(["schedule"], f"Invalid schedule {text!r}")
    match = _DURATION.match(parts[0])
    if not match or parts[0] in ("P", "PT"):
        raise InvalidValue(["schedule"], f"Invalid duration in {text!r}")
    v = {k: float(x) if x else 0.0 for k, x in match.groupdict().items()}
    interval = dt.timedelta(days=v["years"] * 365 + v["months"] * 30 + v["weeks"] * 7
                            + v["days"], hours=v["hours"], minutes=v["minutes"],
                            seconds=v["seconds"])
    if interval <= dt.timedelta(0):
        raise InvalidValue(["schedule"], "the schedule's duration must be positive")
    return interval, start, runs


def _next_after(first_run: dt.datetime, interval: dt.timedelta, moment: dt.datetime):
    """The first boundary ``first_run + k·interval`` strictly after ``moment``."""
    if moment < first_run:
        return first_run
    steps = int((moment - first_run) / interval) + 1
    return first_run + steps * interval


# -- API --------------------------------------------------------------------------------------
#
# Every function takes the schedule's ``owner``: the fields that tie it to an importer, a
# distributor or a consumer's content action (from :func:`repository_owner` or
# :func:`consumer_owner`, which raise MissingResource for an unknown one).


def repository_owner(platform, repo_id, kind, owner_id) -> dict:
    """The owner of a sync (``owner_id``: importer type) or publish (distributor) schedule."""
    platform.store.get_repository(repo_id)
    if kind == "sync":
        platform.store.get_importer(repo_id, owner_id)
        return {"repo_id": repo_id, "kind": "sync", "importer_type_id": owner_id}
    platform.store.get_distributor(repo_id, owner_id)
    return {"repo_id": repo_id, "kind": "publish", "distributor_id": owner_id}


def consumer_owner(platform, consumer_id, action) -> dict:
    """The owner of a schedule of ``install``/``update``/``uninstall`` on a consumer."""
    if action not in CONTENT_ACTIONS:
        raise MissingResource(action=action)
    get_consumer(platform, consumer_id)
    return {"consumer_id": consumer_id, "kind": "content", "action": action}


def _validate_fields(body: dict, kind: str) -> dict:
    fields = {}
    if "schedule" in body:
        parse_interval(body["schedule"])
        fields["schedule"] = body["schedule"]
    if kind == "content":
        if "units" in body:
            fields["units"] = check_units(body["units"])
        if "options" in body:
            fields["options"] = check_options(body["options"] or {})
    elif "override_config" in body:
        if body["override_config"] is not None and not isinstance(body["override_config"], dict):
            raise InvalidValue(["override_config"], "override_config must be an object")
        fields["override_config"] = body["override_config"] or {}
    if "failure_threshold" in body:
        value = body["failure_threshold"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise InvalidValue(["failure_threshold"], "failure_threshold must be a positive int")
        fields["failure_threshold"] = value
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            raise InvalidValue(["enabled"], "enabled must be a boolean")
        fields["enabled"] = body["enabled"]
    return fields


def create_schedule(platform, owner: dict, body: dict) -> dict:
    body = body if isinstance(body, dict) else {}
    missing = [k for k in ("schedule", *(("units",) if owner["kind"] == "content" else ()))
               if k not in body]
    if missing:
        raise MissingValue(missing)
    fields = _validate_fields(body, owner["kind"])
    interval, start, runs = parse_interval(fields["schedule"])
    created = now()
    first_run = start or created
    defaults = {"units": [], "options": {}} if owner["kind"] == "content" else \
        {"override_config": {}}
    doc = {
        "_id": uuid.uuid4().hex, **owner, **defaults, "failure_threshold": None,
        "enabled": True, **_sealed(platform, fields), "consecutive_failures": 0,
        "remaining_runs": runs, "first_run": first_run,
        "next_run": _next_after(first_run, interval, created)
        if start and start < created else first_run,
        "last_run_at": None, "total_run_count": 0, "last_updated": created.timestamp(),
    }
    platform.store.insert_schedule(doc)
    return doc


def list_schedules(platform, owner: dict) -> list[dict]:
    return platform.store.list_schedules(owner)


def get_schedule(platform, owner: dict, schedule_id) -> dict:
    doc = platform.store.find_schedule(schedule_id, owner)
    if doc is None:
        raise MissingResource(schedule=schedule_id)
    return doc


def update_schedule(platform, owner: dict, schedule_id, body: dict) -> dict:
    doc = get_schedule(platform, owner, schedule_id)
    fields = _sealed(platform, _validate_fields(body if isinstance(body, dict) else {},
                                                owner["kind"]))
    if "schedule" in fields:
        interval, start, runs = parse_interval(fields["schedule"])
        first_run = start or now()
        fields.update(first_run=first_run, remaining_runs=runs,
                      next_run=_next_after(first_run, interval, now()) if start else first_run)
    if fields.get("enabled"):
        fields["consecutive_failures"] = 0
    fields["last_updated"] = now().timestamp()
    platform.store.set_schedule_fields(doc["_id"], fields)
    return platform.store.find_schedule(doc["_id"])


def delete_schedule(platform, owner: dict, schedule_id) -> None:
    doc = get_schedule(platform, owner, schedule_id)
    platform.store.delete_schedule(doc["_id"])


def _sealed(platform, fields: dict) -> dict:
    """Kept for every run: the secrets of overrides and of a content action's options are
    sealed (the agent receives its request's options opened)."""
    for name in ("override_config", "options"):
        if name in fields:
            fields[name] = platform.secrets.seal(fields[name])
    return fields


representation = rep.schedule  # the JSON shape lives in pulp2ng.representations


# -- firing -----------------------------------------------------------------------------------


def fire_due(platform) -> list[str]:
    """Dispatch every due, enabled schedule once; returns the task ids."""
    from pulp2ng.controllers.sync import queue_publish, queue_sync

    fired = []
    moment = now()
    for doc in platform.store.due_schedules(moment):
        interval, _, _ = parse_interval(doc["schedule"])
        remaining = doc.get("remaining_runs")
        changes = {
            "next_run": _next_after(doc["first_run"], interval, moment),
            "last_run_at": moment,
        }
        if remaining is not None:
            changes["remaining_runs"] = remaining - 1
            if remaining - 1 <= 0:
                changes["enabled"] = False
        if not platform.store.claim_schedule_run(doc, changes):
            continue  # another scheduler fired it
        try:
            if doc["kind"] == "content":
                get_consumer(platform, doc["consumer_id"])  # unregistered meanwhile: dropped
                fired.append(request_content_action(
                    platform, doc["consumer_id"], doc["action"], doc.get("units") or [],
                    platform.secrets.open(doc.get("options") or {}),
                    scheduled_call_id=doc["_id"]))
            elif doc["kind"] == "sync":
                fired.append(queue_sync(platform, doc["repo_id"], doc.get("override_config"),
                                        scheduled_call_id=doc["_id"]))
            else:
                fired.append(queue_publish(platform, doc["repo_id"], doc["distributor_id"],
                                           doc.get("override_config"),
                                           scheduled_call_id=doc["_id"]))
        except MissingResource:
            platform.store.delete_schedule(doc["_id"])
    return fired


def record_outcome(platform, schedule_id: str, succeeded: bool) -> None:
    """Reset or count consecutive failures; disable at ``failure_threshold``."""
    store = platform.store
    if succeeded:
        store.reset_schedule_failures(schedule_id)
        return
    doc = store.count_schedule_failure(schedule_id)
    if doc and doc.get("failure_threshold") and (
            doc["consecutive_failures"] >= doc["failure_threshold"]):
        store.disable_schedule(schedule_id)
