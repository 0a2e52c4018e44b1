"""Groups of repositories and of consumers: ``repo_groups`` and ``consumer_groups``.

Both are the same document (an ``_id``, names, notes and a list of member ids), so one set of
queries serves both, told apart by a :class:`GroupKind`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pulp2ng.errors import MissingResource


@dataclass(frozen=True)
class GroupKind:
    #: The Store attribute holding the groups' collection.
    collection: str
    #: The field listing the members' ids.
    members: str
    #: The resource a missing group is reported as (PLP0009).
    resource: str


REPO_GROUPS = GroupKind("repo_groups", "repo_ids", "repo_group")
CONSUMER_GROUPS = GroupKind("consumer_groups", "consumer_ids", "consumer_group")


class GroupQueries:
    """Store methods over either kind of group."""

    def _groups(self, kind: GroupKind):
        return getattr(self, kind.collection)

    def insert_group(self, kind: GroupKind, doc: dict) -> None:
        """Raises DuplicateKeyError when the id is taken."""
        self._groups(kind).insert_one(doc)

    def find_group(self, kind: GroupKind, group_id: str) -> dict | None:
        return self._groups(kind).find_one({"_id": group_id})

    def get_group(self, kind: GroupKind, group_id: str) -> dict:
        doc = self.find_group(kind, group_id)
        if doc is None:
            raise MissingResource(**{kind.resource: group_id})
        return doc

    def list_groups(self, kind: GroupKind):
        return self._groups(kind).find().sort("_id", 1)

    def search_groups(self, kind: GroupKind, criteria):
        """Groups matching parsed criteria (stored field names), criteria applied."""
        return criteria.apply(self._groups(kind).find(criteria.filters))

    def update_group(self, kind: GroupKind, group_id: str, ops: dict) -> bool:
        return self._groups(kind).update_one({"_id": group_id}, ops).matched_count != 0

    def delete_group(self, kind: GroupKind, group_id: str) -> None:
        self._groups(kind).delete_one({"_id": group_id})

    def add_group_members(self, kind: GroupKind, group_id: str, ids: list[str]) -> bool:
        return self.update_group(kind, group_id,
                                 {"$addToSet": {kind.members: {"$each": ids}}})

    def remove_group_members(self, kind: GroupKind, group_id: str, ids: list[str]) -> bool:
        return self.update_group(kind, group_id, {"$pull": {kind.members: {"$in": ids}}})

    def remove_from_groups(self, kind: GroupKind, member_id: str) -> None:
        """Take a deleted member out of every group listing it."""
        self._groups(kind).update_many({kind.members: member_id},
                                       {"$pull": {kind.members: member_id}})
