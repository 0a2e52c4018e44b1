"""Heartbeats and the reaping of silent workers.

Every worker, and the scheduler, writes ``workers {_id: name, last_heartbeat}`` every
``worker_timeout / 5`` seconds and then looks for workers silent longer than ``worker_timeout``.
Deleting the stale document is the atomic claim: only the process whose delete matched cleans
up, failing the dead worker's tasks and handing their resources on.

Heartbeats are stamped, and their ages measured, by the database's clock alone, so hosts
whose clocks disagree still agree on who is silent. A judge (:class:`HeartbeatJudge`) counts
only time it watched: after it could not read the database itself, every worker gets a fresh
``worker_timeout`` before it declares any dead (the workers were likely cut off too).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time

import pymongo

from pulp2ng.db.retry import no_retry
from pulp2ng.errors import WorkerLost
from pulp2ng.tasking import lifeline, registry, reservations
from pulp2ng.tasking.runner import finish

log = logging.getLogger(__name__)


def heartbeat(platform, name: str, role: str = "worker") -> None:
    sent = time.monotonic()
    platform.store.record_heartbeat(name, role, process_identity())
    # What this worker's own tasks go by to cancel themselves after a lapse (fault 3).
    lifeline.beat(name, lifeline.self_cancel_after(platform.settings), sent)


def default_worker_name() -> str:
    """``worker-<pid>@<host>``: unique among live workers without configuration (Celery's
    ``name@host`` node-name form, as Pulp 2's ``reserved_resource_worker-N@host``)."""
    return f"worker-{os.getpid()}@{socket.gethostname()}"


def process_identity() -> dict:
    """What tells, on the same machine, whether the process behind a worker name still runs:
    host name, PID namespace (containers sharing a host name) and PID."""
    try:
        pidns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        pidns = None
    return {"host": socket.gethostname(), "pidns": pidns, "pid": os.getpid()}


def _pid_alive(pid) -> bool:
    try:
        with open(f"/proc/{int(pid)}/stat") as fh:  # a zombie is as dead as a missing PID
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, ValueError, TypeError, IndexError):
        return False


def _holder_is_gone(holder: dict, me: dict) -> bool:
    """True only when the holder provably ran here and exited (e.g. a supervised restart);
    a holder on another host counts as alive until its heartbeat is ``worker_timeout`` old."""
    local = holder.get("host") == me["host"] and holder.get("pidns") == me["pidns"]
    return local and holder.get("pid") != me["pid"] and not _pid_alive(holder.get("pid"))


class WorkerNameInUse(SystemExit):
    """Another live process runs under this worker name."""


def claim_worker_name(platform, name: str, role: str = "worker") -> None:
    """Take ``name`` for this process, or raise :class:`WorkerNameInUse`.

    Two processes under one name would each take the other's tasks for a previous life's
    and fail them. A name is free when nobody beat under it for ``worker_timeout``, or when
    its holder ran on this machine and has exited. The take is a compare-and-set on the
    document as read, so of two processes starting together under one name only one wins.
    """
    timeout = platform.settings.getfloat("tasks", "worker_timeout")
    me = process_identity()
    for _ in range(3):  # the holder may be reaped or beat between our read and our write
        server_now = platform.store.server_time()
        holder = platform.store.live_worker(name, server_now - dt.timedelta(seconds=timeout))
        if holder is not None and not _holder_is_gone(holder, me):
            where = f"pid {holder.get('pid', '?')} on {holder.get('host', 'an unknown host')}"
            raise WorkerNameInUse(
                f"refusing to start {role} {name}: a live {holder.get('role', 'worker')} "
                f"({where}) holds that name (last heartbeat {holder['last_heartbeat']}); "
                f"give this one another --name, or stop that one (or wait {timeout:g} s "
                "after it died)")
        previous = holder or platform.store.find_worker(name)
        if platform.store.take_worker_name(
                name, previous, {"last_heartbeat": server_now, "role": role, **me}):
            return
    raise WorkerNameInUse(f"refusing to start {role} {name}: another process is taking "
                          "that name at the same time")


def live_workers(platform) -> list[dict]:
    timeout = platform.settings.getfloat("tasks", "worker_timeout")
    cutoff = platform.store.server_time() - dt.timedelta(seconds=timeout)
    return platform.store.workers_seen_since(cutoff)


