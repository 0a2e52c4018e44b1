"""Who may do what: Pulp 2's authorization by resource path and operation.

A request's resource is its v2 path (``/v2/repositories/zoo/actions/sync/``); a grant on a
path covers everything below it. The HTTP method names the operation as Pulp 2 did (§1.0 of
the platform reference). Each API process caches verified credentials and each user's
effective grants; one read of the database's auth epochs per request drops a cache as soon
as any process changed a password, a role or a grant, so a revocation works at once.
"""

from __future__ import annotations

import hmac
import os
import threading

from pulp2ng.db.users import role_holder, user_holder
from pulp2ng.passwords import check_password, hash_password, needs_rehash

OPERATIONS = ("CREATE", "READ", "UPDATE", "DELETE", "EXECUTE")
SUPER_USERS = "super-users"
API_PREFIX = "/pulp/api"

_EXECUTE_ACTIONS = frozenset({"sync", "publish", "download"})
_UPDATE_ACTIONS = frozenset({"associate", "unassociate", "import_upload"})
_CACHE_LIMIT = 10_000


def resource_path(path: str) -> str:
    """A request path or a client-given resource as the ``/v2/…/`` path grants are keyed by."""
    path = path.strip()
    if path.startswith(API_PREFIX + "/"):
        path = path[len(API_PREFIX):]
    if not path.startswith("/"):
        path = "/" + path
    return path if path.endswith("/") else path + "/"


def operation_for(method: str, resource: str) -> str:
    """The Pulp 2 operation an HTTP method on a v2 resource path needs."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return "READ"
    if method == "PUT":
        return "UPDATE"
    if method == "DELETE":
        return "DELETE"
    parts = [p for p in resource.split("/") if p]
    if "search" in parts:
        return "READ"
    if len(parts) >= 2 and parts[-2] == "actions":
        if parts[-1] in _EXECUTE_ACTIONS:
            return "EXECUTE"
        if parts[-1] in _UPDATE_ACTIONS:
            return "UPDATE"
    return "CREATE"


def ancestors(resource: str):
    """``/v2/a/b/`` → ``/v2/a/b/``, ``/v2/a/``, ``/v2/``, ``/``: the grants that cover it."""
    if not (resource.startswith("/") and resource.endswith("/")):
        raise ValueError(f"not a resource path: {resource!r}")  # it would never reach "/"
    path = resource
    while True:
        yield path
        if path == "/":
            return
        path = path[:path.rstrip("/").rfind("/") + 1]


class AccessControl:
    """Authentication and authorization for one API process, cached between epochs."""

    def __init__(self, store):
        self.store = store
        self._key = os.urandom(32)
        self._lock = threading.Lock()
        self._epochs: tuple[int, int] | None = None
        self._credentials: dict[bytes, str] = {}
        self._grants: dict[str, dict[str, frozenset]] = {}

    def refresh(self) -> None:
        """Read the auth epochs (one small read) and drop the caches that moved."""
        credentials, grants = self.store.auth_epochs()
        with self._lock:
            if self._epochs is None or self._epochs[0] != credentials:
                self._credentials.clear()
                self._grants.clear()
            elif self._epochs[1] != grants:
                self._grants.clear()
            self._epochs = (credentials, grants)

    def verify_password(self, login: str, password: str) -> bool:
        """Is this the user's password? Upgrades a legacy hash on success."""
        token = hmac.new(self._key, f"{login}\0{password}".encode(), "sha256").digest()
        if self._credentials.get(token) == login:
            return True
        epochs = self._epochs
        user = self.store.find_user_password(login)
        stored = (user or {}).get("password", "")
        if not user or not check_password(password, stored):
            return False
        if needs_rehash(stored):
            self.store.replace_password_hash(login, stored, hash_password(password))
        with self._lock:
            if len(self._credentials) > _CACHE_LIMIT:
                self._credentials.clear()
            if self._epochs == epochs:  # not read across a change another request saw
                self._credentials[token] = login
        return True

    def permitted(self, login: str, resource: str, operation: str) -> bool:
        grants = self._grants.get(login)
        if grants is None:
            grants = self._load_grants(login)
        return any(operation in grants.get(path, ()) for path in ancestors(resource))

    def _load_grants(self, login: str) -> dict[str, frozenset]:
        epochs = self._epochs
        user = self.store.find_user_password(login) or {}
        holders = [user_holder(login)] + [role_holder(r) for r in user.get("roles", ())]
        merged: dict[str, set] = {}
        for grant in self.store.grants_of(holders) if user else ():
            merged.setdefault(grant["resource"], set()).update(grant["operations"])
        grants = {path: frozenset(ops) for path, ops in merged.items()}
        with self._lock:
            if len(self._grants) > _CACHE_LIMIT:
                self._grants.clear()
            if self._epochs == epochs:
                self._grants[login] = grants
        return grants
