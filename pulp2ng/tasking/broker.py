"""The broker: RabbitMQ or Redis when ``broker.url`` names one, else the database itself.

The embedded default is kombu's MongoDB transport, which polls. :class:`Transport` polls
fast while messages flow and slowly once a worker has been idle for a while, so an idle
installation does not keep the database busy answering empty polls.
"""

from __future__ import annotations

import importlib
import socket
import time
from queue import Empty

import pymongo
from celery.worker import state as worker_state
from kombu.transport import mongodb
from pymongo.errors import CollectionInvalid

#: How long after its last message a worker keeps polling at the fast rate, in seconds.
IDLE_AFTER = 2.0


def broker_url(settings) -> str:
    """``broker.url``, or the database itself through kombu's MongoDB transport."""
    url = settings.get("broker", "url")
    if url:
        return url
    db_url = settings.get("database", "url")
    base, _, query = db_url.partition("?")
    base = base.rstrip("/")
    if base.count("/") > 2:  # mongodb://host/dbname → replace the database name
        base = base.rsplit("/", 1)[0]
    return f"{base}/{settings.get('database', 'name')}_broker" + (f"?{query}" if query else "")


def is_mongodb(url: str) -> bool:
    return url.startswith(("mongodb://", "mongodb+srv://"))


def require_client_library(url: str) -> None:
    """A ``redis://`` broker without the ``redis`` library fails deep inside kombu (an
    AttributeError on ``None`` in the worker); say what to install instead, at start."""
    if url.startswith(("redis://", "rediss://", "redis+socket://")):
        try:
            importlib.import_module("redis")
        except ImportError:
            raise SystemExit("the redis:// broker needs the redis library: "
                             "pip install 'pulp2ng[redis]'") from None


def prepare_broker(settings) -> None:
    """Create the MongoDB transport's capped broadcast collection before any worker connects.

    kombu checks for it and then creates it as each connection opens, so two workers starting
    together can race and one dies with ``CollectionInvalid`` (on real MongoDB as on the
    embedded server). Creating it once here, tolerating a concurrent creator, closes the window.
    """
    url = broker_url(settings)
    if not is_mongodb(url):
        return
    with pymongo.MongoClient(url) as client:
        try:
            client.get_default_database().create_collection(
                mongodb.Channel.broadcast_collection, capped=True,
                size=mongodb.Channel.capped_queue_size)
        except CollectionInvalid:
            pass  # already there, possibly created by a process starting alongside


def transport_settings(settings) -> dict:
    """Celery settings for the broker: bounded waits for Redis and RabbitMQ; for the MongoDB
    transport, ours and its polling intervals."""
    url = broker_url(settings)
    timeout = settings.getfloat("broker", "timeout")
    if url.startswith(("redis://", "rediss://")):
        # redis-py waits forever by default on a link that drops packets: a publish would
        # hang the API, and a worker's BRPOP would sit on a dead connection. Its health
        # checks (kombu's too) then drop a silent connection after ``timeout`` more.
        interval = max(1, int(timeout))
        return {"broker_connection_timeout": timeout, "broker_transport_options": {
            "socket_timeout": timeout, "socket_connect_timeout": timeout,
            "health_check_interval": interval}}
    if not is_mongodb(url):
        return {"broker_connection_timeout": timeout}
    return {
        "broker_transport": f"{__name__}:Transport",
        # The broker is the database here: its connections wait as long as the Store's.
        "broker_connection_timeout": settings.getfloat("database", "timeout"),
        "broker_transport_options": {
            "polling_interval": settings.getfloat("broker", "mongodb_polling_interval"),
            "idle_polling_interval": settings.getfloat(
                "broker", "mongodb_idle_polling_interval"),
        },
    }


class Transport(mongodb.Transport):
    """kombu's MongoDB transport with an idle back-off between empty polls."""

    def __init__(self, client, **kwargs):
        super().__init__(client, **kwargs)
        options = client.transport_options
        self.idle_polling_interval = options.get("idle_polling_interval",
                                                 self.polling_interval)
        self._last_message = time.monotonic()

    def pause(self, now: float) -> float:
        """Seconds to wait after an empty poll at monotonic time ``now``."""
        if now - self._last_message > IDLE_AFTER:
            return self.idle_polling_interval
        return self.polling_interval

    def drain_events(self, connection, timeout=None):
        """Deliver one message, polling every ``polling_interval`` while busy."""
        started = time.monotonic()
        while True:
            try:
                self.cycle.get(self._deliver, timeout=timeout)
            except Empty:
                now = time.monotonic()
                if (timeout is not None and now - started >= timeout) or _stopping():
                    raise socket.timeout()
                pause = self.pause(now)
                if timeout is not None:
                    pause = min(pause, max(0.0, started + timeout - now))
                time.sleep(pause)
            else:
                self._last_message = time.monotonic()
                return


def _stopping() -> bool:
    """True once the worker was asked to stop: Celery checks that only between two
    ``drain_events`` calls (2 s each), so an idle worker would take that long to begin."""
    return any(flag is not None and flag is not False
               for flag in (worker_state.should_stop, worker_state.should_terminate))
