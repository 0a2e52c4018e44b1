"""Pulp criteria → pymongo query parts. Pure: no database, fully validated.

A criteria document is ``{filters, sort, limit, skip, fields}``; unit association criteria add
``type_ids``, ``remove_duplicates`` and split ``filters``/``sort``/``fields`` into ``unit`` and
``association``. Anything a client sends that is not a known operator or of the wrong type is an
:class:`InvalidCriteria` naming the offending field, never a database error.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pulp2ng.errors import InvalidCriteria

#: Query operators a client may use; ``$where``, ``$function`` and friends are refused.
ALLOWED_OPERATORS = frozenset(
    "$and $or $nor $not $eq $ne $gt $gte $lt $lte $in $nin $exists $regex $options $all "
    "$size $elemMatch $type".split()
)
_LIST_OPERATORS = frozenset({"$and", "$or", "$nor"})
_SORT_DIRECTIONS = {"ascending": 1, "descending": -1, 1: 1, -1: -1, "1": 1, "-1": -1}


@dataclass
class Criteria:
    filters: dict = field(default_factory=dict)
    sort: list = field(default_factory=list)
    limit: int | None = None
    skip: int | None = None
    fields: list | None = None

    @property
    def projection(self) -> dict | None:
        return {f: 1 for f in self.fields} if self.fields else None

    def renamed(self, mapping: dict) -> "Criteria":
        """The same criteria over stored field names (``{"id": "_id"}`` for repositories)."""
        return Criteria(
            filters=_rename_keys(self.filters, mapping),
            sort=[(mapping.get(f, f), d) for f, d in self.sort],
            limit=self.limit,
            skip=self.skip,
            fields=[mapping.get(f, f) for f in self.fields] if self.fields else None,
        )

    def apply(self, cursor):
        """Apply sort, skip and limit to a pymongo cursor."""
        if self.sort:
            cursor = cursor.sort(self.sort)
        if self.skip:
            cursor = cursor.skip(self.skip)
        if self.limit:
            cursor = cursor.limit(self.limit)
        return cursor


@dataclass
class UnitAssociationCriteria:
    type_ids: list | None = None
    unit: Criteria = field(default_factory=Criteria)
    association: Criteria = field(default_factory=Criteria)
    limit: int | None = None
    skip: int | None = None
    remove_duplicates: bool = False


def _rename_keys(filters, mapping: dict):
    if isinstance(filters, dict):
        return {mapping.get(k, k): _rename_keys(v, mapping) for k, v in filters.items()}
    if isinstance(filters, list):
        return [_rename_keys(v, mapping) for v in filters]
    return filters


def parse_criteria(raw, name: str = "criteria") -> Criteria:
    """Validate a criteria document. Raises InvalidCriteria naming the bad field."""
    if raw is None:
        return Criteria()
    if not isinstance(raw, dict):
        raise InvalidCriteria([name], f"{name} must be an object")
    unknown = set(raw) - {"filters", "sort", "limit", "skip", "fields"}
    if unknown:
        raise InvalidCriteria(
            [f"{name}.{k}" for k in sorted(unknown)], f"Unknown criteria keys: {sorted(unknown)}"
        )
    return Criteria(
        filters=parse_filters(raw.get("filters"), f"{name}.filters"),
        sort=parse_sort(raw.get("sort"), f"{name}.sort"),
        limit=_non_negative_int(raw.get("limit"), f"{name}.limit"),
        skip=_non_negative_int(raw.get("skip"), f"{name}.skip"),
        fields=_string_list(raw.get("fields"), f"{name}.fields"),
    )


def parse_unit_association_criteria(raw, name: str = "criteria") -> UnitAssociationCriteria:
    """Validate unit association criteria (filters/sort/fields split by unit/association)."""
    if raw is None:
        return UnitAssociationCriteria()
    if not isinstance(raw, dict):
        raise InvalidCriteria([name], f"{name} must be an object")
    known = {"type_ids", "filters", "sort", "fields", "limit", "skip", "remove_duplicates"}
    unknown = set(raw) - known
    if unknown:
        raise InvalidCriteria(
            [f"{name}.{k}" for k in sorted(unknown)], f"Unknown criteria keys: {sorted(unknown)}"
        )
    parts = {}
    for key in ("filters", "sort", "fields"):
        value = raw.get(key) or {}
        if not isinstance(value, dict) or set(value) - {"unit", "association"}:
            raise InvalidCriteria(
                [f"{name}.{key}"], f"{name}.{key} must be an object with unit/association"
            )
        parts[key] = value
    sides = {}
    for side in ("unit", "association"):
        sides[side] = Criteria(
            filters=parse_filters(parts["filters"].get(side), f"{name}.filters.{side}"),
            sort=parse_sort(parts["sort"].get(side), f"{name}.sort.{side}"),
            fields=_string_list(parts["fields"].get(side), f"{name}.fields.{side}"),
        )
    remove_duplicates = raw.get("remove_duplicates", False)
    if not isinstance(remove_duplicates, bool):
        raise InvalidCriteria([f"{name}.remove_duplicates"], "remove_duplicates must be a bool")
    return UnitAssociationCriteria(
        type_ids=_string_list(raw.get("type_ids"), f"{name}.type_ids"),
        unit=sides["unit"],
        association=sides["association"],
        limit=_non_negative_int(raw.get("limit"), f"{name}.limit"),
        skip=_non_negative_int(raw.get("skip"), f"{name}.skip"),
        remove_duplicates=remove_duplicates,
    )


def parse_filters(raw, name: str) -> dict:
    """Validate a mongo-style filter; ``{"$date": iso}`` values become datetimes."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidCriteria([name], f"{name} must be an object")
    return {key: _filter_value(key, value, f"{name}.{key}") for key, value in raw.items()}


