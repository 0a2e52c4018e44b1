"""Repository groups and their distributors: ``repo_groups``, ``repo_group_distributors``."""

from __future__ import annotations

from pulp2ng.errors import MissingResource


class RepoGroupQueries:
    """Store methods over repository groups and group distributors."""

    def insert_repo_group(self, doc: dict) -> None:
        """Raises DuplicateKeyError when the id is taken."""
        self.repo_groups.insert_one(doc)

    def find_repo_group(self, group_id: str) -> dict | None:
        return self.repo_groups.find_one({"_id": group_id})

    def get_repo_group(self, group_id: str) -> dict:
        doc = self.find_repo_group(group_id)
        if doc is None:
            raise MissingResource(repo_group=group_id)
        return doc

    def list_repo_groups(self):
        return self.repo_groups.find().sort("_id", 1)

    def search_repo_groups(self, criteria):
        """Groups matching parsed criteria (stored field names), criteria applied."""
        return criteria.apply(self.repo_groups.find(criteria.filters))

    def update_repo_group(self, group_id: str, ops: dict) -> bool:
        return self.repo_groups.update_one({"_id": group_id}, ops).matched_count != 0

    def delete_repo_group(self, group_id: str) -> None:
        self.group_distributors.delete_many({"group_id": group_id})
        self.repo_groups.delete_one({"_id": group_id})

    def add_group_members(self, group_id: str, repo_ids: list[str]) -> bool:
        return self.update_repo_group(group_id, {"$addToSet": {"repo_ids": {"$each": repo_ids}}})

    def remove_group_members(self, group_id: str, repo_ids: list[str]) -> bool:
        return self.update_repo_group(group_id, {"$pull": {"repo_ids": {"$in": repo_ids}}})

    def remove_repository_from_groups(self, repo_id: str) -> None:
        """Take ``repo_id`` out of every group's ``repo_ids``."""
        self.repo_groups.update_many({"repo_ids": repo_id}, {"$pull": {"repo_ids": repo_id}})

    def existing_repository_ids(self, criteria) -> list[str]:
        """Ids of the repositories matching parsed repository criteria."""
        return [r["_id"] for r in criteria.apply(
            self.repos.find(criteria.filters, {"_id": 1}))]

    # -- group distributors -----------------------------------------------------------------

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
