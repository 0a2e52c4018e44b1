"""Scheduled calls: the ``scheduled_calls`` collection."""

from __future__ import annotations


class ScheduleQueries:
    """Store methods over ``schedules``."""

    def insert_schedule(self, doc: dict) -> None:
        self.schedules.insert_one(doc)

    def list_schedules(self, owner: dict) -> list[dict]:
        """The schedules of an importer, a distributor or a consumer's content action (``owner``
        fields), oldest first."""
        return list(self.schedules.find(owner).sort("first_run", 1))

    def repository_schedules(self) -> list[dict]:
        """Every sync and publish schedule (no content-action ones), projected to what a
        listing shows: one read for all repositories. SecantusDB workaround: callers keep
        the ones they want with set arithmetic rather than sending a long ``$in`` of ids."""
        return list(self.schedules.find(
            {"kind": {"$in": ["sync", "publish"]}},
            {"repo_id": 1, "kind": 1, "importer_type_id": 1, "distributor_id": 1,
             "enabled": 1, "next_run": 1}))

    def find_schedule(self, schedule_id: str, owner: dict | None = None) -> dict | None:
        return self.schedules.find_one({"_id": schedule_id, **(owner or {})})

    def set_schedule_fields(self, schedule_id: str, fields: dict) -> None:
        self.schedules.update_one({"_id": schedule_id}, {"$set": fields})

    def delete_schedule(self, schedule_id: str) -> None:
        self.schedules.delete_one({"_id": schedule_id})

    def delete_repository_schedules(self, repo_id: str) -> None:
        self.schedules.delete_many({"repo_id": repo_id})

    def delete_sync_schedules(self, repo_id: str) -> None:
        self.schedules.delete_many({"repo_id": repo_id, "kind": "sync"})

    def delete_publish_schedules(self, repo_id: str, distributor_id: str) -> None:
        self.schedules.delete_many({"repo_id": repo_id, "distributor_id": distributor_id})

    def delete_consumer_schedules(self, consumer_id: str) -> None:
        self.schedules.delete_many({"consumer_id": consumer_id})

    def due_schedules(self, moment):
        """Enabled schedules whose ``next_run`` is at or before ``moment`` (a cursor)."""
        return self.schedules.find({"enabled": True, "next_run": {"$lte": moment}})

    def claim_schedule_run(self, doc: dict, changes: dict) -> bool:
        """Advance a due schedule unless another scheduler fired it first (True: ours)."""
        claimed = self.schedules.update_one(
            {"_id": doc["_id"], "next_run": doc["next_run"], "enabled": True},
            {"$set": changes, "$inc": {"total_run_count": 1}},
        )
        return bool(claimed.modified_count)

    def reset_schedule_failures(self, schedule_id: str) -> None:
        self.schedules.update_one({"_id": schedule_id}, {"$set": {"consecutive_failures": 0}})

    def count_schedule_failure(self, schedule_id: str) -> dict | None:
        """Increment ``consecutive_failures``; the document after the change, or None."""
        return self.schedules.find_one_and_update(
            {"_id": schedule_id}, {"$inc": {"consecutive_failures": 1}},
            return_document=True,
        )

    def disable_schedule(self, schedule_id: str) -> None:
        self.schedules.update_one({"_id": schedule_id}, {"$set": {"enabled": False}})
