"""Repository group distributors (``repo_group_distributors``); the groups themselves are
:mod:`pulp2ng.db.groups`."""

from __future__ import annotations

from pulp2ng.errors import MissingResource


class RepoGroupQueries:
    """Store methods over repository group distributors."""

    def existing_repository_ids(self, criteria) -> list[str]:
        """Ids of the repositories matching parsed repository criteria."""
        return [r["_id"] for r in criteria.apply(
            self.repos.find(criteria.filters, {"_id": 1}))]

    # -- group distributors -----------------------------------------------------------------

    def delete_group_distributors(self, group_id: str) -> None:
        self.group_distributors.delete_many({"group_id": group_id})

    def find_group_distributors(self, group_id: str) -> list[dict]:
        return list(self.group_distributors.find({"group_id": group_id}).sort("id", 1))

    def find_group_distributor(self, group_id: str, dist_id: str) -> dict | None:
        return self.group_distributors.find_one({"group_id": group_id, "id": dist_id})

    def get_group_distributor(self, group_id: str, dist_id: str) -> dict:
        doc = self.find_group_distributor(group_id, dist_id)
        if doc is None:
            raise MissingResource(repo_group=group_id, group_distributor=dist_id)
        return doc

    def save_group_distributor(self, doc: dict) -> None:
        """Insert, or replace the group's distributor with the same ``id``."""
        self.group_distributors.replace_one(
            {"group_id": doc["group_id"], "id": doc["id"]}, doc, upsert=True)

    def set_group_distributor_fields(self, doc_id, fields: dict) -> None:
        self.group_distributors.update_one({"_id": doc_id}, {"$set": fields})

    def delete_group_distributor(self, doc_id) -> None:
        self.group_distributors.delete_one({"_id": doc_id})
