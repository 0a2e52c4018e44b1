"""Sync schedules per importer and publish schedules per distributor.

A schedule is an ISO-8601 interval ``[R<n>/][<start>/]<duration>``. The scheduler claims a
due schedule with one atomic update (its ``next_run`` must still be the one it read), so
several schedulers never fire the same run twice; the claimed run goes through the normal
dispatch path. Task outcomes feed ``consecutive_failures``; reaching ``failure_threshold``
disables the schedule.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

from pulp2ng import representations as rep
from pulp2ng.db.store import UTC, now
from pulp2ng.errors import InvalidValue, MissingResource

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


def _owner(platform, repo_id, kind, owner_id) -> dict:
    platform.store.get_repository(repo_id)
    if kind == "sync":
        platform.store.get_importer(repo_id, owner_id)
        return {"repo_id": repo_id, "kind": "sync", "importer_type_id": owner_id}
    platform.store.get_distributor(repo_id, owner_id)
    return {"repo_id": repo_id, "kind": "publish", "distributor_id": owner_id}


def _validate_fields(body: dict) -> dict:
    fields = {}
    if "schedule" in body:
        parse_interval(body["schedule"])
        fields["schedule"] = body["schedule"]
    if "override_config" in body:
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


def create_schedule(platform, repo_id, kind, owner_id, body: dict) -> dict:
    owner = _owner(platform, repo_id, kind, owner_id)
    fields = _validate_fields(body)
    if "override_config" in fields:  # kept for every run: secrets sealed
        fields["override_config"] = platform.secrets.seal(fields["override_config"])
    interval, start, runs = parse_interval(fields["schedule"])
    created = now()
    first_run = start or created
    doc = {
        "_id": uuid.uuid4().hex, **owner, "override_config": {}, "failure_threshold": None,
        "enabled": True, **fields, "consecutive_failures": 0, "remaining_runs": runs,
        "first_run": first_run, "next_run": _next_after(first_run, interval, created)
        if start and start < created else first_run,
        "last_run_at": None, "total_run_count": 0, "last_updated": created.timestamp(),
    }
    platform.store.insert_schedule(doc)
    return doc


def list_schedules(platform, repo_id, kind, owner_id) -> list[dict]:
    owner = _owner(platform, repo_id, kind, owner_id)
    return platform.store.list_schedules(owner)


def get_schedule(platform, repo_id, kind, owner_id, schedule_id) -> dict:
    owner = _owner(platform, repo_id, kind, owner_id)
    doc = platform.store.find_schedule(schedule_id, owner)
    if doc is None:
        raise MissingResource(schedule=schedule_id)
    return doc


def update_schedule(platform, repo_id, kind, owner_id, schedule_id, body: dict) -> dict:
    doc = get_schedule(platform, repo_id, kind, owner_id, schedule_id)
    fields = _validate_fields(body)
    if "override_config" in fields:  # kept for every run: secrets sealed
        fields["override_config"] = platform.secrets.seal(fields["override_config"])
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


def delete_schedule(platform, repo_id, kind, owner_id, schedule_id) -> None:
    doc = get_schedule(platform, repo_id, kind, owner_id, schedule_id)
    platform.store.delete_schedule(doc["_id"])


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
            if doc["kind"] == "sync":
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
