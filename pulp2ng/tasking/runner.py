"""Running one task inside a worker: the status lifecycle around a registered function."""

from __future__ import annotations

import logging
import threading
import time
import traceback

from kombu.exceptions import OperationalError as BrokerOperationalError
from pymongo.errors import ConnectionFailure

from pulp2ng.db import fencing
from pulp2ng.db.store import now
from pulp2ng.errors import (
    BrokerUnavailable, DatabaseUnavailable, Fenced, PulpError, ServiceUnavailable, TaskCanceled,
)
from pulp2ng.tasking import lifeline, registry, reservations
from pulp2ng.tasking.completion import completion_fields
from pulp2ng.tasking.dispatch import TaskResult

log = logging.getLogger(__name__)

#: How often a running task re-reads its state to notice a cancel, at most.
CANCEL_CHECK_INTERVAL = 0.25
#: How often live progress is written to the status document, at most.
PROGRESS_INTERVAL = 0.25


class TaskContext:
    """What a task function gets besides its kwargs: the platform and its own status."""

    def __init__(self, platform, status: dict, worker_name: str | None = None):
        self.platform = platform
        self.task_id = status["_id"]
        self.tags = status["tags"]
        self.scheduled_call_id = status.get("scheduled_call_id")
        self._worker_name = worker_name or platform.worker_name
        self._lapse_mark = lifeline.mark(self._worker_name)
        self._lapse_limit = lifeline.self_cancel_after(platform.settings)
        self._canceled = False
        self._checked_at = 0.0
        self._progress: dict = {}
        self._progress_written_at = 0.0
        self._lock = threading.Lock()

    @property
    def canceled(self) -> bool:
        """True once a client canceled this task (re-read at most every 250 ms), or once its
        worker went too long without a heartbeat (:mod:`pulp2ng.tasking.lifeline`)."""
        if not self._canceled and lifeline.lapsed(self._worker_name, self._lapse_mark,
                                                  self._lapse_limit):
            # The worker could not heartbeat for a while: cut off, or the database was away
            # for everyone. Its reservation tells which (the read waits out an outage): handed
            # on means the worker was declared dead, so the task stops; still its own means the
            # judges were blind too (issue 22, faults 3 and 4), so it rides the lapse out.
            try:
                fencing.check(self.platform.store.reservations)
                self._lapse_mark = lifeline.mark(self._worker_name)
            except Fenced:
                log.warning("task %s cancels itself: worker %s could not heartbeat for %g s "
                            "and was declared dead", self.task_id, self._worker_name,
                            self._lapse_limit)
                self._canceled = True
        if not self._canceled and time.monotonic() - self._checked_at > CANCEL_CHECK_INTERVAL:
            self._checked_at = time.monotonic()
            doc = self.platform.store.find_task(self.task_id, {"state": 1})
            self._canceled = doc is None or doc["state"] == "canceled"
        return self._canceled

    def check_canceled(self) -> None:
        """Raise TaskCanceled if the task was canceled; call between units of work."""
        if self.canceled:
            raise TaskCanceled()

    def set_progress(self, report_id: str, report: dict, force: bool = False) -> None:
        """Publish live progress under ``progress_report[report_id]`` (throttled)."""
        with self._lock:
            self._progress[report_id] = report
            if not force and time.monotonic() - self._progress_written_at < PROGRESS_INTERVAL:
                return
        self.flush_progress()

    def flush_progress(self) -> None:
        """Write the latest progress now (at the end of a step, so nothing is left stale)."""
        with self._lock:
            self._progress_written_at = time.monotonic()
            snapshot = dict(self._progress)
        if snapshot:
            self.platform.store.set_task_progress(self.task_id, snapshot)


def run_task(platform, task_id: str, worker_name: str | None = None) -> None:
    """Run a waiting task once; a canceled or already started task is not run again."""
    store = platform.store
    worker_name = worker_name or platform.worker_name
    # A compare-and-set (see Store.start_task for the query shape SecantusDB needs).
    status = store.start_task(task_id, {
        "start_time": now(),
        "worker_name": worker_name,
        "queue": f"{worker_name}.dq",
    })
    if status is None:
        _skip(platform, task_id)
        return
    # Every repository write of this task is conditional on this lease (pulp2ng.db.fencing).
    lease = fencing.take_lease(store, status["resource"], task_id) if status.get(
        "resource") else None
    fence = fencing.activate(lease)
    try:
        if lease is not None and lease.lost:  # failed by a reaper before it could start
            fencing.check(store.reservations)
        _run(platform, status, worker_name)
    except Fenced:
        # Reaped meanwhile: the reaper ended the task and passed the reservation on; this
        # late run writes nothing more (no final state, no release, no callbacks).
        log.warning("task %s ended without writing: its worker %s was declared dead and "
                    "the task failed", task_id, worker_name)
        platform.storage.drop_task_scratch(task_id)
    finally:
        fencing.deactivate(fence)


