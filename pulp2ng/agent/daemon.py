"""``pulp2ng-agent run``: long-poll the server, carry out each request with its handler,
heartbeat while working, report the result and the profile.

Every request is leased to the agent for ``lease_seconds``; a heartbeat thread renews it
while the handler works, so a killed agent's request ends ``error`` on the server within the
worker timeout. A request canceled on the server meanwhile is seen at the next heartbeat:
the handler's client tool is killed and the handler stops (``Handler.cancel_event``). When
the server is unreachable the agent retries with exponential back-off.
SIGTERM (or SIGINT) stops it: at once while it waits, after the current request otherwise.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

import requests

from pulp2ng.agent.client import ApiError, Client
from pulp2ng.agent.handlers import Handlers

log = logging.getLogger("pulp2ng.agent")
POLL_WAIT = 25.0
MAX_BACKOFF = 30.0
CONTENT_ACTIONS = ("install", "update", "uninstall")


class _Stop(BaseException):
    """Raised by the signal handler to leave an idle long-poll at once."""


class Heartbeat(threading.Thread):
    """Renews the request's lease; sets ``canceled`` when the server says it was canceled."""

    def __init__(self, client: Client, path: str, interval: float, canceled: threading.Event):
        super().__init__(name="agent-heartbeat", daemon=True)
        self.client, self.path, self.interval = client, path, interval
        self.canceled = canceled
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                lease = self.client.post(self.path, timeout=max(self.interval, 5))
                if lease.get("state") == "canceled":
                    log.info("request %s was canceled: stopping its handler", self.path)
                    self.canceled.set()
                    return
                if lease.get("state") != "running":
                    log.warning("request %s is %s on the server", self.path, lease.get("state"))
            except (requests.RequestException, ApiError) as exc:
                log.warning("heartbeat failed (%s); retrying", exc)

    def stop(self) -> None:
        self.stopped.set()


class Agent:
    def __init__(self, config: dict, root, once: bool = False, wait: float = POLL_WAIT):
        self.consumer_id = config["id"]
        self.client = Client(config["server"], config["ca"], cert=config["cert"])
        self.handlers = Handlers(root, config.get("handlers") or {})
        self.once, self.wait = once, wait
        self.stopping = threading.Event()
        self.busy = False
        self._profiles_endpoint = True
        self.prefix = f"/consumers/{self.consumer_id}"

    # -- the loop ------------------------------------------------------------------------------

    def _on_signal(self, signum, _frame) -> None:
        log.info("signal %s: stopping", signum)
        self.stopping.set()
        if not self.busy:
            raise _Stop()

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        backoff = 1.0
        try:
            while not self.stopping.is_set():
                try:
                    batch = self.client.get(f"{self.prefix}/agent/requests/",
                                            params={"wait": self.wait},
                                            timeout=self.wait + 30)
                except ApiError as exc:
                    if exc.response.status_code in (401, 404):
                        log.error("the server refuses this consumer: %s", exc)
                        return 2
                    batch = None
                    log.warning("poll failed: %s; retrying in %.0f s", exc, backoff)
                except requests.RequestException as exc:
                    batch = None
                    log.warning("server unreachable (%s); retrying in %.0f s",
                                type(exc).__name__, backoff)
                if batch is None:
                    if self.once:
                        return 1
                    self.stopping.wait(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                    continue
                backoff = 1.0
                self.busy = True
                try:
                    for request in batch:
                        self.handle(request)
                finally:
                    self.busy = False
                if self.once:
                    break
        except _Stop:
            pass
        finally:
            self.client.close()
        log.info("agent stopped")
        return 0

    # -- one request ---------------------------------------------------------------------------

    def handle(self, request: dict) -> None:
        task_id, action = request["task_id"], request["action"]
        path = f"{self.prefix}/agent/requests/{task_id}/"
        log.info("request %s: %s", task_id, action)
        self.handlers.cancel.clear()
        beat = Heartbeat(self.client, path + "heartbeat/",
                         max(0.2, float(request.get("lease_seconds") or 30) / 4),
                         self.handlers.cancel)
        beat.start()
        profiles: dict = {}
        try:
            details, profiles = self.apply(action, request.get("payload") or {})
            succeeded = not (isinstance(details, dict) and details.get("succeeded") is False)
        except Exception as exc:  # any handler failure is the request's failure
            if self.handlers.cancel.is_set():
                log.info("request %s (%s) stopped: canceled", task_id, action)
            else:
                log.exception("request %s (%s) failed", task_id, action)
            succeeded = False
            details = {"message": str(exc) or type(exc).__name__,
                       "exception": type(exc).__name__}
        finally:
            beat.stop()
        self._report(path, {"succeeded": succeeded, "details": _jsonable(details),
                            "profiles": profiles})
        for content_type, profile in profiles.items():
            self._post_profile(content_type, profile)

    def apply(self, action: str, payload: dict) -> tuple[dict, dict]:
        """Carry out one request; returns its details and the touched content types'
        profiles."""
        options = payload.get("options") or {}
        if action == "bind":
            binding = payload["binding"]
            handler = self.handlers.for_distributor(binding["type_id"])
            details = handler.bind(binding)
            touched = [handler]
        elif action == "unbind":
            handler = self.handlers.for_distributor(payload["type_id"])
            details = handler.unbind(payload["repo_id"], payload["distributor_id"])
            touched = [handler]
        elif action in CONTENT_ACTIONS:
            by_type: dict[str, list] = {}
            for unit in payload.get("units") or []:
                by_type.setdefault(unit["type_id"], []).append(unit)
            details, touched = {}, []
            for type_id, units in by_type.items():
                handler = self.handlers.for_content(type_id)
                details[type_id] = getattr(handler, action)(units, options)
                touched.append(handler)
        else:
            raise ValueError(f"unknown request action {action!r}")
        profiles = {}
        for handler in touched:
            try:
                profiles[handler.content_type] = handler.profile()
            except Exception:  # a profile is a bonus; the action's outcome stands
                log.exception("profile of %s failed", handler.content_type)
        return details or {}, _jsonable(profiles)

    def _report(self, path: str, body: dict) -> None:
        """Post the result; retried while the server is away (the lease may run out
        meanwhile: the server then keeps the request's ``error``)."""
        delay = 1.0
        for _ in range(8):
            try:
                self.client.post(path, json=body)
                return
            except ApiError as exc:
                log.error("the server refused the result of %s: %s", path, exc)
                return
            except requests.RequestException as exc:
                log.warning("could not post the result (%s); retrying", type(exc).__name__)
                time.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)

    def _post_profile(self, content_type: str, profile) -> None:
        """Also report to ``consumers/<id>/profiles/`` where the server has it (the result
        post carried the profile already)."""
        if not self._profiles_endpoint:
            return
        try:
            self.client.post(f"{self.prefix}/profiles/",
                             json={"content_type": content_type, "profile": profile})
        except ApiError as exc:
            if exc.response.status_code in (404, 405):
                self._profiles_endpoint = False
            else:
                log.warning("profile upload failed: %s", exc)
        except requests.RequestException as exc:
            log.warning("profile upload failed: %s", type(exc).__name__)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
