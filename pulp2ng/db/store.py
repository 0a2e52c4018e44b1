"""Collections, indexes and the document operations shared by the platform.

Documents are plain dicts stored the way the v2 API shows them (minus ``_href``); the server's
serializers add links and hide secrets. ``get_*`` raises :class:`MissingResource`, ``find_*``
returns ``None``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator

import pymongo
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from pulp2ng.db.agent_requests import AgentRequestQueries
from pulp2ng.db.certificates import CertificateQueries
from pulp2ng.db.common import (  # noqa: F401  re-exported: pulp2ng.db.store.<name> stays valid
    IN_QUERY_LIMIT,
    SCAN_BATCH,
    UTC,
    association_id,
    batched,
    insert_ignoring_duplicates,
    isoformat,
    key_updates,
    now,
    unit_id,
)
from pulp2ng.db.consumers import ConsumerQueries
from pulp2ng.db import fencing
from pulp2ng.db.events import EventQueries
from pulp2ng.db.fencing import FencedCollection
from pulp2ng.db.groups import GroupQueries
from pulp2ng.db.health import HEARTBEAT_FREQUENCY_MS, DatabaseHealth
from pulp2ng.db.profiles import ProfileQueries
from pulp2ng.db.repo_groups import RepoGroupQueries
from pulp2ng.db.repositories import RepositoryQueries
from pulp2ng.db.retry import RetryingDatabase
from pulp2ng.db.schedules import ScheduleQueries
from pulp2ng.db.tasks import TaskQueries
from pulp2ng.db.units import UnitQueries
from pulp2ng.db.users import UserQueries
from pulp2ng.errors import MissingResource


class Store(RepositoryQueries, GroupQueries, RepoGroupQueries, UnitQueries, TaskQueries,
            ScheduleQueries, UserQueries, CertificateQueries, EventQueries,
            ConsumerQueries, ProfileQueries, AgentRequestQueries):
    """Handles on pulp2ng's collections; one per process, safe to share between threads."""

    def __init__(self, client: pymongo.MongoClient, db_name: str,
                 health: DatabaseHealth | None = None, retry_window: float = 0.0):
        self.client = client
        #: Fed by the driver's monitoring (see :func:`connect`); None for a bare client.
        self.health = health
        #: Task-running processes ride out outages this long (see pulp2ng.db.retry).
        self.db = RetryingDatabase(client, db_name, retry_window) if retry_window > 0 \
            else client[db_name]
        self.reservations = self.db["reserved_resources"]
        # What a repository's state is made of: a task's writes to these are fenced by its
        # reservation's lease (pulp2ng.db.fencing).
        self.repos = self._fenced("repos")
        self.importers = self._fenced("repo_importers")
        self.distributors = self._fenced("repo_distributors")
        self.tasks = self.db["task_status"]
        self.workers = self.db["workers"]
        self.counters = self.db["counters"]
        self.sync_results = self._fenced("repo_sync_results")
        self.publish_results = self._fenced("repo_publish_results")
        self.associations = self._fenced("repo_content_units")
        self.schedules = self.db["scheduled_calls"]
        self.users = self.db["users"]
        self.roles = self.db["roles"]
        self.consumers = self.db["consumers"]
        self.bindings = self.db["consumer_bindings"]
        self.consumer_history = self.db["consumer_history"]
        self.permission_grants = self.db["permission_grants"]
        self.uploads = self.db["uploads"]
        self.event_listeners = self.db["event_listeners"]
        self.event_deliveries = self.db["event_deliveries"]
        self.repo_groups = self.db["repo_groups"]
        self.group_distributors = self.db["repo_group_distributors"]
        self.consumer_groups = self.db["consumer_groups"]
        self._indexes_lock = threading.Lock()
        self._indexed_types: set[str] = set()

    # -- setup -------------------------------------------------------------------------------

    def ensure_indexes(self) -> None:
        """Create every platform index; idempotent, run by each process at start."""
        self.importers.create_index([("repo_id", 1)], unique=True)
        self.distributors.create_index([("repo_id", 1), ("id", 1)], unique=True)
        self.group_distributors.create_index([("group_id", 1), ("id", 1)], unique=True)
        self.repo_groups.create_index([("repo_ids", 1)])
        self.consumer_groups.create_index([("consumer_ids", 1)])
        self.tasks.create_index([("resource", 1), ("state", 1), ("seq", 1)])
        self.tasks.create_index([("tags", 1)])
        self.tasks.create_index([("group_id", 1)])
        self.tasks.create_index([("worker_name", 1), ("state", 1)])
        self.tasks.create_index([("expire_at", 1)], expireAfterSeconds=0)
        # The dashboard's live task list reads only active and just-finished tasks.
        self.tasks.create_index([("state", 1)])
        self.tasks.create_index([("finish_time", 1)])
        self.sync_results.create_index([("repo_id", 1), ("started", 1)])
        self.publish_results.create_index([("repo_id", 1), ("distributor_id", 1)])
        self.associations.create_index([("repo_id", 1), ("unit_type_id", 1)])
        self.associations.create_index([("unit_id", 1)])
        self.schedules.create_index([("resource", 1)])
        self.users.create_index([("roles", 1)])
        self.bindings.create_index([("consumer_id", 1)])
        self.bindings.create_index([("repo_id", 1), ("distributor_id", 1)])
        self.consumer_history.create_index([("consumer_id", 1), ("timestamp", 1)])
        self.ensure_agent_request_indexes()
        self.permission_grants.create_index([("holder", 1)])
        self.permission_grants.create_index([("resource", 1)])
        self.event_listeners.create_index([("event_types", 1)])
        self.event_deliveries.create_index([("state", 1), ("next_attempt", 1)])
        self.event_deliveries.create_index([("expire_at", 1)], expireAfterSeconds=0)
        self.ensure_profile_indexes()  # pulp2ng.db.profiles

    def ensure_unit_indexes(self, type_id: str, unit_key: list[str], search_indexes=()) -> None:
        """Unique index over a unit type's key fields, plus its declared search indexes."""
        with self._indexes_lock:
            if type_id in self._indexed_types:
                return
            col = self.units(type_id)
            col.create_index([(f, 1) for f in unit_key], unique=True)
            for fields in search_indexes:
                fields = [fields] if isinstance(fields, str) else fields
                col.create_index([(f, 1) for f in fields])
            self._indexed_types.add(type_id)

    def units(self, type_id: str):
        return self._fenced(f"units_{type_id}")

    def _fenced(self, name: str) -> FencedCollection:
        return FencedCollection(self.db[name], self.reservations)

    def check_fence(self) -> None:
        """Raise :class:`~pulp2ng.errors.Fenced` if the running task lost its reservation
        (for side effects outside the database, such as swapping a published tree)."""
        fencing.check(self.reservations)

    def database_down(self) -> bool:
        """The driver's monitor saw every server fail and none answer since: fail fast."""
        return self.health is not None and self.health.available is False

    def ping(self, timeout: float = 1.0) -> bool:
        """Is the database reachable? Answers within ``timeout`` seconds.

        The monitor's flag answers at once while the database is known down; otherwise one
        ``ping`` bounded by ``timeout`` (this call only, pymongo's other timeouts are untouched).
        """
        if self.database_down():
            return False
        try:
            with pymongo.timeout(timeout):
                self.client.admin.command("ping")
            return True
        except pymongo.errors.PyMongoError:
            return False

    # -- counters ----------------------------------------------------------------------------

    def next_sequence(self, name: str) -> int:
        """A cluster-wide increasing number (atomic ``$inc``): the FIFO order of tasks."""
        # Not an upsert: concurrent upserts of one counter may fail with a duplicate key on
        # MongoDB, and on SecantusDB they were seen to return None. Create, then increment.
        for _ in range(10):
            doc = self.counters.find_one_and_update(
                {"_id": name}, {"$inc": {"n": 1}}, return_document=ReturnDocument.AFTER
            )
            if doc is not None:
                return doc["n"]
            try:
                self.counters.insert_one({"_id": name, "n": 0})
            except DuplicateKeyError:
                pass
        raise RuntimeError(f"could not increment counter {name}")

    # -- repositories ------------------------------------------------------------------------

    def get_repository(self, repo_id: str) -> dict:
        repo = self.repos.find_one({"_id": repo_id})
        if repo is None:
            raise MissingResource(repository=repo_id)
        return repo

    def get_importer(self, repo_id: str, importer_type_id: str | None = None) -> dict:
        imp = self.importers.find_one({"repo_id": repo_id})
        if imp is None or (importer_type_id and imp["importer_type_id"] != importer_type_id):
            raise MissingResource(repository=repo_id, importer=importer_type_id or "")
        return imp

    def find_importer(self, repo_id: str) -> dict | None:
        return self.importers.find_one({"repo_id": repo_id})

    def get_distributor(self, repo_id: str, distributor_id: str) -> dict:
        dist = self.distributors.find_one({"repo_id": repo_id, "id": distributor_id})
        if dist is None:
            raise MissingResource(repository=repo_id, distributor=distributor_id)
        return dist

    def compare_and_set(self, collection, doc_id, revision: int, changes: dict) -> bool:
        """``$set`` ``changes`` only if the document is still at ``revision``; bump it.

        The write half of read-merge-validate-write: a config merged from a stale read is
        refused (False) instead of overwriting a change made since. A missing ``revision``
        counts as 0 (documents stored before the field existed)."""
        current = revision if revision else {"$in": [0, None]}
        result = collection.update_one({"_id": doc_id, "revision": current},
                                       {"$set": changes, "$inc": {"revision": 1}})
        return result.matched_count == 1

    def find_distributors(self, repo_id: str) -> list[dict]:
        return list(self.distributors.find({"repo_id": repo_id}).sort("_id", 1))

    # -- units and associations ----------------------------------------------------------------

    def find_by_ids(self, collection, ids: Iterable[str], projection=None) -> Iterator[dict]:
        """Documents whose ``_id`` is in ``ids``, in no particular order."""
        wanted = set(ids)
        if not wanted:
            return
        if len(wanted) <= IN_QUERY_LIMIT:
            yield from collection.find({"_id": {"$in": list(wanted)}}, projection)
            return
        for doc in collection.find({}, projection, batch_size=SCAN_BATCH):
            if doc["_id"] in wanted:
                yield doc

    def repo_association_ids(self, repo_id: str, type_id: str | None = None) -> dict[str, str]:
        """``{unit_id: unit_type_id}`` of every unit in the repository: one projected scan."""
        query = {"repo_id": repo_id}
        if type_id:
            query["unit_type_id"] = type_id
        return {
            a["unit_id"]: a["unit_type_id"]
            for a in self.associations.find(query, {"unit_id": 1, "unit_type_id": 1},
                                            batch_size=SCAN_BATCH)
        }

    def rebuild_unit_counts(self, repo_id: str, associations: dict | None = None
                            ) -> dict[str, int]:
        """Recount ``content_unit_counts`` from the associations (exact, after any change).
        Types in :attr:`internal_types` (set by the platform) are not content and not counted.

        ``associations`` is a fresh :meth:`repo_association_ids` of the repository, when the
        caller already scanned it."""
        # A whole-dict write, yet not a lost-update race: every caller runs in a task that
        # reserves ``repository:<id>``, so recounts of one repository never overlap.
        if associations is None:
            associations = self.repo_association_ids(repo_id)
        counts: dict[str, int] = {}
        hidden = getattr(self, "internal_types", ())
        for type_id in associations.values():
            if type_id not in hidden:
                counts[type_id] = counts.get(type_id, 0) + 1
        self.repos.update_one({"_id": repo_id}, {"$set": {"content_unit_counts": counts}})
        return counts

    def delete_by_ids(self, collection, ids: Iterable[str]) -> int:
        """Delete documents by ``_id`` in bulk, one unordered write per thousand."""
        ids = list(ids)
        deleted = 0
        for start in range(0, len(ids), 1000):
            ops = [pymongo.DeleteOne({"_id": i}) for i in ids[start : start + 1000]]
            deleted += collection.bulk_write(ops, ordered=False).deleted_count
        return deleted


