"""Login certificates: the ``cert_token`` field of ``users`` documents.

A login certificate embeds its user's ``cert_token``; it is valid while the user document
still holds that token. Whoever changes a password ``$unset``s the field, and a deleted user
has no document, so either revokes every certificate issued before.
"""

from __future__ import annotations

import secrets


class CertificateQueries:
    """Store methods over ``users.cert_token``."""

    def ensure_cert_token(self, login: str) -> str | None:
        """The user's ``cert_token``, set to a new random one if it has none (atomic: only
        a document without the field is updated, so concurrent logins agree). None when the
        user does not exist."""
        self.users.update_one({"_id": login, "cert_token": {"$exists": False}},
                              {"$set": {"cert_token": secrets.token_hex(16)}})
        return self.find_cert_token(login)

    def find_cert_token(self, login: str) -> str | None:
        """The user's current ``cert_token``; None without one or without the user."""
        doc = self.users.find_one({"_id": login}, {"cert_token": 1})
        return doc.get("cert_token") if doc else None

    def user_exists(self, login: str) -> bool:
        return self.users.find_one({"_id": login}, {"_id": 1}) is not None
