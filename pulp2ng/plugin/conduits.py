"""Conduits: the platform services a plugin may use during one call.

A conduit is built fresh by the platform for every sync, publish, upload or copy and handed to
the plugin, which never touches the database or the task queue directly. All unit writes are
bulk writes; all unit reads are one scan, never one query per unit.

Threads: a plugin may run its own threads (the downloader does). From any thread it may call
:attr:`RepoConduit.canceled`, :meth:`~RepoConduit.check_canceled`,
:meth:`~RepoConduit.set_progress` (the task context locks it), :meth:`~RepoConduit.unit_id`,
read :attr:`~RepoConduit.temp_dir`, :attr:`~RepoConduit.working_dir` and
``storage.temp_path()``, and :meth:`PublishConduit.link_file` / :meth:`PublishConduit.content_path`
(filesystem only). Everything that reads or writes units or the scratchpad, and
:meth:`~RepoConduit.store_file` (whose durability flag :meth:`~RepoConduit.save_units`
resets), belongs to the thread that called the plugin: threads fetch, the task thread stores.
Enter and leave :meth:`PublishConduit.publish_dir` on the task thread too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from pulp2ng.content.download import Downloader
from pulp2ng.db import orphan_guard
from pulp2ng.db.store import association_id, batched, now, unit_id
from pulp2ng.errors import ConflictingOperation, PublishError
from pulp2ng.plugin.paths import safe_relative_path
from pulp2ng.server_address import server_info

_BATCH = 1000


class ConfigConduit:
    """What :meth:`Distributor.validate_config` receives: lets a distributor check its
    config against the other repositories' distributors of its type."""

    def __init__(self, platform, distributor_type_id: str):
        self._platform = platform
        self.distributor_type_id = distributor_type_id

    def get_repo_distributors_by_relative_url(self, key: str, value: str, repo_id: str):
        """Distributors of this type in *other* repositories whose ``config[key]`` is
        ``value``, a parent of it, or under it (published paths must not overlap)."""
        value = value.strip("/")
        found = []
        for dist in self._platform.store.distributors_elsewhere(self.distributor_type_id,
                                                                  repo_id):
            other = str((dist.get("config") or {}).get(key) or dist["repo_id"]).strip("/")
            if other == value or other.startswith(value + "/") or value.startswith(other + "/"):
                found.append(dist)
        return found


