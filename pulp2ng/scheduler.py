"""``pulp2ng scheduler``: fires due schedules, reaps dead workers, purges expired documents."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time

from pymongo.errors import PyMongoError

from pulp2ng.controllers import agent_requests, events, schedules, uploads
from pulp2ng.db.store import now
from pulp2ng.lifecycle import exit_after
from pulp2ng.platform import Platform
from pulp2ng.tasking import reservations
from pulp2ng.tasking.workers import HeartbeatJudge, heartbeat, reap_dead_workers

log = logging.getLogger(__name__)
TICK = 1.0
#: History is kept for days, so sweeping it hourly is plenty (a scan per tick is not).
HISTORY_SWEEP_EVERY = 3600.0
_next_history_sweep = 0.0


def tick(platform, name: str, judge: HeartbeatJudge | None = None) -> None:
    """One scheduler pass; every step is safe to run from several schedulers at once.

    ``judge`` carries what this scheduler saw of the workers from one pass to the next."""
    heartbeat(platform, name, role="scheduler")
    reap_dead_workers(platform, judge)
    reservations.heal(platform)
    schedules.fire_due(platform)
    agent_requests.expire_leases(platform)  # agents killed mid-request: their tasks fail
    # TTL indexes do this on MongoDB; doing it here too keeps servers without TTL honest.
    platform.store.delete_expired_tasks(now())
    global _next_history_sweep
    if time.monotonic() >= _next_history_sweep:
        _next_history_sweep = time.monotonic() + HISTORY_SWEEP_EVERY
        purge_history(platform)
        sweep_scratch(platform)
    uploads.expire_uploads(platform)
    events.resend_overdue(platform)


def purge_history(platform) -> None:
    """Drop sync and publish history older than ``tasks.history_retention_days``."""
    days = platform.settings.getint("tasks", "history_retention_days")
    cutoff = now() - dt.timedelta(days=days)
    platform.store.purge_history_before(cutoff)


#: Scratch younger than this is never swept, whatever the clocks of other hosts say.
SCRATCH_MIN_AGE = 3600.0


def sweep_scratch(platform) -> None:
    """Delete scratch files no running task can own: older than every running task.

    Only tasks write to ``tmp/`` and ``working/``, and a task's files are newer than its
    start, so anything older than the oldest running task was left by one that died.
    """
    cutoff = time.time() - SCRATCH_MIN_AGE
    for task in platform.store.running_task_starts():
        if task.get("start_time"):
            cutoff = min(cutoff, task["start_time"].timestamp())
    removed = platform.storage.sweep_scratch(cutoff)
    if removed:
        log.warning("swept %d scratch file(s) left by tasks that died", removed)


def run_scheduler(settings, name: str) -> int:
    platform = Platform.from_settings(settings, worker_name=name)
    platform.prepare_database()
    stop = threading.Event()

    def on_signal(*_):
        if not stop.is_set():
            stop.set()
            exit_after(3.0, name)  # a tick blocked on a dead database must not hold the stop

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    judge = HeartbeatJudge(settings.getfloat("tasks", "worker_timeout"), TICK)
    while not stop.is_set():
        try:
            tick(platform, name, judge)
        except Exception as exc:  # keep scheduling through transient database errors
            if isinstance(exc, PyMongoError):  # it may not have seen the workers' beats
                judge.blinded()
            log.exception("scheduler tick failed")
        stop.wait(TICK)
    platform.store.delete_worker(name)
    return 0
