"""Is the database reachable? The driver's own monitoring answers, without a round trip.

pymongo checks every server it knows on a background thread (every ``heartbeatFrequencyMS``)
and marks a server *Unknown* the moment an operation hits a network error. :class:`DatabaseHealth`
listens to those events, so the API can answer 503 at once while the database is down instead of
letting each request wait for pymongo's server selection timeout; pymongo's own timeouts stay as
they are, so a busy but healthy database never gets a spurious 503. When the server answers a
heartbeat again, the flag goes up again: nothing has to be restarted.
"""

from __future__ import annotations

import threading

from pymongo import monitoring
from pymongo.server_type import SERVER_TYPE

#: How often pymongo's monitor checks each server, in ms (pymongo's minimum is 500).
HEARTBEAT_FREQUENCY_MS = 500


class DatabaseHealth(monitoring.ServerHeartbeatListener, monitoring.ServerListener):
    """Per-server reachability fed by pymongo's heartbeats and server description changes."""

    def __init__(self):
        self._lock = threading.Lock()
        self._servers: dict[tuple, bool] = {}
        self.last_error: str | None = None

    def _mark(self, address, up: bool, error=None) -> None:
        with self._lock:
            self._servers[address] = up
            if not up and error is not None:
                self.last_error = str(error)

    # ServerHeartbeatListener
    def started(self, event) -> None:
        pass

    def succeeded(self, event) -> None:
        self._mark(event.connection_id, True)

    def failed(self, event) -> None:
        self._mark(event.connection_id, False, event.reply)

    # ServerListener (``opened`` / ``closed`` share names with nothing above)
    def opened(self, event) -> None:
        pass

    def description_changed(self, event) -> None:
        new = event.new_description
        if new.server_type == SERVER_TYPE.Unknown:
            if new.error is not None:  # a failed check or an operation's network error
                self._mark(event.server_address, False, new.error)
        else:
            self._mark(event.server_address, True)

    def closed(self, event) -> None:
        with self._lock:
            self._servers.pop(event.server_address, None)

    @property
    def available(self) -> bool | None:
        """True when a server answers, False when every known one failed, None before any
        check (a client that has not connected yet)."""
        with self._lock:
            if not self._servers:
                return None
            return any(self._servers.values())