class RepoConduit:
    """Shared by every conduit: the repository, its units, progress and cancellation.

    Also handed as is to ``Importer.remove_units``. Unit writes go to ``repo_id`` only, and
    count into :attr:`added_count` / :attr:`removed_count`; the platform recounts the
    repository after the call, so plugins need not report counts.

    Attributes:
        repo_id (str): the repository this conduit writes to.
        report_id (str): the plugin's key in the task's ``progress_report``.
        storage (ContentStorage): content storage; plugins use ``temp_path()``,
            ``exists(path)`` and ``path(path)``, never its private directories.
        added_count (int): associations this conduit added.
        removed_count (int): associations this conduit removed.
        removed_by_type (dict): ``removed_count`` per unit type (results leave out a plugin's
            internal types, as sync counts do).

    Args:
        platform (Platform): the worker's platform.
        ctx (TaskContext): the running task (progress, cancel flag).
        repo_id (str): the repository this call works on.
        report_id (str): key of this plugin's entry in the task's ``progress_report``.
    """

    def __init__(self, platform, ctx, repo_id: str, report_id: str):
        self._platform = platform
        self._store = platform.store
        self._ctx = ctx
        self.repo_id = repo_id
        self.report_id = report_id
        self.storage = platform.storage
        self.added_count = 0
        self.removed_count = 0
        self.removed_by_type: dict[str, int] = {}
        self._known: dict[str, str] | None = None  # see know_associations
        # Read before the plugin reads any unit: see pulp2ng.db.orphan_guard.
        self._orphan_snapshot = orphan_guard.snapshot(self._store)

    # -- task -------------------------------------------------------------------------------

    @property
    def canceled(self) -> bool:
        """True once the task was canceled; plugins stop soon after it turns true.

        Cheap to poll in a loop: the task's state is re-read at most every 250 ms. Safe from
        any thread. Stop by raising :class:`~pulp2ng.errors.TaskCanceled` (or returning a
        report with ``canceled_flag``); the task then ends ``canceled``, not ``error``.
        """
        return self._ctx.canceled

    def check_canceled(self) -> None:
        """Raise :class:`~pulp2ng.errors.TaskCanceled` if the task was canceled.

        Call it between units of work (every batch, every few hundred files); safe from any
        thread. Let the exception propagate: the platform records the cancel and cleans up.
        """
        self._ctx.check_canceled()

    def set_progress(self, report: dict, force: bool = False) -> None:
        """Publish this plugin's live progress report (throttled unless ``force``).

        ``report`` (JSON-serialisable) replaces the previous one under ``report_id`` in the
        task's ``progress_report``; unforced updates are written at most every 250 ms, so
        call it as often as you like, and with ``force`` at the end of each step. Safe from
        any thread.
        """
        self._ctx.set_progress(self.report_id, report, force=force)

    @property
    def working_dir(self) -> Path:
        """Per-task scratch directory (the transfer repo's ``working_dir``); removed when the
        task ends."""
        return self.storage.working_dir(self._ctx.task_id)

    @property
    def temp_dir(self) -> Path:
        """This task's own ``tmp/`` folder (same filesystem as content storage); it is removed
        when the task ends, also when its worker dies mid-task."""
        return self.storage.task_temp_dir(self._ctx.task_id)

    def downloader(self, config) -> Downloader:
        """A pooled downloader configured from the standard importer keys; partial files
        live in :attr:`temp_dir`.

        Use it as a context manager (``with conduit.downloader(config) as dl:``) so its
        connections and private PEM files are released. It stops with TaskCanceled when the
        task is canceled, and its methods may be called from the plugin's threads."""
        return Downloader(config, self.temp_dir, lambda: self.canceled)

    # -- scratchpad ---------------------------------------------------------------------------

    def get_repo_scratchpad(self) -> dict:
        """The repository's scratchpad: a plugin's small persistent state between calls (for
        example the last upstream revision seen). Task thread only."""
        return self._store.get_repo_scratchpad(self.repo_id)

    def set_repo_scratchpad(self, value: dict) -> None:
        """Replace the whole scratchpad; prefer :meth:`update_repo_scratchpad`."""
        self._store.set_repo_scratchpad(self.repo_id, value)

    def update_repo_scratchpad(self, values: dict) -> None:
        """Pulp 2's merge: add or replace only these keys, one ``$set`` each, so a plugin
        never needs get-modify-set (which loses keys written meanwhile by others)."""
        if not values:
            return
        self._store.update_repo_scratchpad(self.repo_id, values)

    # -- reading units ----------------------------------------------------------------------

    def unit_id(self, type_id: str, unit_key: dict) -> str:
        """The id a unit with this key has (or will have): ids are derived from keys."""
        return unit_id(type_id, unit_key)

    def repo_unit_ids(self, type_id: str) -> set[str]:
        """The ids of the repository's units of ``type_id`` (no unit document is read)."""
        if self._known is not None and not (self.added_count or self.removed_count):
            # The platform read every association as the task began; the repository's
            # reservation keeps others out, so until this conduit writes, that is current.
            return {uid for uid, t in self._known.items() if t == type_id}
        return set(self._store.repo_association_ids(self.repo_id, type_id))

    def know_associations(self, associations: dict[str, str]) -> None:
        """Platform only: ``{unit_id: type_id}`` of the repository as the task began."""
        self._known = associations

    @property
    def associations_changed(self) -> bool:
        """Whether this conduit added or removed any association."""
        return bool(self.added_count or self.removed_count)

    def repo_units(self, type_id: str, fields: Iterable[str] | None = None) -> Iterator[dict]:
        """Every unit of ``type_id`` in the repository (all fields, or ``fields`` + ``_id``).

        A lazy iterator over one scan: ask for the fields you need, and consume it on the
        task thread. The results carry ``_content_type_id``, so they can be passed to
        :meth:`associate_units` as they are."""
        ids = self._store.repo_association_ids(self.repo_id, type_id)
        projection = _projection(fields)
        return self._store.find_units_by_ids(type_id, ids, projection)

    def find_units(self, type_id: str, unit_keys: Iterable[dict],
                   fields: Iterable[str] | None = None) -> dict[str, dict]:
        """Units of any repository with these keys, by id: what is already stored.

        Use it to skip downloading content the platform already has (check
        ``storage.exists(unit["_storage_path"])`` too) and associate those units instead."""
        ids = {unit_id(type_id, key) for key in unit_keys}
        projection = _projection(fields)
        return {
            doc["_id"]: doc
            for doc in self._store.find_units_by_ids(type_id, ids, projection)
        }

    # -- writing units ------------------------------------------------------------------------

    def store_file(self, temp_path, type_id: str, sha256: str) -> str:
        """Move a verified temp file into content storage; returns its storage path.

        The file becomes durable before any unit referencing it is saved (``save_units``
        flushes storage first). ``temp_path`` must be on the storage filesystem (a
        :class:`Downloader` result, :attr:`temp_dir` or ``storage.temp_path()``) and its
        sha256 must be ``sha256``: the platform trusts it. Content already stored is not an
        error (the temp file is dropped). Put the returned path in the unit's
        ``_storage_path``. Task thread only."""
        return self.storage.import_file(temp_path, type_id, sha256)

    def save_units(self, type_id: str, units: list[dict]) -> list[str]:
        """Create units that do not exist yet and associate all of them with the repository.

        Args:
            type_id (str): the unit type.
            units (list[dict]): unit key fields plus metadata (and ``_storage_path`` for
                units with a file; a unit made of several files lists the others in
                ``_storage_paths``, so orphan cleanup removes them with it). Units whose key exists keep their stored document.
                Pass batches (the bundled importers use 1000 a call).

        Raises:
            ConflictingOperation: a concurrent orphan cleanup deleted some of the units or
                their files meanwhile (PLP0010); the client runs the operation again.

        Returns:
            list[str]: the unit ids, in the order given.
        """
        key_fields = self._platform.plugins.types[type_id].unit_key
        stamp = now()
        docs = []
        for unit in units:
            key = {f: unit[f] for f in key_fields}
            docs.append({
                **unit,
                "_id": unit_id(type_id, key),
                "_content_type_id": type_id,
                "pulp_user_metadata": unit.get("pulp_user_metadata", {}),
                "_last_updated": stamp,
            })
        self.storage.flush()  # files before the documents that point at them
        self._store.insert_units(type_id, docs)
        self._associate(docs, recreate={d["_id"]: d for d in docs})
        self._check_files(type_id, docs)
        return [d["_id"] for d in docs]

    def update_units(self, type_id: str, units: Iterable[dict]) -> int:
        """Replace the metadata of stored units with the given documents' (matched by key).

        For units an upstream may revise under the same key (errata, comps, module defaults,
        yum metadata files): every field but the key, ``_id``, ``_content_type_id`` and
        ``pulp_user_metadata`` is set (a new ``_storage_path`` included), the rest of the
        stored document stays; every repository holding the unit sees the change, as in
        Pulp 2. Units not stored are ignored; returns how many were updated. It does not
        associate: pair it with :meth:`save_units`."""
        key_fields = set(self._platform.plugins.types[type_id].unit_key)
        kept = key_fields | {"_id", "_content_type_id", "pulp_user_metadata"}
        stamp = now()
        updated = 0
        for unit in units:
            uid = unit_id(type_id, {f: unit[f] for f in key_fields})
            fields = {k: v for k, v in unit.items() if k not in kept}
            updated += self._store.set_unit_fields(type_id, uid,
                                                   {**fields, "_last_updated": stamp})
        return updated

    def associate_units(self, units: Iterable[dict]) -> int:
        """Associate existing units (dicts with ``_id`` and ``_content_type_id``).

        For units already stored (from :meth:`find_units` or a copy's source); returns the
        number of new associations. Task thread only."""
        return self._associate(units)

    def _associate(self, units: Iterable[dict], recreate: dict | None = None) -> int:
        """Insert associations in batches, guarded against a concurrent orphan deletion
        (protocol in :mod:`pulp2ng.db.orphan_guard`)."""
        added = sum(self._associate_batch(batch, recreate) for batch in batched(units, _BATCH))
        self.added_count += added
        return added

    def _associate_batch(self, units: list[dict], recreate: dict | None) -> int:
        stamp = now()
        docs = [
            {
                "_id": association_id(self.repo_id, u["_content_type_id"], u["_id"]),
                "repo_id": self.repo_id,
                "unit_id": u["_id"],
                "unit_type_id": u["_content_type_id"],
                "created": stamp,
                "updated": stamp,
            }
            for u in units
        ]
        added = self._store.insert_associations(docs)
        if not orphan_guard.must_check(self._store, self._orphan_snapshot):
            return added
        by_type: dict[str, list[str]] = {}
        for u in units:
            by_type.setdefault(u["_content_type_id"], []).append(u["_id"])
        for type_id, ids in by_type.items():
            gone = orphan_guard.bump_guards(self._store, type_id, ids)
            for _ in range(3):
                if not gone or recreate is None:
                    break
                self._store.insert_units(type_id, [recreate[i] for i in gone])
                gone = orphan_guard.bump_guards(self._store, type_id, list(gone))
            if gone:
                self.unassociate_units(type_id, gone)
                raise ConflictingOperation(
                    f"{len(gone)} {type_id} unit(s) were deleted by a concurrent orphan "
                    "cleanup while being associated; run the operation again",
                    unit_ids=sorted(gone)[:20])
        return added

    def _check_files(self, type_id: str, docs: list[dict]) -> None:
        """Step (c) of the orphan guard: every saved unit's file must still exist."""
        missing = [d["_id"] for d in docs
                   if any(not self.storage.exists(p) for p in _paths_of(d))]
        if missing:
            self.unassociate_units(type_id, missing)
            raise ConflictingOperation(
                f"the files of {len(missing)} {type_id} unit(s) were removed by a concurrent "
                "orphan cleanup; run the operation again", unit_ids=missing[:20])

    def unassociate_units(self, type_id: str, unit_ids: Iterable[str]) -> int:
        """Remove units from the repository (the units themselves stay, maybe as orphans).

        Returns the number of associations removed; task thread only."""
        ids = [association_id(self.repo_id, type_id, u) for u in unit_ids]
        removed = self._store.delete_associations(ids)
        self.removed_count += removed
        self.removed_by_type[type_id] = self.removed_by_type.get(type_id, 0) + removed
        return removed