def _run(platform, status: dict, worker_name: str) -> None:
    task_id = status["_id"]
    ctx = TaskContext(platform, status, worker_name)
    update: dict
    try:
        fn = registry.lookup(status["task_type"])
        outcome = fn(ctx, **platform.secrets.open(status["kwargs"]))
        if not isinstance(outcome, TaskResult):
            outcome = TaskResult(result=outcome)
        update = {
            "state": "finished",
            "result": outcome.result,
            "error": outcome.error,
            "spawned_tasks": outcome.spawned_tasks,
        }
    except TaskCanceled:
        update = {"state": "canceled"}
    except Fenced:
        raise
    except Exception as exc:  # every failure ends in the status document, never lost
        exc = as_service_error(exc)
        if not isinstance(exc, PulpError):
            log.exception("task %s (%s) failed", task_id, status["task_type"])
        error = exc.to_dict() if isinstance(exc, PulpError) else {
            "code": "PLP0000", "description": str(exc) or repr(exc), "data": {},
            "sub_errors": [],
        }
        update = {
            "state": "error",
            "error": error,
            "traceback": traceback.format_exc(),
            "spawned_tasks": getattr(exc, "spawned_tasks", []),
        }
    # a reaped task must not end as it ran (Fenced); both wait out an outage
    _until_written(fencing.check, platform.store.reservations)
    _until_written(finish, platform, task_id, update)
    platform.storage.drop_task_scratch(task_id)
    if status.get("scheduled_call_id"):
        _until_written(registry.scheduled_outcome, platform, status["scheduled_call_id"],
                       update["state"] == "finished")
    if status.get("resource"):
        _until_written(reservations.release, platform, status["resource"], task_id)
    _until_written(registry.task_completed, platform, task_id)


#: Pause between tries of a task's final bookkeeping while the database stays away.
SETTLE_PAUSE = 1.0


def _until_written(fn, *args) -> None:
    """A task's outcome, and the hand-over of its resource, must not be lost to an outage
    longer than the retry window (the task would stay ``running`` and its resource held for
    ever): tried until the database answers. Each write is conditional or idempotent."""
    while True:
        try:
            fn(*args)
            return
        except ConnectionFailure as exc:
            log.warning("database still unreachable (%s); retrying %s", exc, fn.__name__)
            time.sleep(SETTLE_PAUSE)


def as_service_error(exc: Exception) -> Exception:
    """A database or broker error that outlasted the retry window, however deep a plugin
    wrapped it, reported as what it is (PLP0080 naming the service), not as the plugin's
    failure (a sync would otherwise say a file failed to download)."""
    seen = exc
    while seen is not None:
        if isinstance(seen, ServiceUnavailable):
            return seen
        if isinstance(seen, ConnectionFailure):
            return DatabaseUnavailable(f"Database error: {seen}")
        if isinstance(seen, BrokerOperationalError):
            return BrokerUnavailable(f"Message broker error: {seen}")
        seen = seen.__cause__ or seen.__context__
    return exc


def finish(platform, task_id: str, update: dict) -> None:
    """Write the final state unless the task is already complete (a cancel sticks)."""
    update = dict(update, **completion_fields(platform.settings))
    platform.store.finish_task(task_id, update)


def _skip(platform, task_id: str) -> None:
    """A message for a task that is not waiting: canceled before it ran, or a redelivery."""
    status = platform.store.find_task(task_id, {"state": 1, "resource": 1})
    if status is None:
        return
    # A canceled task still holds its reservation: pass it on. A ``running`` one belongs to
    # another (possibly dead) worker, whose reaper releases it.
    if status["state"] != "running" and status.get("resource"):
        reservations.release(platform, status["resource"], task_id)
