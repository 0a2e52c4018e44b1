"""Users: the ``users`` collection."""

from __future__ import annotations


class UserQueries:
    """Store methods over ``users``."""

    def create_user_once(self, login: str, fields: dict) -> None:
        """Insert user ``login`` with ``fields`` unless it exists (an existing one is kept)."""
        self.users.update_one({"_id": login}, {"$setOnInsert": fields}, upsert=True)

    def find_user_password(self, login: str) -> dict | None:
        """The user's document with only its ``password`` hash, or None."""
        return self.users.find_one({"_id": login}, {"password": 1})
