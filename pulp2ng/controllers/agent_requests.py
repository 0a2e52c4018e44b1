"""The consumer agent's side of agent requests: long-poll, lease, result.

An agent request is a task with ``worker_name: "agent"`` (:mod:`pulp2ng.tasking.agent`). The
consumer's agent connects out over HTTPS and long-polls; a poll claims the consumer's
waiting requests in submission order (``waiting`` → ``running``, with a lease of
``tasks.worker_timeout`` seconds), which the agent renews with heartbeats while it works
and ends by posting the result. A request whose lease ran out (agent killed, host cut off)
ends ``error`` (AgentLost, PLP0081) at the scheduler's next pass: :func:`expire_leases`.

Waiting pollers do not each query the database: one :class:`Mailbox` thread per process
asks which consumers have waiting requests (one query per interval, whatever the number of
agents) and wakes their pollers.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from pulp2ng.controllers.consumers import get_consumer
from pulp2ng.controllers.profiles import save_profile
from pulp2ng.db.consumers import binding_id
from pulp2ng.db.store import now
from pulp2ng.errors import AgentFailed, AgentLost, InvalidValue, MissingResource, MissingValue
from pulp2ng.tasking import registry
from pulp2ng.tasking.completion import completion_fields

log = logging.getLogger(__name__)

#: The longest a poll is held open, in seconds (proxies and NATs keep 30 s idle connections).
MAX_WAIT = 25.0
#: How often the mailbox looks for waiting requests while anybody polls.
POLL_INTERVAL = 0.25
#: Requests handed out by one poll at most (the rest go with the next one).
BATCH = 10
_RESULT_FIELDS = {"succeeded", "details", "profiles"}
#: Pulp 2's consumer history event per content action that succeeded.
_ACTION_EVENTS = {"install": "content_unit_installed", "update": "content_unit_installed",
                  "uninstall": "content_unit_uninstalled"}


def lease_seconds(platform) -> float:
    return platform.settings.getfloat("tasks", "worker_timeout")


class Mailbox:
    """Wakes the pollers of consumers that have waiting requests; one per process."""

    def __init__(self, platform, interval: float = POLL_INTERVAL):
        self.platform = platform
        self.interval = interval
        self._lock = threading.Lock()
        self._waiters: dict[str, set[threading.Event]] = {}
        self._thread: threading.Thread | None = None

    def wait(self, consumer_id: str, timeout: float) -> bool:
        """Block until the consumer may have a waiting request, or ``timeout``; True if woken."""
        event = threading.Event()
        with self._lock:
            self._waiters.setdefault(consumer_id, set()).add(event)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="agent-mailbox",
                                                daemon=True)
                self._thread.start()
        try:
            return event.wait(timeout)
        finally:
            with self._lock:
                waiting = self._waiters.get(consumer_id)
                if waiting is not None:
                    waiting.discard(event)
                    if not waiting:
                        del self._waiters[consumer_id]

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            with self._lock:
                if not self._waiters:
                    continue
            try:
                # One scan of the waiting agent requests for every poller, rather than an
                # ``$in`` over the polling consumers: SecantusDB is slow on long ``$in`` lists.
                ready = self.platform.store.consumers_with_waiting_requests()
            except Exception:  # the database may be briefly away; pollers time out meanwhile
                log.exception("agent mailbox could not read waiting requests")
                continue
            with self._lock:
                for consumer_id in ready:
                    for event in self._waiters.get(consumer_id, ()):
                        event.set()


def take_requests(platform, consumer_id: str, wait: float, mailbox: Mailbox | None) -> list:
    """Claim the consumer's waiting requests (oldest first); hold up to ``wait`` seconds
    (at most :data:`MAX_WAIT`) for one to come. ``[]`` when none did."""
    get_consumer(platform, consumer_id)
    deadline = time.monotonic() + max(0.0, min(wait, MAX_WAIT))
    while True:
        claimed = _claim(platform, consumer_id)
        remaining = deadline - time.monotonic()
        if claimed or remaining <= 0 or mailbox is None:
            return claimed
        mailbox.wait(consumer_id, remaining)


def _claim(platform, consumer_id: str) -> list[dict]:
    store, lease = platform.store, lease_seconds(platform)
    claimed: list[dict] = []
    while len(claimed) < BATCH:
        head = store.oldest_agent_request(consumer_id)
        if head is None:
            break
        moment = now()
        doc = store.claim_agent_request(head["_id"], {
            "start_time": moment, "agent_lease_until": moment + dt.timedelta(seconds=lease)})
        if doc is None:
            continue  # canceled meanwhile, or another poll of this consumer took it
        request = doc["agent_request"]
        claimed.append({"task_id": doc["_id"], "action": request["action"],
                        "payload": platform.secrets.open(request["payload"]),
                        "lease_seconds": lease})
    return claimed


def _request(platform, consumer_id: str, task_id: str) -> dict:
    doc = platform.store.find_agent_request(consumer_id, task_id)
    if doc is None:
        raise MissingResource(consumer=consumer_id, agent_request=task_id)
    return doc


def heartbeat(platform, consumer_id: str, task_id: str) -> dict:
    """Renew the lease of a request the agent works on; says the request's state (an agent
    may stop on ``canceled``)."""
    lease = lease_seconds(platform)
    renewed = platform.store.renew_agent_lease(consumer_id, task_id,
                                               now() + dt.timedelta(seconds=lease))
    state = "running" if renewed else _request(platform, consumer_id, task_id)["state"]
    return {"task_id": task_id, "state": state, "lease_seconds": lease}


def complete(platform, consumer_id: str, task_id: str, body) -> dict:
    """The agent's result: the task ends ``finished`` (``result``: the details) or ``error``
    (AgentFailed), and what the request changed is recorded (binding action status, an
    unbound binding deleted, profiles, history). Returns the task document."""
    if not isinstance(body, dict):
        raise InvalidValue(["body"], "the result must be a JSON object")
    unknown = sorted(set(body) - _RESULT_FIELDS)
    if unknown:
        raise InvalidValue(unknown, f"Unsupported properties: {unknown}")
    if "succeeded" not in body:
        raise MissingValue(["succeeded"])
    succeeded = body["succeeded"]
    if not isinstance(succeeded, bool):
        raise InvalidValue(["succeeded"], "succeeded must be a boolean")
    details = body.get("details") or {}
    profiles = body.get("profiles") or {}
    for name, value in (("details", details), ("profiles", profiles)):
        if not isinstance(value, dict):
            raise InvalidValue([name], f"{name} must be an object")
    doc = _request(platform, consumer_id, task_id)
    if doc["state"] == "waiting":
        raise InvalidValue(["task_id"], "the request was not handed to the agent yet")
    if succeeded:
        update = {"state": "finished", "result": details, "error": None}
    else:
        error = AgentFailed(str(details.get("message") or "The agent reported a failure"),
                            consumer_id=consumer_id, details=details)
        update = {"state": "error", "result": None, "error": error.to_dict()}
    # What the request changed is recorded first, so a client that sees the task end sees
    # its effects too (an unbound binding gone, the new profile).
    _record_outcome(platform, consumer_id, doc, succeeded)
    for content_type, profile in profiles.items():
        try:
            save_profile(platform, consumer_id, content_type, profile)
        except InvalidValue as exc:  # the outcome stands; a malformed profile is not kept
            log.warning("consumer %s sent an invalid %s profile: %s", consumer_id,
                        content_type, exc)
            continue
        platform.store.add_consumer_event(consumer_id, "unit_profile_changed",
                                          {"content_type": content_type})
    written = platform.store.finish_agent_request(
        task_id, {**update, **completion_fields(platform.settings)})
    if written:  # a result after an expiry or a cancel changes no schedule's count
        _scheduled_outcome(platform, doc, succeeded)
        registry.task_completed(platform, task_id)
    return platform.store.find_task(task_id, {"kwargs": 0, "agent_request": 0})


def _scheduled_outcome(platform, doc: dict, succeeded: bool) -> None:
    """A request a consumer schedule fired counts for it, like a scheduled sync's task."""
    if doc.get("scheduled_call_id"):
        registry.scheduled_outcome(platform, doc["scheduled_call_id"], succeeded)


