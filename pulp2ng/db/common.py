"""Constants and helpers shared by the Store and its per-aggregate query modules."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterable, Iterator

from pymongo.errors import BulkWriteError

from pulp2ng.errors import InvalidValue

UTC = dt.timezone.utc

# Above this many ids a lookup scans the collection once instead of sending a long ``$in``:
# SecantusDB evaluates ``$in`` per document in Python (1 000 values took ~1.8 s there), while
# a projected scan costs ~40 µs a document. Real MongoDB is fast either way.
IN_QUERY_LIMIT = 200
#: Documents per reply on long scans. Without it a server answers each getMore with up to
#: 16 MiB, which pymongo decodes at once: ~35 MiB of dicts per 50 000 small units.
SCAN_BATCH = 2000


#: Test hook: seconds this process's clock is off, as on a host whose clock drifted
#: (tests/integration/test_heartbeats.py); nothing sets it in production.
_CLOCK_SKEW = dt.timedelta(seconds=float(os.environ.get("PULP2NG_TEST_CLOCK_SKEW") or 0))


def now() -> dt.datetime:
    """Current UTC time truncated to milliseconds, the precision MongoDB keeps."""
    t = dt.datetime.now(UTC) + _CLOCK_SKEW
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def isoformat(value: dt.datetime | None) -> str | None:
    """Pulp's wire format for datetimes: ISO-8601 UTC with a ``Z``."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Lists of up to ``size`` items, read lazily: how bulk writes walk a stream."""
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def unit_id(type_id: str, unit_key: dict) -> str:
    """Deterministic unit id: the same key always maps to the same document."""
    blob = json.dumps([type_id, unit_key], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def association_id(repo_id: str, type_id: str, uid: str) -> str:
    return f"{repo_id}\x1f{type_id}\x1f{uid}"


def key_updates(field: str, delta: dict) -> dict:
    """Per-key ``$set``/``$unset`` of ``field.<key>`` for a delta where None removes a key.

    Concurrent deltas touching different keys then never undo each other, unlike a whole
    dict read, merged and written back. Keys must be valid field names (no ``.``/``$``)."""
    ops: dict = {}
    for key, value in delta.items():
        if value is None:
            ops.setdefault("$unset", {})[f"{field}.{key}"] = ""
        else:
            ops.setdefault("$set", {})[f"{field}.{key}"] = value
    return ops


def check_keys(mapping: dict, field: str) -> None:
    """Keys of notes and configs are stored as field names: MongoDB refuses empty ones, a
    ``.`` (a path separator in updates) and a leading ``$`` (an operator)."""
    for key in mapping:
        if not isinstance(key, str) or not key or "." in key or key.startswith("$"):
            raise InvalidValue([field], f"{field} key {key!r} is not allowed: keys must be "
                               "non-empty and contain no '.' nor start with '$'")


def insert_ignoring_duplicates(collection, docs: list[dict]) -> int:
    """Unordered bulk insert; documents whose ``_id`` exists are skipped. Returns inserted."""
    if not docs:
        return 0
    try:
        return len(collection.insert_many(docs, ordered=False).inserted_ids)
    except BulkWriteError as exc:
        details = exc.details
        others = [e for e in details.get("writeErrors", []) if e.get("code") != 11000]
        if others:
            raise
        return details.get("nInserted", 0)
