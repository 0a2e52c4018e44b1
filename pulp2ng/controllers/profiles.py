"""Consumer unit profiles (Pulp 2's ``consumer_unit_profiles``): what a consumer has installed,
one profile per content type, reported by its agent (or any client with access).

``profile_hash`` is the sha256 of the profile's canonical JSON (sorted keys, no spaces):
consumers with identical profiles share one hash, and applicability is computed and stored
once per (profile hash, repository content revision), see
:mod:`pulp2ng.controllers.applicability`.

Profile content types with an applicability calculator (``python``, ``ostree``, ``iso``) must
be lists of objects with the keys the calculator reads, those of a plugin's calculator pass its
``validate_profile`` (``rpm``, ``modulemd``); any other content type is stored as given (Pulp 2 stored profiles of types without a profiler unchanged).
"""

from __future__ import annotations

import hashlib
import json

import bson

from pulp2ng.db.criteria import parse_criteria
from pulp2ng.errors import InvalidValue, MissingResource, MissingValue

#: Keys every entry of a profile of these content types must have.
PROFILE_KEYS = {
    "python": ("name", "version"),
    "ostree": ("ref", "commit"),
    "iso": ("name", "checksum"),
}


def profile_hash(profile) -> str:
    """sha256 of the profile's canonical JSON (sorted keys)."""
    text = json.dumps(profile, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _require_consumer(platform, consumer_id: str) -> None:
    if not platform.store.consumer_exists(consumer_id):
        raise MissingResource(consumer=consumer_id)


def _check_profile(content_type: str, profile) -> None:
    keys = PROFILE_KEYS.get(content_type)
    if keys is None:
        return
    if not isinstance(profile, list):
        raise InvalidValue(["profile"], f"a {content_type} profile must be a list of objects")
    for i, entry in enumerate(profile):
        if not isinstance(entry, dict) or any(
                not isinstance(entry.get(k), str) or not entry.get(k) for k in keys):
            raise InvalidValue([f"profile[{i}]"],
                               f"each {content_type} profile entry needs string "
                               f"{', '.join(keys)}")


def _content_type(value) -> str:
    if value is None:
        raise MissingValue(["content_type"])
    if not isinstance(value, str) or not value or "/" in value or "\x1f" in value:
        raise InvalidValue(["content_type"], "content_type must be a non-empty string")
    return value


def save_profile(platform, consumer_id: str, content_type, profile) -> dict:
    """Create or replace the consumer's profile of ``content_type``."""
    content_type = _content_type(content_type)
    _require_consumer(platform, consumer_id)
    _check_profile(content_type, profile)
    plugin_calc = platform.plugins.applicability.get(content_type)
    why = plugin_calc.validate_profile(profile) if plugin_calc is not None else None
    if why:
        raise InvalidValue(["profile"], why)
    return platform.store.save_profile({
        "oid": str(bson.ObjectId()),
        "consumer_id": consumer_id,
        "content_type": content_type,
        "profile": profile,
        "profile_hash": profile_hash(profile),
    })


def create_profile(platform, consumer_id: str, body: dict) -> dict:
    if "profile" not in body:
        raise MissingValue(["profile"])
    return save_profile(platform, consumer_id, body.get("content_type"), body["profile"])


def update_profile(platform, consumer_id: str, content_type: str, body: dict) -> dict:
    if "profile" not in body:
        raise MissingValue(["profile"])
    _require_consumer(platform, consumer_id)
    if platform.store.find_profile(consumer_id, content_type) is None:
        raise MissingResource(consumer=consumer_id, content_type=content_type)
    return save_profile(platform, consumer_id, content_type, body["profile"])


def list_profiles(platform, consumer_id: str) -> list[dict]:
    _require_consumer(platform, consumer_id)
    return platform.store.consumer_profiles(consumer_id)


def get_profile(platform, consumer_id: str, content_type: str) -> dict:
    _require_consumer(platform, consumer_id)
    doc = platform.store.find_profile(consumer_id, content_type)
    if doc is None:
        raise MissingResource(consumer=consumer_id, content_type=content_type)
    return doc


def delete_profile(platform, consumer_id: str, content_type: str) -> None:
    _require_consumer(platform, consumer_id)
    if not platform.store.delete_profile(consumer_id, content_type):
        raise MissingResource(consumer=consumer_id, content_type=content_type)


def search_profiles(platform, raw_criteria) -> list[dict]:
    criteria = parse_criteria(raw_criteria)
    # ``_id`` shown to clients is the oid; the stored ``_id`` is internal.
    return platform.store.search_profiles(criteria.renamed({"_id": "oid", "id": "oid"}))
