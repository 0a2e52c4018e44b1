"""Consumers, their bindings and history: ``consumers``, ``consumer_bindings`` and
``consumer_history``.

A binding's ``_id`` is ``<consumer>\\x1f<repo>\\x1f<distributor>``, so binding twice is one
upsert and the bindings of a repository or a distributor are one indexed query.
"""

from __future__ import annotations

import secrets

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from pulp2ng.db.common import now
from pulp2ng.db.groups import CONSUMER_GROUPS
from pulp2ng.errors import DuplicateResource


def binding_id(consumer_id: str, repo_id: str, distributor_id: str) -> str:
    return f"{consumer_id}\x1f{repo_id}\x1f{distributor_id}"


class ConsumerQueries:
    """Store methods over consumers, bindings and consumer history."""

    # -- consumers ---------------------------------------------------------------------------

    def insert_consumer(self, consumer: dict) -> str:
        """Insert a consumer with a fresh certificate token; returns the token."""
        token = secrets.token_hex(16)
        try:
            self.consumers.insert_one({**consumer, "cert_token": token})
        except DuplicateKeyError:
            raise DuplicateResource(consumer["_id"]) from None
        return token

    def find_consumer(self, consumer_id: str) -> dict | None:
        return self.consumers.find_one({"_id": consumer_id}, {"cert_token": 0})

    def find_consumer_cert_token(self, consumer_id: str) -> str | None:
        doc = self.consumers.find_one({"_id": consumer_id}, {"cert_token": 1})
        return doc.get("cert_token") if doc else None

    def search_consumers(self, criteria):
        # The certificate token never leaves: kept out of an asked-for projection, and
        # excluded when no fields were asked for (every other field comes back).
        if criteria.projection:
            projection = {k: v for k, v in criteria.projection.items()
                          if k != "cert_token"} or {"_id": 1}
        else:
            projection = {"cert_token": 0}
        return criteria.apply(self.consumers.find(criteria.filters, projection))

    def update_consumer(self, consumer_id: str, update: dict) -> dict | None:
        if not update:
            return self.find_consumer(consumer_id)
        return self.consumers.find_one_and_update(
            {"_id": consumer_id}, update, {"cert_token": 0}, return_document=ReturnDocument.AFTER)

    def delete_consumer(self, consumer_id: str) -> bool:
        """Delete the consumer (revoking its certificate), its bindings, profiles and group
        memberships."""
        deleted = self.consumers.delete_one({"_id": consumer_id}).deleted_count == 1
        self.bindings.delete_many({"consumer_id": consumer_id})
        self.delete_consumer_profiles(consumer_id)
        self.remove_from_groups(CONSUMER_GROUPS, consumer_id)  # pulp2ng.db.groups
        return deleted

    def existing_consumer_ids(self, ids) -> set[str]:
        """Those of ``ids`` that name a consumer."""
        return {c["_id"] for c in self.find_by_ids(self.consumers, ids, {"_id": 1})}

    def matching_consumer_ids(self, criteria) -> list[str]:
        """Ids of the consumers matching parsed consumer criteria (stored field names)."""
        return [c["_id"] for c in criteria.apply(
            self.consumers.find(criteria.filters, {"_id": 1}))]

    # -- bindings ----------------------------------------------------------------------------

    def upsert_binding(self, binding: dict) -> dict:
        """Create or renew a binding (``deleted`` false again); returns it."""
        fields = {k: v for k, v in binding.items() if k != "_id"}
        return self.bindings.find_one_and_update(
            {"_id": binding["_id"]},
            {"$set": {**fields, "deleted": False}, "$setOnInsert": {"consumer_actions": []}},
            upsert=True, return_document=ReturnDocument.AFTER)

    def find_binding(self, consumer_id: str, repo_id: str, distributor_id: str) -> dict | None:
        return self.bindings.find_one({"_id": binding_id(consumer_id, repo_id, distributor_id)})

    def find_bindings(self, query: dict) -> list[dict]:
        """Bindings matching a simple equality query (consumer, repo, distributor, deleted)."""
        return list(self.bindings.find(query).sort("_id", 1))

    def find_bindings_of(self, consumer_ids, repo_id: str, distributor_id: str) -> list[dict]:
        """The bindings of those of ``consumer_ids`` bound to the distributor, by id (a
        distributor may have far more bound consumers than a group has members)."""
        ids = [binding_id(c, repo_id, distributor_id) for c in consumer_ids]
        return sorted(self.find_by_ids(self.bindings, ids), key=lambda b: b["_id"])

    def search_bindings(self, criteria):
        return criteria.apply(self.bindings.find(criteria.filters, criteria.projection))

    def add_consumer_action(self, _id: str, action: dict, deleted: bool | None = None) -> None:
        update: dict = {"$push": {"consumer_actions": action}}
        if deleted is not None:
            update["$set"] = {"deleted": deleted}
        self.bindings.update_one({"_id": _id}, update)

    def delete_binding(self, _id: str) -> bool:
        return self.bindings.delete_one({"_id": _id}).deleted_count == 1

    # -- history -----------------------------------------------------------------------------

    def add_consumer_event(self, consumer_id: str, event_type: str, details=None,
                           originator: str | None = None) -> None:
        self.consumer_history.insert_one({
            "consumer_id": consumer_id, "type": event_type, "details": details,
            "originator": originator or "SYSTEM", "timestamp": now()})

    def consumer_events(self, consumer_id: str, event_types: list[str], start=None, end=None,
                        sort: int = -1, limit: int | None = None) -> list[dict]:
        query: dict = {"consumer_id": consumer_id}
        if event_types:
            query["type"] = {"$in": event_types}
        if start is not None or end is not None:
            query["timestamp"] = {**({"$gte": start} if start else {}),
                                  **({"$lte": end} if end else {})}
        cursor = self.consumer_history.find(query).sort("timestamp", sort)
        return list(cursor.limit(limit) if limit else cursor)
