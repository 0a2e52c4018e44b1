"""Repositories with their importer, distributors and sync/publish history.

Collections: ``repos``, ``repo_importers``, ``repo_distributors``, ``repo_sync_results``,
``repo_publish_results`` (and, for a repository's removal, its associations and schedules).
"""

from __future__ import annotations

import random
import time

from bson import ObjectId

from pulp2ng.db.groups import REPO_GROUPS
from pulp2ng.errors import ConflictingOperation, MissingResource


def new_history_id() -> ObjectId:
    """The ``_id`` of a new sync or publish history entry."""
    return ObjectId()


class RepositoryQueries:
    """Store methods over repositories, importers, distributors and their history."""

    # -- repositories -------------------------------------------------------------------------

    def list_repositories(self):
        """Every repository, by id (a cursor)."""
        return self.repos.find().sort("_id", 1)

    def search_repositories(self, criteria):
        """Repositories matching parsed criteria (stored field names), criteria applied."""
        return criteria.apply(self.repos.find(criteria.filters))

    def find_repository(self, repo_id: str) -> dict | None:
        return self.repos.find_one({"_id": repo_id})

    def repository_exists(self, repo_id: str) -> bool:
        return self.repos.find_one({"_id": repo_id}, {"_id": 1}) is not None

    def insert_repository(self, repo: dict) -> None:
        """Raises DuplicateKeyError when the id is taken."""
        self.repos.insert_one(repo)

    def update_repository(self, repo_id: str, ops: dict) -> bool:
        """Apply update operators to a repository; False when it does not exist."""
        return self.repos.update_one({"_id": repo_id}, ops).matched_count != 0

    def note_repository_change(self, repo_id: str, changes: dict) -> None:
        """``$set`` ``changes`` and bump the repository's content revision."""
        self.repos.update_one({"_id": repo_id}, {"$set": changes, "$inc": {"revision": 1}})

    def purge_repository(self, repo_id: str) -> None:
        """Delete a repository and every document that belongs to it, the repository last."""
        self.schedules.delete_many({"repo_id": repo_id})
        self.importers.delete_many({"repo_id": repo_id})
        self.distributors.delete_many({"repo_id": repo_id})
        self.associations.delete_many({"repo_id": repo_id})
        self.sync_results.delete_many({"repo_id": repo_id})
        self.publish_results.delete_many({"repo_id": repo_id})
        self.remove_from_groups(REPO_GROUPS, repo_id)  # pulp2ng.db.groups
        self.delete_repository_applicability(repo_id)  # pulp2ng.db.profiles
        self.repos.delete_one({"_id": repo_id})

    # -- scratchpad ---------------------------------------------------------------------------

    def get_repo_scratchpad(self, repo_id: str) -> dict:
        return (self.repos.find_one({"_id": repo_id}, {"scratchpad": 1}) or {}).get(
            "scratchpad"
        ) or {}

    def set_repo_scratchpad(self, repo_id: str, value: dict) -> None:
        self.repos.update_one({"_id": repo_id}, {"$set": {"scratchpad": value}})

    def update_repo_scratchpad(self, repo_id: str, values: dict) -> None:
        """Add or replace only these keys, one ``$set`` each (no lost concurrent keys)."""
        ops = {"$set": {f"scratchpad.{key}": value for key, value in values.items()}}
        if self.repos.update_one({"_id": repo_id, "scratchpad": {"$type": "object"}},
                                 ops).matched_count == 0:
            # No scratchpad document yet (null or missing): start one from these keys.
            self.repos.update_one(
                {"_id": repo_id, "scratchpad": None}, {"$set": {"scratchpad": values}})

    # -- importers ----------------------------------------------------------------------------

    def list_importers(self) -> list[dict]:
        """Every repository's importer: one read for a page listing many repositories."""
        return list(self.importers.find())

    def insert_importer(self, doc: dict) -> None:
        self.importers.insert_one(doc)

    def delete_repository_importers(self, repo_id: str) -> None:
        self.importers.delete_many({"repo_id": repo_id})

    def delete_importer(self, importer_doc_id) -> None:
        self.importers.delete_one({"_id": importer_doc_id})

    def set_importer_fields(self, importer_doc_id, fields: dict) -> None:
        self.importers.update_one({"_id": importer_doc_id}, {"$set": fields})

    def cas_update_importer(self, doc: dict, build, attempts: int) -> dict:
        """:meth:`_cas_update` of an importer document."""
        return self._cas_update(self.importers, doc, build, attempts)

    # -- distributors -------------------------------------------------------------------------

    def search_distributors(self, criteria):
        """Distributors of every repository matching parsed criteria, criteria applied."""
        return criteria.apply(self.distributors.find(criteria.filters))

    def list_distributors(self) -> list[dict]:
        """Every repository's distributors, by repository then id."""
        return list(self.distributors.find().sort([("repo_id", 1), ("id", 1)]))

    def find_distributor(self, repo_id: str, distributor_id: str) -> dict | None:
        return self.distributors.find_one({"repo_id": repo_id, "id": distributor_id})

    def save_distributor(self, doc: dict) -> None:
        """Insert, or replace the repository's distributor with the same ``id``."""
        self.distributors.replace_one(
            {"repo_id": doc["repo_id"], "id": doc["id"]}, doc, upsert=True
        )

    def delete_distributor(self, distributor_doc_id) -> None:
        self.distributors.delete_one({"_id": distributor_doc_id})

    def set_distributor_fields(self, distributor_doc_id, fields: dict) -> None:
        self.distributors.update_one({"_id": distributor_doc_id}, {"$set": fields})

    def distributors_elsewhere(self, distributor_type_id: str, repo_id: str):
        """Distributors of this type in repositories other than ``repo_id`` (a cursor)."""
        return self.distributors.find(
            {"distributor_type_id": distributor_type_id, "repo_id": {"$ne": repo_id}}
        )

    def other_publisher_at(self, location: list, distributor_doc_id) -> dict | None:
        """Another distributor whose ``published_location`` is ``location``, or None."""
        return self.distributors.find_one(
            {"published_location": location, "_id": {"$ne": distributor_doc_id}}, {"_id": 1})

    def cas_update_distributor(self, doc: dict, build, attempts: int) -> dict:
        """:meth:`_cas_update` of a distributor document."""
        return self._cas_update(self.distributors, doc, build, attempts)

    # -- compare-and-set ----------------------------------------------------------------------

    def _cas_update(self, collection, doc: dict, build, attempts: int) -> dict:
        """Retry ``build(doc) -> changes`` (merge and validate) until a compare-and-set of the
        document's ``revision`` lands: concurrent deltas each get validated against what they
        are merged into, and none is lost. Returns the document as written."""
        doc_id, repo_id = doc["_id"], doc["repo_id"]
        for attempt in range(attempts):
            if attempt:
                time.sleep(random.uniform(0, 0.002 * min(attempt, 10)))
                doc = collection.find_one({"_id": doc_id})
                if doc is None:
                    raise MissingResource(f"{collection.name} {doc_id} was removed",
                                          repository=repo_id)
            changes = build(doc)
            if self.compare_and_set(collection, doc_id, doc.get("revision", 0), changes):
                return {**doc, **changes, "revision": doc.get("revision", 0) + 1}
        raise ConflictingOperation(
            f"{collection.name} {doc_id} kept changing; the update was not applied")

    # -- history ------------------------------------------------------------------------------

    def insert_sync_result(self, entry: dict) -> None:
        self.sync_results.insert_one(entry)

    def insert_publish_result(self, entry: dict) -> None:
        self.publish_results.insert_one(entry)

    def sync_results_page(self, query: dict, direction: int, limit: int | None):
        """:meth:`_history_page` of ``repo_sync_results``."""
        return self._history_page(self.sync_results, query, direction, limit)

    def publish_results_page(self, query: dict, direction: int, limit: int | None):
        """:meth:`_history_page` of ``repo_publish_results``."""
        return self._history_page(self.publish_results, query, direction, limit)

    @staticmethod
    def _history_page(collection, query: dict, direction: int, limit: int | None):
        # ObjectIds made by different workers in the same second are not ordered; ``started``
        # is.
        cursor = collection.find(query).sort([("started", direction), ("_id", direction)])
        if limit:
            cursor = cursor.limit(limit)
        return cursor

    def purge_history_before(self, cutoff) -> None:
        """Drop sync and publish history entries started before ``cutoff``."""
        for collection in (self.sync_results, self.publish_results):
            collection.delete_many({"started": {"$lt": cutoff}})
