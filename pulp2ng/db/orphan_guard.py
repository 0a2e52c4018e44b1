"""The protocol that keeps orphan deletion from removing units that are being associated.

Orphan deletion is unreserved (as in Pulp 2), so a sync, copy or upload may associate a unit
while a deletion decided it was an orphan. The two sides coordinate through the database only:

Deleter (``pulp2ng.controllers.orphans``):
  1. registers a *run* (a document in ``orphan_runs`` with a lease it renews) and bumps the
     global deletion *epoch* (a counter),
  2. scans the units of a type, remembering each unit's ``_orphan_guard`` value,
  3. scans ``repo_content_units`` (after step 2) and keeps the unassociated units,
  4. deletes each candidate with ``DeleteOne({_id, _orphan_guard: <value seen>})``: a unit
     whose guard changed since step 2 survives,
  5. rescans the units: files are removed only for units really gone and referenced by no
     remaining unit; each file is first renamed to a tombstone, the units are scanned once
     more and a file a unit references again is put back, only then are tombstones unlinked.

Associator (``RepoConduit``, which reads the epoch, then whether a run is registered, when it
is created, before the plugin reads any unit):
  a. inserts the associations,
  b. if a run was registered at creation or is now, or the epoch moved since, bumps
     ``_orphan_guard`` of the units it associated (one bulk write); a unit the bump did not
     find was deleted: ``save_units`` re-creates it, ``associate_units`` drops the dangling
     associations and fails with PLP0010 (its file is gone: the operation must be rerun),
  c. ``save_units`` then checks every unit's file exists (a stat, no query) and fails,
     without leaving the units associated, if a concurrent deletion took one.

Why it is safe: a deletion that could remove a unit the associator read was running when the
conduit was created or at (b), or started in between (epoch moved; a deleter registers its run
before it bumps the epoch and the conduit reads them in the opposite order), so (b) runs.
A deleter that read the guard before (b) then fails its conditional delete, or deleted before
(b), which notices; one that read it after (b) scans the associations after (a) and sees them.
For files, a unit re-created in (b) is either seen by the deleter's last scan (file restored)
or created after the file was moved away, and (c), which follows (b), notices. Writers pay one
``find_one`` per batch while no deletion happens; the deleter one write per orphan.
"""

from __future__ import annotations

import datetime as dt

import pymongo

from pulp2ng.db.store import now

GUARD = "_orphan_guard"
EPOCH = "orphan_epoch"
#: A run's lease; the deleter renews it every batch, a crashed one stops mattering after it.
LEASE = dt.timedelta(minutes=10)


def runs(store):
    return store.db["orphan_runs"]


def register_run(store, token: str) -> None:
    runs(store).delete_many({"expires_at": {"$lt": now()}})
    runs(store).insert_one({"_id": token, "expires_at": now() + LEASE})
    store.next_sequence(EPOCH)


def epoch(store) -> int:
    return (store.counters.find_one({"_id": EPOCH}) or {}).get("n", 0)


def renew_run(store, token: str) -> None:
    runs(store).update_one({"_id": token}, {"$set": {"expires_at": now() + LEASE}})


def end_run(store, token: str) -> None:
    runs(store).delete_one({"_id": token})


def running(store) -> bool:
    return runs(store).find_one({"expires_at": {"$gt": now()}}, {"_id": 1}) is not None


def snapshot(store) -> tuple[int, bool]:
    """What a conduit remembers at creation: the epoch, then whether a deletion runs."""
    return epoch(store), running(store)


def must_check(store, since: tuple[int, bool]) -> bool:
    """True unless no deletion ran at any time since ``since`` was taken (step b)."""
    since_epoch, was_running = since
    return was_running or epoch(store) != since_epoch or running(store)


def bump_guards(store, type_id: str, ids: list[str]) -> set[str]:
    """Change the guard of ``ids`` (step b); returns the ids that no longer exist."""
    if not ids:
        return set()
    ops = [pymongo.UpdateOne({"_id": i}, {"$inc": {GUARD: 1}}) for i in ids]
    matched = store.units(type_id).bulk_write(ops, ordered=False).matched_count
    if matched == len(set(ids)):
        return set()
    found = {d["_id"] for d in store.find_by_ids(store.units(type_id), ids, {"_id": 1})}
    return set(ids) - found


def delete_if_unchanged(store, type_id: str, guards: dict) -> int:
    """Step 4 for one batch ``{unit_id: guard value seen}``; returns how many were deleted."""
    if not guards:
        return 0
    ops = [
        pymongo.DeleteOne({"_id": uid, GUARD: g if g is not None else {"$exists": False}})
        for uid, g in guards.items()
    ]
    return store.units(type_id).bulk_write(ops, ordered=False).deleted_count