class HeartbeatJudge:
    """Who may be declared dead, counting only the time this process itself watched.

    A judge that could not read the database (a failed round, or rounds further apart than
    its own ``interval`` plus ``worker_timeout / 3``, e.g. blocked on a partition) saw no
    heartbeats either: whatever it finds when it sees again may be the outage's doing. It
    then gives every worker a fresh ``worker_timeout`` (by the database's clock) before it
    declares any dead.
    """

    def __init__(self, timeout: float, interval: float):
        self.timeout = dt.timedelta(seconds=timeout)
        self.max_gap = interval + timeout / 3
        self._watching_since = None  # database time of the first read of this watch
        self._last_read = None       # time.monotonic() of the last successful read

    def blinded(self) -> None:
        """A round failed: this judge's watch is broken until it reads again."""
        self._watching_since = None

    def cutoff(self, server_now: dt.datetime) -> dt.datetime | None:
        """Heartbeats before the returned time are dead; None: nobody yet (still watching
        for less than ``worker_timeout`` since this judge last went blind)."""
        seen = time.monotonic()
        if self._last_read is None or seen - self._last_read > self.max_gap:
            self._watching_since = None
        self._last_read = seen
        if self._watching_since is None:
            self._watching_since = server_now
        cutoff = server_now - self.timeout
        return cutoff if cutoff >= self._watching_since else None


def reap_dead_workers(platform, judge: HeartbeatJudge | None = None) -> list[str]:
    """Fail the tasks of workers silent for ``worker_timeout``; returns the reaped names.

    Without a ``judge`` (a one-off call) the silence is measured from now alone."""
    timeout = platform.settings.getfloat("tasks", "worker_timeout")
    server_now = platform.store.server_time()
    cutoff = (judge.cutoff(server_now) if judge is not None
              else server_now - dt.timedelta(seconds=timeout))
    if cutoff is None:
        return []
    reaped = []
    for doc in platform.store.workers_silent_since(cutoff):
        if platform.store.claim_dead_worker(doc):
            fail_worker_tasks(platform, doc["_id"], f"missed heartbeats for {timeout:g} s")
            reaped.append(doc["_id"])
    return reaped


def fail_worker_tasks(platform, name: str, why: str) -> int:
    """End every incomplete task of worker ``name`` as ``error`` and release its resources."""
    store = platform.store
    count = 0
    for task in store.incomplete_worker_tasks(name):
        error = WorkerLost(f"Worker {name} terminated abnormally ({why}) while running "
                           f"task {task['_id']}", worker_name=name)
        if task.get("resource"):  # fence first: the task, if alive, can no longer write
            store.revoke_lease(task["resource"], task["_id"])
        if task["state"] == "waiting":  # received by the worker but not started yet
            store.mark_task_running(task["_id"])
        # History and scratch first, so a client that sees the task ``error`` sees them too.
        _record_lost_task(platform, task, error)
        platform.storage.drop_task_scratch(task["_id"])  # partial downloads, scratch
        finish(platform, task["_id"], {"state": "error", "error": error.to_dict()})
        if task.get("resource"):
            reservations.release(platform, task["resource"], task["_id"])
        registry.task_completed(platform, task["_id"])
        count += 1
    if count:
        log.warning("failed %d task(s) of worker %s: %s", count, name, why)
    return count


def fail_running_tasks(platform, why: str) -> int:
    """Fail every task a worker had taken (used when the database itself restarted)."""
    names = platform.store.busy_worker_names()
    return sum(fail_worker_tasks(platform, name, why) for name in names if name)


def _record_lost_task(platform, task: dict, error: WorkerLost) -> None:
    """What the task's type registered for a lost task: a sync or publish whose worker died
    still gets its ``error`` history entry (Pulp 2 writes one for every sync that ended,
    however it ended)."""
    record_lost = registry.lost_handler(task.get("task_type"))
    if record_lost is None:
        return
    try:
        record_lost(platform, task, error)
    except Exception:  # the task is failed either way; the history entry is best effort
        log.exception("could not record the history of lost task %s", task["_id"])


class Heartbeat(threading.Thread):
    """Background thread: heartbeat, then reap anybody silent. Stops with the process."""

    def __init__(self, platform, name: str, role: str = "worker"):
        super().__init__(name=f"heartbeat-{name}", daemon=True)
        self.platform, self.worker_name, self.role = platform, name, role
        timeout = platform.settings.getfloat("tasks", "worker_timeout")
        self.interval = timeout / 5
        self.judge = HeartbeatJudge(timeout, self.interval)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                # Bounded and never retried: a beat that cannot land now is simply late, and
                # a beat blocked on a dead database would hide the outage from the judge.
                # (Not the reaping: cut off halfway it would leave a claimed worker's tasks.)
                with no_retry(), pymongo.timeout(max(self.interval, 1.0)):
                    heartbeat(self.platform, self.worker_name, self.role)
                reap_dead_workers(self.platform, self.judge)
            except Exception as exc:  # the database may be briefly unreachable; try again
                if isinstance(exc, pymongo.errors.PyMongoError):
                    self.judge.blinded()
                log.exception("heartbeat of %s failed", self.worker_name)
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()
