"""Database operations that outlast a short outage, for the processes that run tasks.

A task is minutes of work; a database blip (a restart, a failover, a brief partition) must
not throw it away. In a worker every collection operation that fails to reach the server
(pymongo's ``AutoReconnect``: server selection timeout, network timeout, a dropped
connection) is tried again with back-off until ``[tasks] db_retry_window`` seconds have
passed since the first failure, then the error is raised and the task reports a database
error. The API never retries: it answers 503 at once.

Caveat: a write whose connection dropped after the server applied it is applied again (no
retryable writes: the embedded server's bookkeeping for them costs a third of every small
write). The platform's writes are upserts, ``$set``s and inserts that tolerate duplicates;
an ``$inc`` counter may skip a number.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from pymongo.collection import Collection
from pymongo.cursor import Cursor
from pymongo.database import Database
from pymongo.errors import AutoReconnect

log = logging.getLogger(__name__)

#: Pauses between tries double from this up to ``MAX_DELAY`` seconds.
FIRST_DELAY = 0.1
MAX_DELAY = 2.0

_state = threading.local()


@contextlib.contextmanager
def no_retry():
    """Operations in this block fail at once (a heartbeat: late is better than blocked)."""
    depth = getattr(_state, "depth", 0)
    _state.depth = depth + 1
    try:
        yield
    finally:
        _state.depth = depth


def call_retrying(window: float, fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, tried again on ``AutoReconnect`` for ``window`` seconds.

    Nested calls (``find_one`` runs ``find``) and :func:`no_retry` blocks try once."""
    if window <= 0 or getattr(_state, "depth", 0):
        return fn(*args, **kwargs)
    with no_retry():
        deadline, delay = None, FIRST_DELAY
        while True:
            try:
                return fn(*args, **kwargs)
            except AutoReconnect as exc:
                moment = time.monotonic()
                if deadline is None:
                    deadline = moment + window
                    log.warning("database unreachable (%s); retrying for up to %g s", exc, window)
                if moment >= deadline:
                    raise
                time.sleep(min(delay, deadline - moment))
                delay = min(delay * 2, MAX_DELAY)


class RetryingCursor(Cursor):
    """A cursor whose first batch is retried; a failure after documents were returned is
    raised (re-reading would repeat them)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pulp2ng_started = False

    def next(self):
        if self._pulp2ng_started:
            return super().next()

        def first():
            try:
                return Cursor.next(self)
            except AutoReconnect:
                self.rewind()
                raise

        doc = call_retrying(self.collection.database.retry_window, first)
        self._pulp2ng_started = True
        return doc

    __next__ = next


class RetryingCollection(Collection):
    """A collection whose operations outlast an outage of ``database.retry_window`` s."""

    def find(self, *args, **kwargs):
        return RetryingCursor(self, *args, **kwargs)


def _retrying(method):
    def wrapper(self, *args, **kwargs):
        return call_retrying(self.database.retry_window, method, self, *args, **kwargs)

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


for _name in ("insert_one", "insert_many", "replace_one", "update_one", "update_many",
              "delete_one", "delete_many", "bulk_write", "find_one_and_delete",
              "find_one_and_replace", "find_one_and_update", "count_documents",
              "estimated_document_count", "distinct", "aggregate", "create_index",
              "create_indexes"):
    setattr(RetryingCollection, _name, _retrying(getattr(Collection, _name)))


class RetryingDatabase(Database):
    """A database handing out :class:`RetryingCollection` objects."""

    def __init__(self, client, name: str, retry_window: float):
        super().__init__(client, name)
        self.retry_window = retry_window

    def __getitem__(self, name: str) -> RetryingCollection:
        return RetryingCollection(self, name)

    def get_collection(self, name: str, *args, **kwargs) -> RetryingCollection:
        return RetryingCollection(self, name, False, *args, **kwargs)
