"""Fencing: a task whose worker was declared dead cannot write into its repository any more.

Issue 22, fault 3: a worker cut off for longer than ``worker_timeout`` is reaped (its task
failed, the repository handed to the next task), yet its old task may still reach the
database later and write a sync-history entry counting another worker's units, or add
associations to a repository another worker now syncs.

The design (one fenced helper, option (a) of the issue):

- **The token.** Every reservation document carries a ``lease``, a fresh ObjectId written
  by the same operation that takes it (:meth:`TaskQueries.reserve`) or hands it on
  (:meth:`TaskQueries.hand_over_reservation`). A task reads ``{_id: resource, task_id,
  lease}`` once as it starts (:func:`take_lease`). The reaper replaces the lease of a dead
  worker's task (:meth:`TaskQueries.revoke_lease`) before it writes anything for it, and the
  hand-over that follows replaces it again.
- **The check.** While a task runs, its lease is the current context's (a ContextVar set by
  the runner on the task thread). Every write to the collections that hold a repository's
  state (repositories, importers, distributors, sync/publish history, associations, units)
  goes through :class:`FencedCollection`, which first reads the reservation by ``_id`` with
  the task's ``task_id`` and ``lease`` in the filter; no match raises
  :class:`~pulp2ng.errors.Fenced` (logged at WARNING) and the write is not sent. Publishing
  checks the same way before it swaps a published tree. Processes without a running task
  (the API, the reaper, the scheduler) have no lease, and their writes are not checked.
- **The task's own status** needs no lease check: its final state, progress and the like
  are written with ``state: "running"`` in the filter, and the reaper set it ``error``.

The remaining race, stated honestly: the check and the write are two operations (MongoDB
has no cross-collection condition without transactions, which SecantusDB lacks), so a
worker paused between the two for longer than ``worker_timeout`` can land that one write
late. Writes are batched (1000 associations a write), so at most one batch can slip
through; the worker's own self-cancel after ``tasks.self_cancel_after`` seconds without a
heartbeat (:mod:`pulp2ng.tasking.lifeline`) stops a task that could still run before the
reaper acts. A write is refused, never retried: the task ends at once, and the runner
writes nothing more for it (the reaper already recorded its end).

Writes from a plugin's own threads run in a context without the lease and are not checked;
the conduit contract keeps every database write on the task thread.
"""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass

from bson import ObjectId

from pulp2ng.errors import Fenced

log = logging.getLogger(__name__)


def new_lease() -> ObjectId:
    """A token no task holds yet: written with every take, hand-over and revocation."""
    return ObjectId()


@dataclass
class Lease:
    """What the running task proved it held when it started; ``lost`` once refused."""

    resource: str
    task_id: str
    token: object
    lost: bool = False

    def check(self, reservations) -> None:
        """Raise :class:`Fenced` unless the reservation is still this task's, with this lease."""
        if not self.lost:
            held = reservations.find_one(
                {"_id": self.resource, "task_id": self.task_id, "lease": self.token},
                {"_id": 1})
            if held is not None:
                return
            self.lost = True
            log.warning("task %s no longer holds %s (its worker was declared dead): its "
                        "writes are refused", self.task_id, self.resource)
        raise Fenced(f"Task {self.task_id} lost its reservation of {self.resource}; its "
                     "writes are refused", task_id=self.task_id, resource=self.resource)


_current: contextvars.ContextVar[Lease | None] = contextvars.ContextVar(
    "pulp2ng_task_lease", default=None)


def take_lease(store, resource: str, task_id: str) -> Lease:
    """The lease of ``resource`` as ``task_id`` holds it now; a task that does not hold it
    (failed by a reaper before it could look) gets a lease that is already lost."""
    doc = store.reservations.find_one({"_id": resource})
    if doc is None or doc.get("task_id") != task_id:
        return Lease(resource, task_id, None, lost=True)
    # Reservations written before leases existed have none: ``lease: None`` matches them.
    return Lease(resource, task_id, doc.get("lease"))


def activate(lease: Lease | None) -> contextvars.Token:
    """Make ``lease`` the current task's (undo with :func:`deactivate`)."""
    return _current.set(lease)


def deactivate(token: contextvars.Token) -> None:
    _current.reset(token)


def current() -> Lease | None:
    return _current.get()


def check(reservations) -> None:
    """Refuse (raise :class:`Fenced`) when the current task lost its lease; a no-op outside
    a task with a reservation."""
    lease = _current.get()
    if lease is not None:
        lease.check(reservations)


class FencedCollection:
    """A pymongo collection whose writes first :func:`check` the current task's lease.

    Reads pass straight through (attribute delegation); so does everything outside a task.
    """

    __slots__ = ("_collection", "_reservations")

    def __init__(self, collection, reservations):
        self._collection = collection
        self._reservations = reservations

    def __getattr__(self, name):
        return getattr(self._collection, name)

    def __repr__(self) -> str:
        return f"FencedCollection({self._collection.name!r})"


def _fenced_write(name: str):
    def write(self, *args, **kwargs):
        check(self._reservations)
        return getattr(self._collection, name)(*args, **kwargs)

    write.__name__ = name
    write.__doc__ = f"``{name}`` after the current task's lease check."
    return write


for _name in ("insert_one", "insert_many", "update_one", "update_many", "replace_one",
              "delete_one", "delete_many", "bulk_write", "find_one_and_update",
              "find_one_and_replace", "find_one_and_delete"):
    setattr(FencedCollection, _name, _fenced_write(_name))
