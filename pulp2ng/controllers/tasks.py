"""Task statuses: read, search, cancel, purge."""

from __future__ import annotations

from pulp2ng.errors import InvalidTaskState, MissingResource, TaskPurgeForbidden
from pulp2ng.tasking import reservations
from pulp2ng.tasking.completion import completion_fields
from pulp2ng.tasking.dispatch import COMPLETE_STATES

PURGEABLE_STATES = ("finished", "error", "skipped")
HIDDEN = {"kwargs": 0}


def get_task(platform, task_id: str) -> dict:
    doc = platform.store.tasks.find_one({"_id": task_id}, HIDDEN)
    if doc is None:
        raise MissingResource(task=task_id)
    return doc


def list_tasks(platform, tags: list[str]) -> list[dict]:
    query = {"tags": {"$all": tags}} if tags else {}
    return list(platform.store.tasks.find(query, HIDDEN).sort("seq", 1))


def search_tasks(platform, criteria) -> list[dict]:
    projection = criteria.projection
    if projection is not None:
        projection = {**projection, "_id": 1}
    cursor = platform.store.tasks.find(criteria.filters, projection or HIDDEN)
    return list(criteria.apply(cursor))


def cancel_task(platform, task_id: str) -> None:
    """Cancel a waiting task (it never runs) or ask a running one to stop cooperatively."""
    store = platform.store
    doc = get_task(platform, task_id)
    if doc["state"] in COMPLETE_STATES:
        return
    result = store.tasks.update_one(
        {"_id": task_id, "state": {"$in": ["waiting", "running"]}},
        {"$set": {"state": "canceled", **completion_fields(platform.settings)}},
    )
    if result.modified_count and doc["state"] == "waiting" and doc.get("resource"):
        # A waiting task that never got its message leaves the queue now; one that holds
        # the reservation releases it when its message arrives. Kick in case it was the head.
        reservations.kick(platform, doc["resource"])


def purge_tasks(platform, states: list[str]) -> int:
    if not states:
        raise TaskPurgeForbidden("Deleting tasks requires at least one state")
    bad = [s for s in states if s not in PURGEABLE_STATES]
    if bad:
        raise InvalidTaskState(f"Tasks in states {bad} cannot be purged", states=bad)
    return platform.store.tasks.delete_many({"state": {"$in": states}}).deleted_count
