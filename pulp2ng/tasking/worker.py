"""``pulp2ng worker``: a Celery worker with pulp2ng's heartbeat and crash cleanup."""

from __future__ import annotations

import logging

from celery import signals

from pulp2ng.lifecycle import exit_after
from pulp2ng.logconfig import debug_enabled
from pulp2ng.platform import Platform
from pulp2ng.tasking.workers import (
    Heartbeat, WorkerNameInUse, claim_worker_name, fail_worker_tasks, heartbeat,
)

log = logging.getLogger(__name__)
#: Seconds a stopping worker may spend finishing its task before it exits regardless.
STOP_GRACE = 3.0


def _quiet_celery_console() -> None:
    """Celery writes shutdown notices straight to the terminal, past logging; keep them for
    DEBUG (it runs in a signal handler, so no logging call here)."""
    from celery.apps import worker as celery_worker

    if not debug_enabled():
        celery_worker.safe_say = lambda *args, **kwargs: None


def run_worker(settings, name: str) -> int:
    _quiet_celery_console()
    platform = Platform.from_settings(settings, worker_name=name, runs_tasks=True)
    platform.prepare_database()
    try:  # before anything below: it would fail a live namesake's tasks as its own
        claim_worker_name(platform, name)
    except WorkerNameInUse as exc:
        log.error("%s", exc)
        return 1
    # A worker restarting after a crash fails what its previous life left running.
    fail_worker_tasks(platform, name, "the worker restarted")
    heartbeat(platform, name)
    beat = Heartbeat(platform, name)
    beat.start()

    @signals.task_received.connect(weak=False)
    def claim(request=None, **_):
        # Recorded as soon as the message leaves the broker, so the reaper can fail the task
        # if this worker dies before it starts. Internal jobs have no task to claim.
        if request.name == "pulp2ng.execute":
            platform.store.claim_received_task(request.id, name)

    @signals.worker_ready.connect(weak=False)
    def ready(**_):
        log.warning("pulp2ng worker ready: %s", name)

    @signals.worker_shutting_down.connect(weak=False)
    def bounded_stop(**_):
        # Celery's warm shutdown waits for the running task however long it takes.
        exit_after(STOP_GRACE, f"worker {name}")

    concurrency = settings.getint("tasks", "concurrency")
    try:
        platform.celery.worker_main([
            *([] if debug_enabled() else ["--quiet"]),  # no ASCII banner on the console
            "worker", "--pool", "threads", "--concurrency", str(concurrency),
            "--hostname", name, "--queues", settings.get("broker", "queue"), "--loglevel", "WARNING",
            "--without-mingle", "--without-gossip", "--without-heartbeat",
        ])
    finally:
        beat.stop()
        platform.store.delete_worker(name)
    return 0
