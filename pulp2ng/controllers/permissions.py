"""Permission grants (Pulp 2 §1.11) and the automatic ones: whoever creates a resource gets
every operation on it, and a deleted resource takes every grant on it (and below) along,
so a later resource of the same name starts with none."""

from __future__ import annotations

from pulp2ng.access import OPERATIONS, SUPER_USERS, resource_path
from pulp2ng.controllers.users import get_role, get_user
from pulp2ng.db.users import role_holder, user_holder
from pulp2ng.errors import InvalidValue, MissingValue


def list_permissions(store, resource: str | None) -> list[dict]:
    """Pulp 2's permission objects: one per resource, ``users`` mapping login → operations
    (role grants reach users through their roles and are shown on the roles)."""
    grants = store.grants_on(resource_path(resource) if resource else None)
    by_resource: dict[str, dict] = {}
    for grant in grants:
        if not grant["holder"].startswith("user:"):
            continue
        entry = by_resource.setdefault(grant["resource"], {"resource": grant["resource"],
                                                           "users": {}})
        entry["users"][grant["holder"][len("user:"):]] = sorted(grant["operations"])
    return list(by_resource.values())


def roles_in_full(store, roles: list[dict]) -> list[tuple[dict, list[str], dict]]:
    """Each role with its members and its permissions: two queries for any number of roles."""
    members: dict[str, list[str]] = {}
    for user in store.users_with_roles():
        for role_id in user.get("roles", ()):
            members.setdefault(role_id, []).append(user["_id"])
    grants: dict[str, dict] = {}
    for g in store.grants_of([role_holder(r["_id"]) for r in roles]) if roles else ():
        grants.setdefault(g["holder"], {})[g["resource"]] = sorted(g["operations"])
    return [(r, sorted(members.get(r["_id"], [])), grants.get(role_holder(r["_id"]), {}))
            for r in roles]


def _grant_request(body) -> tuple[str, list[str]]:
    if not isinstance(body, dict):
        raise InvalidValue(["body"], "the request must be a JSON object")
    resource, operations = body.get("resource"), body.get("operations")
    missing = [k for k, v in (("resource", resource), ("operations", operations)) if v is None]
    if missing:
        raise MissingValue(missing)
    if not isinstance(resource, str) or not resource.strip():
        raise InvalidValue(["resource"], "resource must be a URI path")
    if not isinstance(operations, list) or not operations or \
            not all(isinstance(o, str) and o.upper() in OPERATIONS for o in operations):
        raise InvalidValue(["operations"], f"operations must be a list of {list(OPERATIONS)}")
    return resource_path(resource), sorted({o.upper() for o in operations})


def _holder(store, body, kind: str) -> str:
    key = "login" if kind == "user" else "role_id"
    name = body.get(key) if isinstance(body, dict) else None
    if name is None:
        raise MissingValue([key])
    if not isinstance(name, str):
        raise InvalidValue([key], f"{key} must be a string")
    if kind == "user":
        get_user(store, name)
        return user_holder(name)
    get_role(store, name)
    return role_holder(name)


def grant(store, body, kind: str) -> None:
    """``grant_to_user`` / ``grant_to_role``."""
    holder = _holder(store, body, kind)
    resource, operations = _grant_request(body)
    store.add_grant(holder, resource, operations)
    store.bump_auth_epochs()


def revoke(store, body, kind: str) -> None:
    """``revoke_from_user`` / ``revoke_from_role``; the super-users role keeps everything."""
    holder = _holder(store, body, kind)
    resource, operations = _grant_request(body)
    if holder == role_holder(SUPER_USERS):
        raise InvalidValue(["role_id"], "The super-users role's permissions cannot change")
    store.remove_grant(holder, resource, operations)
    store.bump_auth_epochs()


def grant_creator(store, login: str, href: str) -> None:
    """Pulp 2's automatic permissions: the creator may do anything to what it created."""
    store.add_grant(user_holder(login), resource_path(href), list(OPERATIONS))
    store.bump_auth_epochs()


def forget_resource(store, href: str) -> None:
    """A deleted resource's grants go with it."""
    if store.delete_grants_under(resource_path(href)):
        store.bump_auth_epochs()
