"""Named platform task functions: the worker looks up a status document's ``task_type`` here.

The table is filled from above: the controllers register their functions with :func:`task`,
and :mod:`pulp2ng.task_types` (imported by every process through :mod:`pulp2ng.platform`)
imports them and hands in the controller callbacks the tasking core calls. Nothing under
``pulp2ng.tasking`` imports a controller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

_TASKS: dict[str, Callable] = {}
#: ``fn(platform, task, error)`` per task type, for a task whose worker died mid-task.
_ON_LOST: dict[str, Callable] = {}
#: ``fn(platform, schedule_id, succeeded)`` for each task that a schedule fired, once it ended.
_ON_SCHEDULED_OUTCOME: list[Callable] = []
#: ``fn(platform, task_id)`` for every task that reached a final state, however it got there.
_ON_TASK_COMPLETE: list[Callable] = []
#: Internal jobs: ``fn(platform, **kwargs)`` run from a Celery message without a task report.
_INTERNAL: dict[str, Callable] = {}


def task(name: str):
    """Register ``fn(ctx, **kwargs)`` as the task ``name`` (the report's ``task_type``)."""

    def decorator(fn: Callable) -> Callable:
        _TASKS[name] = fn
        fn.task_name = name
        return fn

    return decorator


def lookup(name: str) -> Callable:
    return _TASKS[name]


def on_lost(name: str, fn: Callable) -> None:
    """Call ``fn(platform, task, error)`` when a task ``name`` is failed because its worker died."""
    _ON_LOST[name] = fn


def lost_handler(name: str | None) -> Callable | None:
    return _ON_LOST.get(name)


def on_scheduled_outcome(fn: Callable) -> None:
    """Call ``fn(platform, schedule_id, succeeded)`` when a task fired by a schedule ends."""
    _ON_SCHEDULED_OUTCOME.append(fn)


def scheduled_outcome(platform, schedule_id: str, succeeded: bool) -> None:
    for fn in _ON_SCHEDULED_OUTCOME:
        fn(platform, schedule_id, succeeded)


def on_task_complete(fn: Callable) -> None:
    """Call ``fn(platform, task_id)`` once each task is complete (finished, error, canceled)."""
    _ON_TASK_COMPLETE.append(fn)


def task_completed(platform, task_id: str) -> None:
    """Run the completion callbacks; their failures are logged, never the task's."""
    for fn in _ON_TASK_COMPLETE:
        try:
            fn(platform, task_id)
        except Exception:
            log.exception("completion callback %s failed for task %s", fn.__name__, task_id)


def internal(name: str):
    """Register ``fn(platform, **kwargs)`` as the internal job ``name``: platform
    housekeeping (event deliveries) that must not show in ``tasks/`` nor take reservations."""

    def decorator(fn: Callable) -> Callable:
        _INTERNAL[name] = fn
        fn.job_name = name
        return fn

    return decorator


def internal_job(name: str) -> Callable | None:
    return _INTERNAL.get(name)
