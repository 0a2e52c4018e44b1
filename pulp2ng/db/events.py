"""Event listeners and their queued deliveries: ``event_listeners``, ``event_deliveries``.

A delivery is one document per (event, listener), written when the event happens and worked
off by an internal job; it outlives any process that dies between two attempts.
"""

from __future__ import annotations

from bson import ObjectId

#: A listener matching every event type.
ALL_EVENTS = "*"


def new_listener_id() -> str:
    return str(ObjectId())


class EventQueries:
    """Store methods over event listeners and deliveries."""

    def insert_listener(self, doc: dict) -> None:
        self.event_listeners.insert_one(doc)

    def list_listeners(self) -> list[dict]:
        return list(self.event_listeners.find({}).sort("_id", 1))

    def find_listener(self, listener_id: str) -> dict | None:
        return self.event_listeners.find_one({"_id": listener_id})

    def set_listener_fields(self, listener_id: str, fields: dict) -> bool:
        result = self.event_listeners.update_one({"_id": listener_id}, {"$set": fields})
        return bool(result.matched_count)

    def delete_listener(self, listener_id: str) -> bool:
        deleted = self.event_listeners.delete_one({"_id": listener_id}).deleted_count
        self.event_deliveries.delete_many({"listener_id": listener_id})
        return bool(deleted)

    def listeners_for(self, *event_types: str) -> list[dict]:
        """Listeners subscribed to any of ``event_types`` or to every event, with their
        ``event_types``: one read serves several events of one moment."""
        return list(self.event_listeners.find(
            {"event_types": {"$in": [*event_types, ALL_EVENTS]}}, {"event_types": 1}))

    def insert_delivery(self, doc: dict) -> None:
        self.event_deliveries.insert_one(doc)

    def find_delivery(self, delivery_id: str) -> dict | None:
        return self.event_deliveries.find_one({"_id": delivery_id})

    def claim_delivery_attempt(self, delivery_id: str, attempts: int) -> bool:
        """Count attempt ``attempts + 1`` unless another process already made it: a message
        delivered twice sends the event once."""
        claimed = self.event_deliveries.update_one(
            {"_id": delivery_id, "state": "pending", "attempts": attempts},
            {"$inc": {"attempts": 1}})
        return bool(claimed.modified_count)

    def set_delivery_fields(self, delivery_id: str, fields: dict) -> None:
        self.event_deliveries.update_one({"_id": delivery_id}, {"$set": fields})

    def overdue_deliveries(self, cutoff):
        """Pending deliveries whose next attempt was due before ``cutoff`` (a cursor)."""
        return self.event_deliveries.find(
            {"state": "pending", "next_attempt": {"$lt": cutoff}}, {"_id": 1, "next_attempt": 1})

    def delete_expired_deliveries(self, moment) -> None:
        self.event_deliveries.delete_many({"expire_at": {"$lt": moment}})
