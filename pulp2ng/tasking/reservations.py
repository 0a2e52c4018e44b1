"""Per-resource FIFO reservations in MongoDB, safe across processes and hosts.

A reservation is a document ``{_id: resource, task_id}``: the unique ``_id`` makes taking a
resource an atomic insert. :func:`kick` gives a free resource to its oldest waiting task and
sends that task's message; :func:`release` hands the reservation to the next waiting task, or
deletes it and looks once more. Every change that could start a task (a dispatch, a release)
ends with a kick or a hand-over, and a kick that finds the resource held stops, because the
holder will look again when it releases: no wake-up is lost and nothing polls.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from kombu.exceptions import OperationalError as BrokerOperationalError

from pulp2ng.db.errors import DuplicateKeyError, PyMongoError
from pulp2ng.db.store import now
from pulp2ng.errors import BrokerUnavailable
from pulp2ng.tasking.completion import completion_fields

log = logging.getLogger(__name__)


def kick(platform, resource: str) -> bool:
    """Start the oldest waiting task on ``resource`` if nobody holds it.

    Returns False when the broker refused a message (that task was failed and its
    reservation released), True otherwise."""
    # The cheap look first: under load the resource is usually held, and the holder kicks
    # when it releases. Our task is stored before this look, so a holder that releases
    # after it finds our task; one that released before it left no reservation to see.
    if not platform.store.resource_reserved(resource):
        return _take(platform, resource)
    return True


def release(platform, resource: str, task_id: str) -> None:
    """Pass ``resource`` from ``task_id`` to the next waiting task, or free it."""
    store = platform.store
    head = _head(store, resource)
    if head is not None:
        # A hand-over is one write, and the resource is never seen free in between.
        if store.hand_over_reservation(resource, task_id, head["_id"], now()):
            send(platform, head["_id"], resource)
        else:  # not ours to pass on (already released): start whoever is next
            kick(platform, resource)
        return
    store.drop_reservation(resource, task_id)
    # A task queued after the look above saw the resource still held and left it to us.
    _take(platform, resource)


def _head(store, resource: str) -> dict | None:
    return store.head_waiting_task(resource)


def _take(platform, resource: str) -> bool:
    """Reserve ``resource`` for its oldest waiting task and send it; lose a race quietly."""
    head = _head(platform.store, resource)
    if head is None:
        return True
    try:
        platform.store.reserve(resource, head["_id"], now())
    except DuplicateKeyError:
        return True  # taken meanwhile: that holder kicks again when it releases
    return send(platform, head["_id"], resource)


def send(platform, task_id: str, resource: str | None = None) -> bool:
    """Send the Celery message for a task; a broker failure fails the task, never hangs it.

    The publish is bounded (``task_publish_retry_policy`` and ``broker_connection_timeout``
    in :mod:`pulp2ng.tasking.celery_app`). Returns False when the broker did not take the
    message: the task is then ``error`` and its reservation released."""
    try:
        _send_retrying(platform, task_id)
        return True
    except Exception as exc:  # broker down or misconfigured: the task must not stay waiting
        log.exception("could not send task %s", task_id)
        try:
            platform.store.fail_waiting_task(task_id, {
                **completion_fields(platform.settings),
                "error": BrokerUnavailable(f"Could not queue the task: {exc}").to_dict(),
            })
        except PyMongoError:
            log.exception("could not record the dispatch failure of %s", task_id)
        if resource:
            try:
                release(platform, resource, task_id)
            except PyMongoError:  # the scheduler's heal() releases it later
                log.exception("could not release %s after failing %s", resource, task_id)
        return False


def _send_retrying(platform, task_id: str) -> None:
    """In a worker (``platform.retry_window`` > 0) a broker outage is ridden out with
    back-off for that window: the task that queues its successor or a spawned task must not
    fail them over a blip. Elsewhere (the API) one bounded try, answered 503 if refused."""
    window = getattr(platform, "retry_window", 0.0)
    deadline, delay = None, 0.2
    while True:
        try:
            # confirm_timeout: RabbitMQ's publisher confirm behind a cut link waits forever.
            platform.celery.send_task("pulp2ng.execute", args=[task_id], task_id=task_id,
                                      confirm_timeout=platform.settings.getfloat(
                                          "broker", "timeout"))
            return
        except BrokerOperationalError as exc:
            moment = time.monotonic()
            if deadline is None:
                deadline = moment + window
                if window > 0:
                    log.warning("broker unreachable (%s); retrying for up to %g s", exc, window)
            if moment >= deadline:
                raise
            time.sleep(min(delay, deadline - moment))
            delay = min(delay * 2, 2.0)


#: A waiting task this old with nothing moving it is re-examined by :func:`heal`.
STALE_AFTER = dt.timedelta(seconds=30)


def heal(platform) -> None:
    """Repair what a crash between two steps can leave behind; run by the scheduler.

    - a reservation whose task is complete (or gone) is released, which starts the next task;
    - a reservation whose task is still waiting, unreceived, has its message sent again;
    - a resource with waiting tasks but no reservation is kicked;
    - an unreserved waiting task no worker received is sent again.
    Sending twice is harmless: a task runs only on its ``waiting`` → ``running`` transition.
    """
    store = platform.store
    cutoff = now() - STALE_AFTER
    for held in store.reservations_since_before(cutoff):
        task = store.find_task(held["task_id"], {"state": 1, "worker_name": 1, "resent_at": 1})
        if task is None or task["state"] in ("finished", "error", "canceled", "skipped"):
            release(platform, held["_id"], held["task_id"])
        elif task["state"] == "waiting" and not task.get("worker_name"):
            _resend(platform, task, cutoff, held["_id"])  # its message was lost
    stale = store.stale_waiting_tasks(cutoff)
    kicked = set()
    for task in stale:
        resource = task.get("resource")
        if resource:
            if resource not in kicked:
                kicked.add(resource)
                kick(platform, resource)
        else:
            _resend(platform, task, cutoff)


def _resend(platform, task: dict, cutoff, resource: str | None = None) -> None:
    """Send a waiting task's message again, at most once per ``STALE_AFTER``."""
    if task.get("resent_at") and task["resent_at"] >= cutoff:
        return
    platform.store.mark_task_resent(task["_id"], now())
    send(platform, task["_id"], resource)
