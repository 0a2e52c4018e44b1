"""A worker's own view of its heartbeats: a worker that could not beat for a while cancels
its running tasks (issue 22, fault 3).

Others declare a worker dead once its heartbeat is ``worker_timeout`` old; by then its tasks
must have stopped. So the worker watches its own beats: once the last one that reached the
database is older than ``tasks.self_cancel_after`` seconds (0: nine tenths of ``worker_timeout``),
every task it is running is canceled cooperatively (``TaskContext.canceled`` turns true, no
database read needed), and a task that ran through such a lapse stays canceled even when
the beats resumed before it looked (a process paused by SIGSTOP wakes with both threads at
once). The fence (:mod:`pulp2ng.db.fencing`) still decides whether the canceled task's
last writes land: they do if it kept its reservation, they are refused if it was reaped.

A lapse caused by a database outage everybody sees cancels tasks too: the worker cannot
tell the two apart, so keep ``self_cancel_after`` above the outages tasks should outlive.
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

