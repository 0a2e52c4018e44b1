"""Users, roles and permission grants: the ``users``, ``roles`` and ``permission_grants``
collections, plus the ``auth`` epochs every API process watches to drop its caches.

A grant is one document per (holder, resource), ``_id`` deterministic, so granting is one
upsert with ``$addToSet`` and revoking one ``$pullAll``: concurrent grants never lose each
other, and a user's effective permissions are one query. Resource paths and logins may hold
``.``, so neither is ever used as a field name.
"""

from __future__ import annotations

import re

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from pulp2ng.errors import DuplicateResource

_AUTH_STATE = "auth"


def grant_id(holder: str, resource: str) -> str:
    return f"{holder}\x1f{resource}"


def user_holder(login: str) -> str:
    return f"user:{login}"


def role_holder(role_id: str) -> str:
    return f"role:{role_id}"


class UserQueries:
    """Store methods over ``users``, ``roles``, ``permission_grants`` and the auth epochs."""

    # -- users -------------------------------------------------------------------------------

    def create_user_once(self, login: str, fields: dict) -> None:
        """Insert user ``login`` with ``fields`` unless it exists (an existing one is kept)."""
        self.users.update_one({"_id": login}, {"$setOnInsert": fields}, upsert=True)

    def insert_user(self, user: dict) -> None:
        try:
            self.users.insert_one(user)
        except DuplicateKeyError:
            raise DuplicateResource(user["_id"]) from None

    def find_user(self, login: str) -> dict | None:
        """The user without its password hash, or None."""
        return self.users.find_one({"_id": login}, {"password": 0})

    def find_user_password(self, login: str) -> dict | None:
        """The user's document with only its ``password`` hash and ``roles``, or None."""
        return self.users.find_one({"_id": login}, {"password": 1, "roles": 1})

    def search_users(self, criteria):
        """Users matching parsed criteria (stored names), without password hashes."""
        fields = [f for f in criteria.fields or () if f != "password"]
        projection = {f: 1 for f in fields} if criteria.fields else {"password": 0}
        return criteria.apply(self.users.find(criteria.filters, projection or {"_id": 1}))

    def users_with_roles(self) -> list[dict]:
        """Every user's ``_id`` and ``roles``: one scan, for role membership listings."""
        return list(self.users.find({"roles.0": {"$exists": True}}, {"roles": 1}))

    def count_users_in_role(self, role_id: str, except_login: str | None = None) -> int:
        query: dict = {"roles": role_id}
        if except_login is not None:
            query["_id"] = {"$ne": except_login}
        return self.users.count_documents(query)

    def update_user(self, login: str, changes: dict, unset: tuple = ()) -> dict | None:
        """Apply ``$set`` changes (and ``$unset`` fields); the updated user, or None."""
        update: dict = {}
        if changes:
            update["$set"] = changes
        if unset:
            update["$unset"] = {field: "" for field in unset}
        if not update:
            return self.find_user(login)
        return self.users.find_one_and_update({"_id": login}, update, {"password": 0},
                                              return_document=ReturnDocument.AFTER)

    def replace_password_hash(self, login: str, old_hash: str, new_hash: str) -> None:
        """Upgrade a hash in place unless the password changed meanwhile."""
        self.users.update_one({"_id": login, "password": old_hash},
                              {"$set": {"password": new_hash}})

    def add_user_role(self, login: str, role_id: str) -> bool:
        return self.users.update_one({"_id": login},
                                     {"$addToSet": {"roles": role_id}}).matched_count == 1

    def remove_user_role(self, login: str, role_id: str) -> bool:
        return self.users.update_one({"_id": login},
                                     {"$pull": {"roles": role_id}}).matched_count == 1

    def remove_role_from_all_users(self, role_id: str) -> None:
        self.users.update_many({"roles": role_id}, {"$pull": {"roles": role_id}})

    def delete_user(self, login: str) -> bool:
        return self.users.delete_one({"_id": login}).deleted_count == 1

    # -- roles -------------------------------------------------------------------------------

    def insert_role(self, role: dict) -> None:
        try:
            self.roles.insert_one(role)
        except DuplicateKeyError:
            raise DuplicateResource(role["_id"]) from None

    def create_role_once(self, role: dict) -> None:
        self.roles.update_one({"_id": role["_id"]}, {"$setOnInsert": role}, upsert=True)

    def find_role(self, role_id: str) -> dict | None:
        return self.roles.find_one({"_id": role_id})

    def list_roles(self) -> list[dict]:
        return list(self.roles.find({}).sort("_id", 1))

    def update_role(self, role_id: str, changes: dict) -> dict | None:
        return self.roles.find_one_and_update({"_id": role_id}, {"$set": changes},
                                              return_document=ReturnDocument.AFTER)

    def delete_role(self, role_id: str) -> bool:
        return self.roles.delete_one({"_id": role_id}).deleted_count == 1

    # -- grants ------------------------------------------------------------------------------

    def add_grant(self, holder: str, resource: str, operations: list[str]) -> None:
        """Give ``holder`` (``user:<login>`` or ``role:<id>``) operations on a resource."""
        self.permission_grants.update_one(
            {"_id": grant_id(holder, resource)},
            {"$set": {"holder": holder, "resource": resource},
             "$addToSet": {"operations": {"$each": list(operations)}}},
            upsert=True)

    def remove_grant(self, holder: str, resource: str, operations: list[str]) -> None:
        _id = grant_id(holder, resource)
        self.permission_grants.update_one({"_id": _id},
                                          {"$pullAll": {"operations": list(operations)}})
        self.permission_grants.delete_one({"_id": _id, "operations": {"$size": 0}})

    def grants_of(self, holders: list[str]) -> list[dict]:
        """Every grant held by any of ``holders``: one query (the list is a user and its
        few roles, far below the length where ``$in`` gets slow on SecantusDB)."""
        return list(self.permission_grants.find(
            {"holder": {"$in": holders}}, {"_id": 0, "holder": 1, "resource": 1,
                                           "operations": 1}))

    def grants_on(self, resource: str | None) -> list[dict]:
        """Grants on one resource (all when None), sorted by resource."""
        query = {} if resource is None else {"resource": resource}
        return list(self.permission_grants.find(query).sort("resource", 1))

    def delete_grants_of(self, holder: str) -> None:
        self.permission_grants.delete_many({"holder": holder})

    def delete_grants_under(self, resource: str) -> int:
        """Drop every grant on ``resource`` and the paths below it (a deleted resource)."""
        prefix = {"$regex": "^" + re.escape(resource)}
        return self.permission_grants.delete_many({"resource": prefix}).deleted_count

    # -- auth epochs -------------------------------------------------------------------------

    def auth_epochs(self) -> tuple[int, int]:
        """(credentials, grants): bumped on every change that must drop the API's caches."""
        doc = self.counters.find_one({"_id": _AUTH_STATE}) or {}
        return doc.get("credentials", 0), doc.get("grants", 0)

    def bump_auth_epochs(self, credentials: bool = False, grants: bool = True) -> None:
        inc = {}
        if credentials:
            inc["credentials"] = 1
        if grants:
            inc["grants"] = 1
        if inc:
            self.counters.update_one({"_id": _AUTH_STATE}, {"$inc": inc}, upsert=True)
