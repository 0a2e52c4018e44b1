"""Users and roles (Pulp 2 §1.11). Every change that affects who may do what bumps the
database's auth epochs, so each API process drops its caches on its next request."""

from __future__ import annotations

import re

from pulp2ng.access import OPERATIONS, SUPER_USERS
from pulp2ng.controllers.fields import known_fields
from pulp2ng.db.users import role_holder, user_holder
from pulp2ng.errors import InvalidValue, MissingResource, MissingValue
from pulp2ng.passwords import hash_password

LOGIN = re.compile(r"^[.@\-_A-Za-z0-9]+$")
ROLE_ID = re.compile(r"^[\-_A-Za-z0-9]+$")
_USER_FIELDS = {"login", "password", "name"}
_USER_DELTA = {"password", "name", "roles"}
_ROLE_FIELDS = {"role_id", "display_name", "description"}
_ROLE_DELTA = {"display_name", "description"}


def ensure_admin(store, login: str, password: str) -> None:
    """On first start: the built-in super-users role (every operation on ``/``) and the
    config's admin user in it. An existing user keeps its password, so after this first
    start the config file need not hold the password any more."""
    store.create_role_once({"_id": SUPER_USERS, "id": SUPER_USERS,
                            "display_name": "Super Users",
                            "description": "Users with every permission on every resource"})
    store.add_grant(role_holder(SUPER_USERS), "/", list(OPERATIONS))
    if store.find_user(login) is None:
        store.create_user_once(login, {"login": login, "name": login, "roles": [SUPER_USERS],
                                       "password": hash_password(password)})


def _string(body: dict, key: str, required: bool = False, default=None):
    value = body.get(key, default)
    if value is None:
        if required:
            raise MissingValue([key])
        return None
    if not isinstance(value, str):
        raise InvalidValue([key], f"{key} must be a string")
    return value


# -- users --------------------------------------------------------------------------------


def get_user(store, login: str) -> dict:
    user = store.find_user(login)
    if user is None:
        raise MissingResource(user=login)
    return user


def create_user(store, body) -> dict:
    known_fields(body, _USER_FIELDS, "user")
    login = _string(body, "login", required=True)
    if not LOGIN.match(login):
        raise InvalidValue(["login"], f"Invalid login {login!r}: use letters, digits and .@-_")
    password = _string(body, "password") or ""
    name = _string(body, "name") or login
    user = {"_id": login, "login": login, "name": name, "roles": [],
            "password": hash_password(password)}
    store.insert_user(user)
    return get_user(store, login)


def update_user(store, login: str, body) -> dict:
    if not isinstance(body, dict) or not isinstance(body.get("delta"), dict):
        raise MissingValue(["delta"])
    delta = known_fields(body["delta"], _USER_DELTA, "delta")
    user = get_user(store, login)
    changes: dict = {}
    unset: tuple = ()
    if "name" in delta:
        changes["name"] = _string(delta, "name") or login
    if "password" in delta:
        changes["password"] = hash_password(_string(delta, "password") or "")
        unset = ("cert_token",)  # revokes the user's login certificates
    if "roles" in delta:
        roles = delta["roles"]
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InvalidValue(["roles"], "roles must be a list of role ids")
        missing = [r for r in roles if store.find_role(r) is None]
        if missing:
            raise InvalidValue(["roles"], f"Unknown roles: {missing}")
        if SUPER_USERS in user.get("roles", ()) and SUPER_USERS not in roles:
            _refuse_last_super_user(store, login)
        changes["roles"] = sorted(set(roles))
    updated = store.update_user(login, changes, unset)
    if updated is None:
        raise MissingResource(user=login)
    store.bump_auth_epochs(credentials="password" in delta or "roles" in delta)
    return updated


def delete_user(store, login: str) -> None:
    user = get_user(store, login)
    if SUPER_USERS in user.get("roles", ()):
        _refuse_last_super_user(store, login)
    if not store.delete_user(login):
        raise MissingResource(user=login)
    store.delete_grants_of(user_holder(login))
    store.bump_auth_epochs(credentials=True)


def _refuse_last_super_user(store, login: str) -> None:
    if store.count_users_in_role(SUPER_USERS, except_login=login) == 0:
        raise InvalidValue(["login"], f"{login} is the last super-user and cannot be removed "
                           "or demoted")


# -- roles --------------------------------------------------------------------------------


def get_role(store, role_id: str) -> dict:
    role = store.find_role(role_id)
    if role is None:
        raise MissingResource(role=role_id)
    return role


def create_role(store, body) -> dict:
    known_fields(body, _ROLE_FIELDS, "role")
    role_id = _string(body, "role_id", required=True)
    if not ROLE_ID.match(role_id):
        raise InvalidValue(["role_id"], f"Invalid role id {role_id!r}")
    role = {"_id": role_id, "id": role_id,
            "display_name": _string(body, "display_name") or role_id,
            "description": _string(body, "description")}
    store.insert_role(role)
    return role


def update_role(store, role_id: str, body) -> dict:
    if not isinstance(body, dict) or not isinstance(body.get("delta"), dict):
        raise MissingValue(["delta"])
    delta = known_fields(body["delta"], _ROLE_DELTA, "delta")
    changes = {key: _string(delta, key) for key in delta}
    get_role(store, role_id)
    role = store.update_role(role_id, changes) if changes else store.find_role(role_id)
    if role is None:
        raise MissingResource(role=role_id)
    return role


def delete_role(store, role_id: str) -> None:
    if role_id == SUPER_USERS:
        raise InvalidValue(["role_id"], "The super-users role cannot be deleted")
    get_role(store, role_id)
    store.delete_role(role_id)
    store.remove_role_from_all_users(role_id)
    store.delete_grants_of(role_holder(role_id))
    store.bump_auth_epochs()


def add_user_to_role(store, role_id: str, body) -> None:
    login = _string(known_fields(body, {"login"}, "body"), "login", required=True)
    get_role(store, role_id)
    if not store.add_user_role(login, role_id):
        raise MissingResource(user=login)
    store.bump_auth_epochs()


def remove_user_from_role(store, role_id: str, login: str) -> None:
    get_role(store, role_id)
    user = get_user(store, login)
    if role_id not in user.get("roles", ()):
        raise InvalidValue(["login"], f"User {login} is not in role {role_id}")
    if role_id == SUPER_USERS:
        _refuse_last_super_user(store, login)
    store.remove_user_role(login, role_id)
    store.bump_auth_epochs()
