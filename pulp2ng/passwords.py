"""Password hashes: argon2id for new ones; PBKDF2-SHA256 hashes of earlier releases still
verify and are replaced by argon2id at the user's next successful login."""

from __future__ import annotations

import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_ARGON2 = PasswordHasher()  # argon2id, the library's RFC 9106 "low memory" profile
_PBKDF2_PREFIX = "pbkdf2_sha256$"


def hash_password(password: str) -> str:
    return _ARGON2.hash(password)


def check_password(password: str, stored: str) -> bool:
    if stored.startswith(_PBKDF2_PREFIX):
        return _check_pbkdf2(password, stored)
    try:
        return _ARGON2.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """A legacy PBKDF2 hash, or an argon2 hash with weaker parameters than today's."""
    if stored.startswith(_PBKDF2_PREFIX):
        return True
    try:
        return _ARGON2.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def _check_pbkdf2(password: str, stored: str) -> bool:
    try:
        _, iterations, salt, expected = stored.split("$")
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt),
                                     int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)
