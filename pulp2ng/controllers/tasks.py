"""Task statuses: read, search, cancel, purge; task groups: list, summarize, cancel."""

from __future__ import annotations

from pulp2ng.errors import InvalidTaskState, MissingResource, TaskPurgeForbidden
from pulp2ng.tasking import registry, reservations, tags
from pulp2ng.tasking.completion import completion_fields
from pulp2ng.tasking.agent import AGENT
from pulp2ng.tasking.dispatch import COMPLETE_STATES

PURGEABLE_STATES = ("finished", "error", "skipped")
HIDDEN = {"kwargs": 0}
_FOLLOW = {"tags": 1, "requested_by": 1}


def get_task(platform, task_id: str) -> dict:
    doc = platform.store.find_task(task_id, HIDDEN)
    if doc is None:
        raise MissingResource(task=task_id)
    return doc


def task_followers(platform, task_id: str) -> tuple[str | None, list[str]]:
    """Who may follow a task: the login that requested it and the repositories it is
    tagged with (``(None, [])`` for an unknown task)."""
    return _followers(platform.store.find_task(task_id, _FOLLOW) or {})


def group_followers(platform, group_id: str) -> list[tuple[str | None, list[str]]]:
    """:func:`task_followers` of every task of a group (``[]`` for an unknown group)."""
    return [_followers(doc) for doc in platform.store.group_tasks(group_id, _FOLLOW)]


def _followers(doc: dict) -> tuple[str | None, list[str]]:
    prefix = tags.repository("")
    return doc.get("requested_by"), [t[len(prefix):] for t in doc.get("tags", ())
                                     if t.startswith(prefix)]


def record_requester(platform, task_ids: list[str], login: str) -> None:
    """Remember who asked for these tasks, so they may follow them after the repository
    (and with it their permissions on it) is gone."""
    platform.store.set_task_requester(task_ids, login)


def record_group_requester(platform, group_id: str, login: str) -> None:
    """:func:`record_requester` for every task of a group (a group call report names no
    task)."""
    platform.store.set_group_requester(group_id, login)


def list_tasks(platform, tags: list[str]) -> list[dict]:
    return platform.store.list_tasks(tags, HIDDEN)


def search_tasks(platform, criteria) -> list[dict]:
    projection = criteria.projection
    if projection is not None:
        projection = {**projection, "_id": 1}
    return platform.store.search_tasks(criteria, projection or HIDDEN)


def cancel_task(platform, task_id: str) -> None:
    """Cancel a waiting task (it never runs) or ask a running one to stop cooperatively."""
    _cancel(platform, get_task(platform, task_id))


def _cancel(platform, doc: dict) -> None:
    store = platform.store
    task_id = doc["_id"]
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


def group_tasks(platform, group_id: str, projection=None) -> list[dict]:
    """``GET task_groups/<group_id>/``: the group's tasks in queue order.

    Pulp 2 answered this path with 404 whatever the group (a known bug, although a group
    call report's ``_href`` points here); pulp2ng answers with the group's task reports.
    A group no task carries is unknown (404 PLP0009)."""
    docs = platform.store.group_tasks(group_id, projection or HIDDEN)
    if not docs:
        raise MissingResource(task_group=group_id)
    return docs


def group_state_counts(platform, group_id: str) -> dict[str, int]:
    """How many of a group's tasks are in each state (only states that occur)."""
    counts: dict[str, int] = {}
    for doc in group_tasks(platform, group_id, {"state": 1}):
        counts[doc.get("state")] = counts.get(doc.get("state"), 0) + 1
    return counts


def cancel_group(platform, group_id: str) -> None:
    """``DELETE task_groups/<group_id>/``: cancel every task of the group as
    ``DELETE tasks/<id>/`` would (completed ones are left alone)."""
    for doc in group_tasks(platform, group_id, {"state": 1, "resource": 1}):
        _cancel(platform, doc)


def purge_tasks(platform, states: list[str]) -> int:
    if not states:
        raise TaskPurgeForbidden("Deleting tasks requires at least one state")
    bad = [s for s in states if s not in PURGEABLE_STATES]
    if bad:
        raise InvalidTaskState(f"Tasks in states {bad} cannot be purged", states=bad)
    return platform.store.purge_tasks(states)
