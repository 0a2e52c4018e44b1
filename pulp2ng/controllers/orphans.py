"""Orphans: units no repository references; listing and deletion (units and their files).

Orphans are computed by set arithmetic: one projected scan of ``repo_content_units.unit_id``
and one of each unit collection. Deletion tasks are unreserved (as in Pulp 2) and safe against
concurrent syncs, copies and uploads through :mod:`pulp2ng.db.orphan_guard`.

A unit's files are its ``_storage_path`` plus, for units made of several files (a
``distribution`` tree's images), every path in its ``_storage_paths`` list: a file is removed
only when its unit is gone and no remaining unit of the type names it in either field.
"""

from __future__ import annotations

import os
import uuid

from pulp2ng.controllers.units import require_type, unit_doc
from pulp2ng.db import orphan_guard
from pulp2ng.errors import MissingResource
from pulp2ng.tasking import tags
from pulp2ng.tasking.dispatch import CallReport, dispatch
from pulp2ng.tasking.registry import task

API = "/pulp/api/v2/content/orphans"
_BATCH = 1000


def associated_ids(store) -> set[str]:
    """Every unit id some repository references (unit ids are unique across types)."""
    return store.associated_unit_ids()


def _orphan_ids(store, type_id: str, associated: set) -> list[str]:
    return [uid for uid in store.unit_ids(type_id) if uid not in associated]


def counts(platform) -> dict:
    associated = associated_ids(platform.store)
    return {
        type_id: {"count": len(_orphan_ids(platform.store, type_id, associated)),
                  "_href": f"{API}/{type_id}/"}
        for type_id in sorted(platform.plugins.types)
    }


def list_type(platform, type_id: str) -> list[dict]:
    unit_type = require_type(platform, type_id, internal_ok=True)
    associated = associated_ids(platform.store)
    projection = dict.fromkeys(("_id", "_content_type_id", *unit_type.unit_key), 1)
    result = []
    for unit in platform.store.scan_units(type_id, {}, projection):
        if unit["_id"] not in associated:
            doc = unit_doc(unit, href=False)
            doc["_href"] = f"{API}/{type_id}/{unit['_id']}/"
            result.append(doc)
    return result


def get_orphan(platform, type_id: str, uid: str) -> dict:
    require_type(platform, type_id, internal_ok=True)
    store = platform.store
    unit = store.find_unit(type_id, uid)
    if unit is None or store.unit_is_associated(uid):
        raise MissingResource(orphan=uid)
    doc = unit_doc(unit)
    doc["_href"] = f"{API}/{type_id}/{uid}/"
    return doc


# -- deletion ---------------------------------------------------------------------------------


def queue_delete(platform, type_id: str | None = None, uid: str | None = None) -> CallReport:
    if type_id is not None:
        require_type(platform, type_id, internal_ok=True)
    if uid is not None:
        get_orphan(platform, type_id, uid)
    task_id = dispatch(platform, delete_orphans_task, resource=None,
                       tags=[tags.content_unit("orphans")],
                       kwargs={"type_id": type_id, "unit_id": uid})
    return CallReport(spawned_tasks=[task_id])


@task("pulp2ng.tasks.content.delete_orphans")
def delete_orphans_task(ctx, type_id: str | None = None, unit_id: str | None = None):
    """Result: ``{type_id: units deleted}``."""
    platform = ctx.platform
    store = platform.store
    types = [type_id] if type_id else sorted(platform.plugins.types)
    token = uuid.uuid4().hex
    orphan_guard.register_run(store, token)
    try:
        return {t: _delete_type(platform, ctx, token, t, unit_id) for t in types}
    finally:
        orphan_guard.end_run(store, token)


def _delete_type(platform, ctx, token: str, type_id: str, only: str | None) -> int:
    store = platform.store
    projection = {"_id": 1, "_storage_path": 1, "_storage_paths": 1, orphan_guard.GUARD: 1}
    query = {"_id": only} if only else {}
    # Step 2 then 3 of the protocol: units (with their guards) first, associations after.
    # Each unit is kept as a (guard, paths) tuple: a fraction of its document's memory.
    seen = {d["_id"]: (d.get(orphan_guard.GUARD), unit_paths(d))
            for d in store.scan_units(type_id, query, projection)}
    if only:
        linked = store.associated_ids_of(only)
    else:
        linked = associated_ids(store)
    candidates = {uid: kept for uid, kept in seen.items() if uid not in linked}
    del seen, linked
    if not candidates:
        return 0
    ids = list(candidates)
    for start in range(0, len(ids), _BATCH):
        ctx.check_canceled()
        orphan_guard.renew_run(store, token)
        orphan_guard.delete_if_unchanged(store, type_id, {
            uid: candidates[uid][0] for uid in ids[start:start + _BATCH]})
    del ids
    # Step 5: what is really gone, and which of its files nothing references any more.
    paths = {path for _, kept in candidates.values() for path in kept}
    survivors, referenced = _referenced(store, type_id, paths, only)
    deleted = [uid for uid in candidates if uid not in survivors]
    doomed = {path for uid in deleted for path in candidates[uid][1]} - referenced
    _remove_files(platform, token, type_id, doomed, only)
    return len(deleted)


def unit_paths(doc: dict) -> tuple:
    """Every stored file a unit document names (``_storage_path`` and ``_storage_paths``)."""
    extra = doc.get("_storage_paths")
    paths = [doc.get("_storage_path"), *(extra if isinstance(extra, list) else ())]
    return tuple(p for p in paths if isinstance(p, str) and p)


def _referenced(store, type_id: str, paths: set, only: str | None) -> tuple[set, set]:
    """Ids of the units still stored (all, or just ``only``) and which of ``paths`` they use."""
    if only:
        docs = store.units_using_paths(type_id, paths)
        survivors = {d["_id"] for d in docs}
        if store.unit_exists(type_id, only):
            survivors.add(only)
        return survivors, {p for d in docs for p in unit_paths(d)} & paths
    survivors, used = set(), set()
    for d in store.scan_units(type_id, {}, {"_storage_path": 1, "_storage_paths": 1}):
        survivors.add(d["_id"])
        used.update(p for p in unit_paths(d) if p in paths)
    return survivors, used


def _remove_files(platform, token: str, type_id: str, paths: set, only: str | None) -> None:
    """Move files to tombstones, put back any a unit references again, unlink the rest."""
    storage = platform.storage
    tombs = {}
    for n, rel in enumerate(sorted(paths)):
        tomb = storage.root / "tmp" / f"orphan-{token}-{n}"
        try:
            os.replace(storage.path(rel), tomb)
        except FileNotFoundError:
            continue
        tombs[rel] = tomb
    if not tombs:
        return
    _, again = _referenced(platform.store, type_id, set(tombs), only)
    for rel, tomb in tombs.items():
        if rel in again:
            dest = storage.path(rel)
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(tomb, dest)
            except FileExistsError:
                pass  # a writer stored the same content again meanwhile
        tomb.unlink()
        if rel not in again:
            _prune_dirs(storage, storage.path(rel).parent)


def _prune_dirs(storage, parent) -> None:
    stop = storage.root / "content"
    while parent != stop and stop in parent.parents:
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent
