"""What repository groups and consumer groups share: the group document, its checks, its
plain-delta update and criteria-driven membership (:mod:`pulp2ng.db.groups`)."""

from __future__ import annotations

import re

from pulp2ng.db.common import check_keys
from pulp2ng.db.criteria import parse_criteria
from pulp2ng.db.errors import DuplicateKeyError
from pulp2ng.db.groups import GroupKind
from pulp2ng.db.store import key_updates, now
from pulp2ng.errors import DuplicateResource, InvalidValue, MissingResource, MissingValue


def text(body: dict, key: str):
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidValue([key], f"{key} must be a string")
    return value


def notes(value, field: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidValue([field], "notes must be an object")
    check_keys(value, field)
    return value


def new_group(kind: GroupKind, body: dict, id_pattern: re.Pattern) -> dict:
    """A checked group document from a create request; members are not looked up."""
    group_id = body.get("id")
    if group_id is None:
        raise MissingValue(["id"])
    if not isinstance(group_id, str) or not id_pattern.match(group_id):
        raise InvalidValue(["id"], f"id must match {id_pattern.pattern}")
    members = body.get(kind.members) or []
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        raise InvalidValue([kind.members], f"{kind.members} must be a list of ids")
    return {
        "_id": group_id,
        "display_name": text(body, "display_name"),
        "description": text(body, "description"),
        kind.members: list(dict.fromkeys(members)),
        "notes": notes(body.get("notes"), "notes"),
        "scratchpad": None,
        "created": now(),
    }


def insert_group(platform, kind: GroupKind, group: dict) -> None:
    try:
        platform.store.insert_group(kind, group)
    except DuplicateKeyError:
        raise DuplicateResource(group["_id"]) from None


def update_group(platform, kind: GroupKind, group_id: str, body: dict) -> dict:
    """``display_name``, ``description`` replaced; ``notes`` merged (null removes a key)."""
    platform.store.get_group(kind, group_id)
    ops: dict = {}
    if body.get("notes") is not None:
        ops = key_updates("notes", notes(body["notes"], "notes"))
    for key in ("display_name", "description"):
        if key in body:
            ops.setdefault("$set", {})[key] = text(body, key)
    if ops and not platform.store.update_group(kind, group_id, ops):
        raise MissingResource(**{kind.resource: group_id})
    return platform.store.get_group(kind, group_id)


def change_members(platform, kind: GroupKind, group_id: str, body, matching, add: bool
                   ) -> list[str]:
    """Add (or remove) the members ``matching`` the request's ``criteria`` (a callable from
    parsed criteria, ``id`` renamed ``_id``, to member ids); returns the members after."""
    platform.store.get_group(kind, group_id)
    if not isinstance(body, dict) or body.get("criteria") is None:
        raise MissingValue(["criteria"])
    matched = matching(parse_criteria(body["criteria"]).renamed({"id": "_id"}))
    if matched:
        change = platform.store.add_group_members if add else \
            platform.store.remove_group_members
        change(kind, group_id, matched)
    return platform.store.get_group(kind, group_id).get(kind.members) or []
