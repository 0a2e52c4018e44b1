"""Content units (``units_<type>``) and their repository associations (``repo_content_units``).

Reads that may cover many units are projected scans with ``batch_size=SCAN_BATCH``; lookups by
id above ``IN_QUERY_LIMIT`` become one scan filtered in Python (SecantusDB evaluates long
``$in`` lists slowly).
"""

from __future__ import annotations

from collections.abc import Iterable

from pulp2ng.db.common import SCAN_BATCH, insert_ignoring_duplicates


class UnitQueries:
    """Store methods over units and associations."""

    # -- units --------------------------------------------------------------------------------

    def list_units(self, type_id: str):
        """Every unit of a type, by id (a cursor)."""
        return self.units(type_id).find().sort("_id", 1)

    def search_units(self, type_id: str, criteria, projection) -> list[dict]:
        """Units of a type matching parsed criteria, criteria applied."""
        return list(criteria.apply(self.units(type_id).find(criteria.filters, projection)))

    def find_units(self, type_id: str, filters: dict, projection):
        """Units of a type matching ``filters`` (a cursor, default batches)."""
        return self.units(type_id).find(filters, projection)

    def scan_units(self, type_id: str, query: dict, projection):
        """Units of a type matching ``query``, read in ``SCAN_BATCH`` batches (a cursor)."""
        return self.units(type_id).find(query, projection, batch_size=SCAN_BATCH)

    def find_units_by_ids(self, type_id: str, ids: Iterable[str], projection=None):
        """:meth:`find_by_ids` over a unit type's collection."""
        return self.find_by_ids(self.units(type_id), ids, projection)

    def find_unit(self, type_id: str, uid: str) -> dict | None:
        return self.units(type_id).find_one({"_id": uid})

    def set_unit_user_metadata(self, type_id: str, uid: str, metadata: dict) -> None:
        self.units(type_id).update_one({"_id": uid}, {"$set": {"pulp_user_metadata": metadata}})

    def set_unit_fields(self, type_id: str, uid: str, fields: dict) -> bool:
        """``$set`` these fields of one stored unit (its metadata, never its key); False
        when no such unit is stored."""
        return self.units(type_id).update_one({"_id": uid}, {"$set": fields}).matched_count > 0

    def insert_units(self, type_id: str, docs: list[dict]) -> int:
        """Insert units whose id is not stored yet; returns how many were inserted."""
        return insert_ignoring_duplicates(self.units(type_id), docs)

    def unit_ids(self, type_id: str) -> list[str]:
        """The id of every unit of a type: one projected scan."""
        return [d["_id"] for d in self.units(type_id).find({}, {"_id": 1},
                                                           batch_size=SCAN_BATCH)]

    def units_using_paths(self, type_id: str, paths: set) -> list[dict]:
        """Units (``_id``, ``_storage_path``, ``_storage_paths``) naming one of ``paths`` in
        either field (``_storage_paths``: the further files of a multi-file unit)."""
        wanted = list(paths)
        return list(self.units(type_id).find(
            {"$or": [{"_storage_path": {"$in": wanted}}, {"_storage_paths": {"$in": wanted}}]},
            {"_storage_path": 1, "_storage_paths": 1}))

    def unit_exists(self, type_id: str, uid: str) -> bool:
        return bool(self.units(type_id).find_one({"_id": uid}, {"_id": 1}))

    # -- associations -------------------------------------------------------------------------

    def association_page(self, query: dict, sort, skip, limit):
        """Associations matching ``query`` in ``SCAN_BATCH`` batches, sorted and paged."""
        cursor = self.associations.find(query, batch_size=SCAN_BATCH)
        if sort:
            cursor = cursor.sort(sort)
        if skip:
            cursor = cursor.skip(skip)
        if limit:
            cursor = cursor.limit(limit)
        return cursor

    def find_associations(self, query: dict, sort=None):
        """Associations matching ``query``, sorted when ``sort`` is given (a cursor)."""
        cursor = self.associations.find(query)
        if sort:
            cursor = cursor.sort(sort)
        return cursor

    def scan_associations(self, query: dict, projection):
        """Associations matching ``query``, projected, in ``SCAN_BATCH`` batches."""
        return self.associations.find(query, projection, batch_size=SCAN_BATCH)

    def unit_repositories(self, type_id: str, ids: set, in_limit: int) -> dict[str, list]:
        """``{unit_id: [repo_id, ...]}`` for these units of a type (up to ``in_limit`` ids
        are looked up by index, more by a scan of the type's associations)."""
        members: dict[str, list] = {}
        query = {"unit_type_id": type_id}
        if len(ids) <= in_limit:
            query["unit_id"] = {"$in": list(ids)}
        for a in self.associations.find(query, {"unit_id": 1, "repo_id": 1}):
            if a["unit_id"] in ids:
                members.setdefault(a["unit_id"], []).append(a["repo_id"])
        return members

    def associated_unit_ids(self) -> set[str]:
        """Every unit id some repository references (unit ids are unique across types)."""
        return {a["unit_id"] for a in self.associations.find({}, {"unit_id": 1, "_id": 0},
                                                             batch_size=SCAN_BATCH)}

    def unit_is_associated(self, uid: str) -> bool:
        return bool(self.associations.find_one({"unit_id": uid}, {"_id": 1}))

    def associated_ids_of(self, uid: str) -> set[str]:
        """``{uid}`` if some repository references unit ``uid``, else an empty set."""
        return {a["unit_id"] for a in self.associations.find({"unit_id": uid}, {"unit_id": 1})}

    def insert_associations(self, docs: list[dict]) -> int:
        """Insert associations not stored yet; returns how many were inserted."""
        return insert_ignoring_duplicates(self.associations, docs)

    def delete_associations(self, ids: Iterable[str]) -> int:
        """:meth:`delete_by_ids` over the associations."""
        return self.delete_by_ids(self.associations, ids)
