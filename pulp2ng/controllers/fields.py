"""Checks of request bodies that every controller makes the same way."""

from __future__ import annotations

from pulp2ng.errors import InvalidValue


def known_fields(body, allowed: set, what: str) -> dict:
    """``body`` if it is a JSON object holding only ``allowed`` keys; else 400 naming the
    offending keys (Pulp 2 refused unknown keys of users, consumers and bindings)."""
    if not isinstance(body, dict):
        raise InvalidValue([what], f"the {what} must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidValue(unknown, f"Unsupported properties: {unknown}")
    return body