def _filter_value(key: str, value, name: str):
    if not isinstance(key, str) or not key:
        raise InvalidCriteria([name], "filter keys must be non-empty strings")
    if key.startswith("$"):
        if key not in ALLOWED_OPERATORS:
            raise InvalidCriteria([name], f"Unsupported operator {key}")
        if key in _LIST_OPERATORS:
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise InvalidCriteria([name], f"{key} takes a list of filters")
            return [parse_filters(v, f"{name}[{i}]") for i, v in enumerate(value)]
        if key == "$regex" and not isinstance(value, str):
            raise InvalidCriteria([name], "$regex takes a string")
        if key in ("$in", "$nin", "$all") and not isinstance(value, list):
            raise InvalidCriteria([name], f"{key} takes a list")
        if key == "$size" and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidCriteria([name], "$size takes an integer")
        if key == "$exists" and not isinstance(value, bool):
            raise InvalidCriteria([name], "$exists takes a boolean")
    return _convert(value, name)


def _convert(value, name: str):
    if isinstance(value, dict):
        if set(value) == {"$date"}:
            return _parse_date(value["$date"], name)
        return {k: _filter_value(k, v, f"{name}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_convert(v, name) for v in value]
    return value


def _parse_date(text, name: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidCriteria([name], f"Invalid date {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def parse_sort(raw, name: str) -> list:
    """``[[field, "ascending"|"descending"], …]`` → pymongo sort list."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidCriteria([name], f"{name} must be a list of [field, direction]")
    result = []
    for item in raw:
        if isinstance(item, str):
            item = [item, "ascending"]
        if (
            not isinstance(item, list)
            or not 1 <= len(item) <= 2
            or not isinstance(item[0], str)
            or (len(item) == 2 and item[1] not in _SORT_DIRECTIONS)
        ):
            raise InvalidCriteria([name], f"Invalid sort entry {item!r}")
        result.append((item[0], _SORT_DIRECTIONS[item[1]] if len(item) == 2 else 1))
    return result


def _non_negative_int(value, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    # MongoDB takes signed 64-bit skips and limits; a larger one is an error, not a 500.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 63:
        raise InvalidCriteria([name], f"{name} must be a non-negative 64-bit integer")
    return value


def _string_list(value, name: str) -> list | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidCriteria([name], f"{name} must be a list of strings")
    return value