class SyncConduit(RepoConduit):
    """Handed to ``Importer.sync_repo``; ``report_id`` is the importer type id."""


class UploadConduit(RepoConduit):
    """Handed to ``Importer.upload_unit``; the platform removes the associations it made
    if the upload fails."""


class ImportConduit(RepoConduit):
    """Handed to ``Importer.import_units``: the destination repository plus the source's units.

    Attributes:
        source_repo_id (str): the repository the units are copied from (not reserved).
    """

    def __init__(self, platform, ctx, repo_id: str, report_id: str, source_repo_id: str):
        super().__init__(platform, ctx, repo_id, report_id)
        self.source_repo_id = source_repo_id

    def source_units(self, type_id: str, fields: Iterable[str] | None = None) -> Iterator[dict]:
        """Every unit of ``type_id`` in the *source* repository, as :meth:`repo_units` reads
        the destination's: for copies that pull in more than the selected units (a package's
        dependencies, an erratum's packages). The source is not reserved, so it may change
        meanwhile; ask only for the fields you need."""
        ids = self._store.repo_association_ids(self.source_repo_id, type_id)
        return self._store.find_units_by_ids(type_id, ids, _projection(fields))


class PublishConduit(RepoConduit):
    """Handed to ``Distributor.publish_repo``: units plus atomic published trees.

    Also handed to ``Distributor.distributor_removed``; ``report_id`` is the distributor id.
    """

    def __init__(self, platform, ctx, repo_id: str, report_id: str):
        super().__init__(platform, ctx, repo_id, report_id)
        self._staged: list[tuple[Path, Path]] = []

    def content_path(self, storage_path: str) -> Path:
        """Absolute path of a unit's stored file (``_storage_path``), for reading it."""
        return self.storage.path(storage_path)

    def server_info(self) -> dict:
        """Where pulp2ng answers, for files a publish writes with absolute URLs (a yum
        ``.repo`` file): ``{"base_url", "https_url", "ca_cert"}`` from the server settings,
        as :meth:`Distributor.create_consumer_payload` receives it."""
        return server_info(self._platform.settings)

    @contextlib.contextmanager
    def publish_dir(self, area: str, relative_path: str):
        """Yield an empty directory to build a tree in; on success it becomes
        ``published/<area>/<relative_path>`` in one atomic symlink swap, so clients see the
        old tree or the new one, never a mix.

        ``area`` is one the distributor serves (its ``web_areas``) and ``relative_path`` what
        :meth:`Distributor.publish_location` returns; a path that leaves the area raises
        PublishError. If the block raises, the new tree is deleted and the old one stays.
        Enter and leave it on the task thread (filling ``tree`` from threads is fine)."""
        root = self.storage.published_root(area)
        relative_path = _contained(relative_path)
        versions = root / ".versions"
        versions.mkdir(exist_ok=True)
        build = versions / f"{_safe_name(relative_path)}-{uuid.uuid4().hex[:12]}"
        build.mkdir()
        try:
            yield build
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        try:  # a reaped task must not replace what the reservation's new holder publishes
            self._store.check_fence()
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        swap_published(root, relative_path, build)

    def unpublish(self, area: str, relative_path: str) -> None:
        """Remove what ``publish_dir(area, relative_path)`` published (nothing for a path
        that leaves the area: publish_dir never wrote there)."""
        if safe_relative_path(str(relative_path).strip("/")) is not None:
            self._store.check_fence()
            unpublish(self.storage.published_root(area), relative_path.strip("/"))

    def link_file(self, storage_path: str, dest: Path) -> None:
        """Place a stored file in a tree being built (a hard link: no copy, no dangling).

        Parent directories are created; it falls back to a copy across filesystems. Safe
        from the plugin's threads."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        src = self.content_path(storage_path)
        try:
            os.link(src, dest)
        except OSError:
            shutil.copyfile(src, dest)


def swap_published(root: Path, relative_path: str, build: Path) -> None:
    """Point ``root/relative_path`` at ``build`` atomically and drop the previous version."""
    link = root / relative_path
    link.parent.mkdir(parents=True, exist_ok=True)
    old = os.path.realpath(link) if link.is_symlink() else None
    tmp_link = link.parent / f".{link.name}.{uuid.uuid4().hex[:8]}"
    os.symlink(os.path.relpath(build, link.parent), tmp_link)
    os.replace(tmp_link, link)
    if old and Path(old) != build.resolve():
        shutil.rmtree(old, ignore_errors=True)


def unpublish(root: Path, relative_path: str) -> None:
    """Remove a published tree (its link and the version it points at)."""
    link = root / relative_path
    if link.is_symlink():
        target = os.path.realpath(link)
        link.unlink()
        shutil.rmtree(target, ignore_errors=True)


def _projection(fields) -> dict | None:
    """Requested fields plus what identifies a unit, so results can be associated as-is."""
    if not fields:
        return None
    return {**dict.fromkeys(fields, 1), "_content_type_id": 1}


def _contained(relative_path: str) -> str:
    """``relative_path`` if it stays below its published area (no ``..``, no absolute path),
    whatever a plugin's own validation let through."""
    safe = safe_relative_path(str(relative_path).strip("/"))
    if safe is None:
        raise PublishError(f"publish path {relative_path!r} leaves the published tree",
                           relative_path=str(relative_path))
    return safe


def _safe_name(relative_path: str) -> str:
    return relative_path.strip("/").replace("/", "_")[:80] or "root"


class GroupPublishConduit(PublishConduit):
    """Handed to ``GroupDistributor.publish_group``: progress, cancellation and atomic
    published trees (``publish_dir``/``unpublish``). It has no repository: its unit methods
    are not for group distributors."""

    def __init__(self, platform, ctx, group_id: str, report_id: str):
        super().__init__(platform, ctx, None, report_id)
        self.group_id = group_id


def _paths_of(doc: dict) -> list[str]:
    """The stored files a unit names: ``_storage_path`` and its ``_storage_paths``."""
    extra = doc.get("_storage_paths")
    return [p for p in (doc.get("_storage_path"), *(extra if isinstance(extra, list) else ()))
            if isinstance(p, str) and p]