def _record_outcome(platform, consumer_id: str, doc: dict, succeeded: bool) -> None:
    """What an ended request changes besides its task: a binding's action status (a bind or
    unbind of a binding that is gone changes nothing), an unbind's binding deleted, history."""
    store = platform.store
    request = doc["agent_request"]
    action = request["action"]
    payload = platform.secrets.open(request["payload"])
    if action in ("bind", "unbind"):
        where = payload.get("binding", payload)
        bid = binding_id(consumer_id, where.get("repo_id"), where.get("distributor_id"))
        store.set_consumer_action_status(bid, doc["_id"],
                                         "succeeded" if succeeded else "failed")
        if action == "unbind" and succeeded:
            store.delete_unbound_binding(bid)
    elif succeeded and action in _ACTION_EVENTS:
        store.add_consumer_event(consumer_id, _ACTION_EVENTS[action],
                                 {"units": payload.get("units", [])})


def expire_leases(platform) -> int:
    """End ``error`` (AgentLost) every running request whose agent stopped renewing its lease;
    run by the scheduler. Returns how many."""
    store = platform.store
    count = 0
    for doc in store.expired_agent_requests(now()):
        consumer_id = doc["agent_request"]["consumer_id"]
        error = AgentLost(f"The agent of consumer {consumer_id} stopped renewing its lease on "
                          f"request {doc['_id']} before reporting", consumer_id=consumer_id)
        if store.finish_agent_request(doc["_id"], {
                "state": "error", "error": error.to_dict(),
                **completion_fields(platform.settings)}, lease=doc["agent_lease_until"]):
            _record_outcome(platform, consumer_id, doc, False)
            _scheduled_outcome(platform, doc, False)
            registry.task_completed(platform, doc["_id"])
            count += 1
    if count:
        log.warning("%d agent request(s) lost their agent", count)
    return count
