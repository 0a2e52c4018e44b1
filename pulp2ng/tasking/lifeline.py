"""A worker's own view of its heartbeats: after a lapse, its running tasks look at their
reservations (issue 22, faults 3 and 4).

Others declare a worker dead once its heartbeat is ``worker_timeout`` old (by the database's
clock, not counting time the judge itself could not read). So the worker watches its own
beats: once the last one that reached the database is older than ``tasks.self_cancel_after``
seconds (0: nine tenths of ``worker_timeout``), or a lapse happened since a task began (a
process paused by SIGSTOP wakes with both threads at once), the task reads its reservation
(:class:`~pulp2ng.tasking.runner.TaskContext`): handed on means the worker was declared dead
and the task cancels itself; still its own means the database was away for everyone and the
task runs on. The fence (:mod:`pulp2ng.db.fencing`) refuses a reaped task's writes either way.
"""

from __future__ import annotations

import threading
import time

_lock = threading.Lock()
#: Per worker name: [monotonic time of the last beat that reached the database, lapses].
_beats: dict[str, list] = {}


def self_cancel_after(settings) -> float:
    """Seconds without a heartbeat after which a worker cancels its own tasks."""
    value = settings.getfloat("tasks", "self_cancel_after")
    return value if value > 0 else settings.getfloat("tasks", "worker_timeout") * 0.9


def beat(name: str, limit: float, started: float) -> None:
    """Record a heartbeat of ``name`` that reached the database; it was sent at monotonic
    ``started`` (the database saw it no earlier). A gap longer than ``limit`` since the
    previous one counts as a lapse."""
    with _lock:
        entry = _beats.setdefault(name, [started, 0])
        if started - entry[0] > limit:
            entry[1] += 1
        entry[0] = max(entry[0], started)


def mark(name: str) -> int:
    """A running task's bookmark: the lapses seen so far (see :func:`lapsed`)."""
    with _lock:
        entry = _beats.get(name)
        return entry[1] if entry else 0


def lapsed(name: str, since_mark: int, limit: float) -> bool:
    """True when ``name`` went ``limit`` seconds without a heartbeat since ``since_mark``
    was taken, or is doing so now. A process that never beat (no worker) never lapses."""
    with _lock:
        entry = _beats.get(name)
        if entry is None:
            return False
        return entry[1] > since_mark or time.monotonic() - entry[0] > limit