def connect(settings, url: str | None = None, retry_reads: bool = True,
            retry_window: float = 0.0) -> Store:
    """Open a pooled client to ``database.url`` (or ``url``) and return the Store.

    ``retry_reads=False`` is for the API: a read retried after a network error waits up to
    ``serverSelectionTimeoutMS`` for the server to come back, while the API answers 503 at
    once (the health flag turns every later request away before it reaches the driver).
    ``retry_window`` > 0 is for workers: operations retry through an outage that long."""
    url = url or settings.get("database", "url")
    if not url:
        raise RuntimeError(
            "database.url is not set: start the embedded database with `pulp2ng run` or "
            "`pulp2ng db`, or set PULP2NG_DATABASE_URL"
        )
    health = DatabaseHealth()
    # pymongo waits 20 s by default for a connect or a monitor check on a link that drops
    # packets; a monitor check that times out interrupts the operations in flight too.
    timeout_ms = int(1000 * settings.getfloat("database", "timeout"))
    client = pymongo.MongoClient(
        # A retry window shorter than the usual wait for a server bounds that wait too.
        url, tz_aware=True, maxPoolSize=50, connect=False,
        serverSelectionTimeoutMS=int(1000 * min(10.0, retry_window or 10.0)),
        heartbeatFrequencyMS=HEARTBEAT_FREQUENCY_MS, event_listeners=[health],
        retryReads=retry_reads, connectTimeoutMS=timeout_ms,
    )
    return Store(client, settings.get("database", "name"), health, retry_window)


__all__ = [
    "Store",
    "connect",
    "now",
    "isoformat",
    "unit_id",
    "association_id",
    "insert_ignoring_duplicates",
    "key_updates",
    "DuplicateKeyError",
    "UTC",
]
