"""Users and password checks. A slow KDF protects stored hashes; a short-lived cache of
successful checks keeps each authenticated request at a few microseconds."""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time

ITERATIONS = 200_000
CACHE_SECONDS = 60.0


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS)
    return f"pbkdf2_sha256${ITERATIONS}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, iterations, salt, expected = stored.split("$")
    except ValueError:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt),
                                 int(iterations))
    return hmac.compare_digest(digest.hex(), expected)


def ensure_admin(store, login: str, password: str) -> None:
    """Create the admin user on first start; an existing user is left alone."""
    store.create_user_once(login, {"login": login, "name": login, "roles": ["super-users"],
                                   "password": hash_password(password)})


def user_has_password(store, login: str, password: str) -> bool:
    user = store.find_user_password(login)
    return bool(user) and check_password(password, user.get("password", ""))


class Authenticator:
    """Verifies basic-auth credentials against ``users``, caching successes.

    The cache key is an HMAC of the credentials under a per-process random key, so the
    cache never holds a password; an entry lives ``CACHE_SECONDS``, so a changed password
    stops working for a cached login within that time.
    """

    def __init__(self, store):
        self.store = store
        self._key = os.urandom(32)
        self._cache: dict[bytes, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def verify(self, login: str, password: str) -> bool:
        token = hmac.new(self._key, f"{login}\0{password}".encode(), "sha256").digest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(token)
        if hit and now - hit[1] < CACHE_SECONDS:
            return True
        if not user_has_password(self.store, login, password):
            return False
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[token] = (login, now)
        return True
