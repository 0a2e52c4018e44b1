"""``dispatch()``: the one way any part of pulp2ng starts asynchronous work."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from pulp2ng.db.store import now
from pulp2ng.errors import BrokerUnavailable
from pulp2ng.tasking import reservations

WAITING, RUNNING, FINISHED, ERROR, CANCELED, SKIPPED = (
    "waiting", "running", "finished", "error", "canceled", "skipped",
)
COMPLETE_STATES = (FINISHED, ERROR, CANCELED, SKIPPED)
INCOMPLETE_STATES = (WAITING, RUNNING)


@dataclass
class CallReport:
    """The body of every 202: the synchronous ``result`` plus the tasks that were queued.

    ``warnings`` (shown only when not empty) names what was accepted but will be ignored,
    such as unknown config keys."""

    result: object = None
    error: dict | None = None
    spawned_tasks: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class TaskResult:
    """What a task function may return to add a non-fatal error or spawned tasks."""

    result: object = None
    error: dict | None = None
    spawned_tasks: list[str] = field(default_factory=list)


def dispatch(platform, task_fn, *, tags: list[str], resource: str | None = None,
             kwargs: dict | None = None, scheduled_call_id: str | None = None,
             group_id: str | None = None) -> str:
    """Queue ``task_fn`` and return its task id.

    The status document is written before any message exists, so ``GET /tasks/<id>/``
    works at once. Tasks naming the same ``resource`` (``"repository:<id>"``) run one at a
    time in submission order; tasks without one run on any free worker.

    Args:
        platform (Platform): the process's platform.
        task_fn: a function registered with :func:`pulp2ng.tasking.registry.task`.
        tags (list[str]): ``pulp:<type>:<id>`` and ``pulp:action:<name>`` tags.
        resource (str): the reservation key, or None for unreserved tasks.
        kwargs (dict): JSON-serializable keyword arguments for ``task_fn``.
        scheduled_call_id (str): the schedule that fired this task, if any.
        group_id (str): the task group (a group call report's ``group_id``), if any.

    Returns:
        str: the new task id.

    Raises:
        BrokerUnavailable: the broker did not take the task's message (503); the task is
            deleted and its reservation released, so nothing is left waiting forever.
    """
    grouped = {"group_id": group_id} if group_id else {}
    task_id = insert_waiting_task(
        platform, task_fn.task_name, tags, resource=resource, **grouped,
        # Secrets in arguments (configs, overrides) are sealed: tasks outlive their call.
        kwargs=platform.secrets.seal(kwargs or {}), scheduled_call_id=scheduled_call_id)
    if resource is None:
        sent = reservations.send(platform, task_id)
    else:
        sent = reservations.kick(platform, resource)
    if not sent:
        _withdraw(platform, task_id)
    return task_id


def insert_waiting_task(platform, task_type: str, tags: list[str], resource: str | None = None,
                        worker_name: str | None = None, **fields) -> str:
    """Write a new ``waiting`` task status (every field a task report shows) and return its
    id; ``fields`` adds what its kind of task needs (``kwargs``, ``agent_request``…)."""
    store = platform.store
    task_id = str(uuid.uuid4())
    store.insert_task({
        **fields,
        "_id": task_id,
        "task_id": task_id,
        "task_type": task_type,
        "state": WAITING,
        "tags": list(tags),
        "resource": resource,
        "seq": store.next_sequence("task_seq"),
        "worker_name": worker_name,
        "queue": None,
        "created": now(),
        "start_time": None,
        "finish_time": None,
        "progress_report": {},
        "result": None,
        "error": None,
        "exception": None,
        "traceback": None,
        "spawned_tasks": [],
    })
    return task_id


def _withdraw(platform, task_id: str) -> None:
    """The broker refused a message: if it was ours (now ``error``, reservation released),
    delete the task the client will never hear of and answer 503. A task still waiting behind
    another one stays: it will be sent when the resource is released."""
    if platform.store.delete_unsent_task(task_id):
        raise BrokerUnavailable("The message broker is unavailable; the task was not queued")
