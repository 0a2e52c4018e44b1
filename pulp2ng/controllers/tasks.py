"""Task statuses: read, search, cancel, purge."""

from __future__ import annotations

from pulp2ng.errors import InvalidTaskState, MissingResource, TaskPurgeForbidden
from pulp2ng.tasking import registry, reservations, tags
from pulp2ng.tasking.completion import completion_fields
from pulp2ng.tasking.agent import AGENT
from pulp2ng.tasking.dispatch import COMPLETE_STATES

PURGEABLE_STATES = ("finished", "error", "skipped")
HIDDEN = {"kwargs": 0}


def get_task(platform, task_id: str) -> dict:
    doc = platform.store.find_task(task_id, HIDDEN)
    if doc is None:
        raise MissingResource(task=task_id)
    return doc


def task_followers(platform, task_id: str) -> tuple[str | None, list[str]]:
    """Who may follow a task: the login that requested it and the repositories it is
    tagged with (``(None, [])`` for an unknown task)."""
    doc = platform.store.find_task(task_id, {"tags": 1, "requested_by": 1}) or {}
    prefix = tags.repository("")
    return doc.get("requested_by"), [t[len(prefix):] for t in doc.get("tags", ())
                                     if t.startswith(prefix)]


def record_requester(platform, task_ids: list[str], login: str) -> None:
    """Remember who asked for these tasks, so they may follow them after the repository
    (and with it their permissions on it) is gone."""
    platform.store.set_task_requester(task_ids, login)


def list_tasks(platform, tags: list[str]) -> list[dict]:
    return platform.store.list_tasks(tags, HIDDEN)


def search_tasks(platform, criteria) -> list[dict]:
    projection = criteria.projection
    if projection is not None:
        projection = {**projection, "_id": 1}
    return platform.store.search_tasks(criteria, projection or HIDDEN)


def cancel_task(platform, task_id: str) -> None:
    """Cancel a waiting task (it never runs) or ask a running one to stop cooperatively."""
    store = platform.store
    doc = get_task(platform, task_id)
    if doc["state"] in COMPLETE_STATES:
        return
    fields = completion_fields(platform.settings)
    # Waiting first: a task canceled before it ran is complete now (its worker never runs
    # it, so this is where its completion is reported); a running one reports it as it stops.
    if store.cancel_task(task_id, fields, ("waiting",)):
        if doc.get("resource"):
            # A waiting task that never got its message leaves the queue now; one that holds
            # the reservation releases it when its message arrives. Kick in case it was the
            # head.
            reservations.kick(platform, doc["resource"])
        registry.task_completed(platform, task_id)
        return
    if store.cancel_task(task_id, fields, ("running",)) and doc.get("worker_name") == AGENT:
        # No worker reports an agent request's end: it is complete now. The agent learns of
        # the cancel at its next heartbeat and stops its handler.
        registry.task_completed(platform, task_id)


def purge_tasks(platform, states: list[str]) -> int:
    if not states:
        raise TaskPurgeForbidden("Deleting tasks requires at least one state")
    bad = [s for s in states if s not in PURGEABLE_STATES]
    if bad:
        raise InvalidTaskState(f"Tasks in states {bad} cannot be purged", states=bad)
    return platform.store.purge_tasks(states)
