"""The OSTree sync algorithm as a pure function over injected I/O.

:func:`walk` mirrors what ``ostree pull --mirror --depth=N`` fetches from an archive repo:
commits (following parents up to ``depth``), their detached ``.commitmeta``, then the trees
level by level (every dirtree of one level is fetched in parallel), then the file objects.
Every object is verified against its checksum before it is handed to ``store_object``, and
objects the caller already has are skipped. The result records which objects each commit
references, so the platform can keep one unit per commit and clean orphans later.

I/O is injected so the same code runs against HTTP (:func:`make_http_fetchers`), a local
directory, or test doubles. Fetch callables must raise :class:`OSTreeMissingObject` (or
``FileNotFoundError``) for "not there" (HTTP 404), so the walker can tell a missing parent
beyond the upstream's history, which is fine, from a missing tree or file object, which is not.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from collections.abc import Callable, Iterable

from pulp2ng.plugin import fetch_to_file as stream_to_file

from . import archive
from .archive import COMMIT, COMMITMETA, DIRMETA, DIRTREE, FILEZ, Commit, DirTree, object_path
from .errors import OSTreeError, OSTreeMissingObject

FetchBytes = Callable[[str], bytes]
FetchToFile = Callable[[str, str], None]
HaveObject = Callable[[str, str], bool]
LoadObject = Callable[[str, str], bytes]
StoreObject = Callable[[str, str, str], None]
ObjectKey = tuple[str, str]  # (checksum, objtype)


@dataclass
class Inventory:
    """What a walk found.

    Attributes:
        heads: ref → head commit checksum.
        history: ref → commit checksums walked, head first (at most ``depth + 1``).
        commits: checksum → parsed :class:`Commit`, for every walked commit.
        objects: commit checksum → every (checksum, objtype) it references, itself included
            (plus its ``commitmeta`` when there is one).
        fetched: objects downloaded and stored during this walk.
        skipped: objects that were already stored and therefore not downloaded.
    """

    heads: dict[str, str] = field(default_factory=dict)
    history: dict[str, list[str]] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    objects: dict[str, frozenset[ObjectKey]] = field(default_factory=dict)
    fetched: set[ObjectKey] = field(default_factory=set)
    skipped: set[ObjectKey] = field(default_factory=set)


# --------------------------------------------------------------------------- local object store


class DirObjectStore:
    """Objects stored in archive layout under ``root`` (``root/objects/xx/….ext``).

    A convenient ``have_object``/``load_object``/``store_object``/``object_source`` provider
    for :func:`walk` and the distributor's ``publish.write_archive_repo``.
    """

    def __init__(self, root: str):
        self.root = root

    def path(self, checksum: str, objtype: str) -> str:
        """Where the object lives (or would live)."""
        return os.path.join(self.root, object_path(checksum, objtype))

    def has(self, checksum: str, objtype: str) -> bool:
        """Whether the object is stored."""
        return os.path.exists(self.path(checksum, objtype))

    def read(self, checksum: str, objtype: str) -> bytes:
        """The stored object's bytes."""
        with open(self.path(checksum, objtype), "rb") as fh:
            return fh.read()

    def add(self, checksum: str, objtype: str, src: str) -> None:
        """Move a verified file into place (rename, so readers never see partial objects)."""
        dest = self.path(checksum, objtype)
        try:
            os.replace(src, dest)  # the common case: one syscall (this runs per object)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.move(src, dest)
        except OSError:
            shutil.move(src, dest)  # another filesystem

    def source(self, checksum: str, objtype: str) -> str | None:
        """Path of a stored object, or None; the ``object_source`` for publishing."""
        path = self.path(checksum, objtype)
        return path if os.path.exists(path) else None


# ----------------------------------------------------------------------------------- HTTP


def make_http_fetchers(base_url: str, session=None, timeout: float = 60.0,
                       retrying=None, pace=None) -> tuple[FetchBytes, FetchToFile]:
    """Build ``fetch_bytes`` and ``fetch_to_file`` over HTTP with ``requests``.

    Args:
        base_url: the repository URL (the directory holding ``config``).
        session: a ``requests.Session`` carrying TLS/proxy/auth settings; a new one if None.
        timeout: per-request timeout in seconds.
        retrying: ``retrying(send, url)`` runs each request, and each file whose body broke
            off, under a retry policy (``Downloader.retrying``); by default each is tried once.
        pace: ``pace(started, size)`` keeps a body under a speed limit (``Downloader.pace``).

    Returns:
        ``(fetch_bytes, fetch_to_file)``; both raise :class:`OSTreeMissingObject` on 404/410
        and ``requests`` exceptions on other failures.
    """
    import requests

    session = session or requests.Session()
    base = base_url.rstrip("/") + "/"

    retrying = retrying or (lambda send, url: send())
    pace = pace or (lambda started, size: None)

    def get(relpath: str, stream: bool):
        url = base + relpath
        resp = retrying(lambda: session.get(url, timeout=timeout, stream=stream), url)
        if resp.status_code in (404, 410):
            resp.close()
            raise OSTreeMissingObject(f"{base + relpath}: HTTP {resp.status_code}")
        resp.raise_for_status()
        return resp

    def fetch_bytes(relpath: str) -> bytes:
        return get(relpath, False).content

    def fetch_to_file(relpath: str, dest_path: str) -> None:
        stream_to_file(lambda: get(relpath, True), dest_path, url=base + relpath,
                       retrying=retrying, pace=pace, chunk_size=archive.CHUNK)

    return fetch_bytes, fetch_to_file


# ------------------------------------------------------------------------------- remote refs


def read_remote_config(fetch_bytes: FetchBytes) -> dict[str, str]:
    """Fetch and check the upstream ``config`` (only archive repos can be mirrored).

    Args:
        fetch_bytes: fetcher for paths relative to the repository root.

    Returns:
        The ``[core]`` section.
    """
    try:
        return archive.parse_config(fetch_bytes("config"))
    except (OSTreeMissingObject, FileNotFoundError) as exc:
        raise OSTreeMissingObject(f"upstream has no repository config: {exc}") from exc


def fetch_summary(fetch_bytes: FetchBytes) -> archive.Summary | None:
    """Fetch and parse the upstream ``summary``.

    Args:
        fetch_bytes: fetcher for paths relative to the repository root.

    Returns:
        The :class:`archive.Summary`, or None when the upstream has none (404).
    """
    try:
        data = fetch_bytes("summary")
    except (OSTreeMissingObject, FileNotFoundError):
        return None
    return archive.parse_summary(data)


def list_remote_refs(fetch_bytes: FetchBytes,
                     branches: Iterable[str] | None = None) -> dict[str, str]:
    """Resolve upstream refs to head commits: summary first, else ``refs/heads/<ref>``.

    Args:
        fetch_bytes: fetcher for paths relative to the repository root.
        branches: the refs wanted; None means every ref in the summary (an upstream without a
            summary cannot list its refs over HTTP, so names are then required).

    Returns:
        ref → commit checksum.

    Raises:
        OSTreeMissingObject: no summary and no branch names, or a named ref does not exist.
    """
    summary = fetch_summary(fetch_bytes)
    if branches is None:
        if summary is None:
            raise OSTreeMissingObject(
                "upstream has no summary file, so its refs cannot be listed; name the branches")
        return {ref: entry.checksum for ref, entry in summary.refs.items()}
    heads = {}
    for ref in branches:
        archive.validate_ref(ref)
        if summary is not None and ref in summary.refs:
            heads[ref] = summary.refs[ref].checksum
            continue
        try:
            data = fetch_bytes(archive.ref_path(ref))
        except (OSTreeMissingObject, FileNotFoundError) as exc:
            raise OSTreeMissingObject(f"ref {ref!r} not found upstream: {exc}") from exc
        heads[ref] = archive.parse_ref_file(data, ref)
    return heads


# ------------------------------------------------------------------------------------- walk


def _discard(path: str) -> None:
    """Remove a staged file that will not be stored (an error path)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class _Walk:
    """State of one walk: the injected I/O, the pool and what has been seen."""

    def __init__(self, fetch_bytes, fetch_to_file, have_object, store_object, load_object,
                 staging_dir, pool):
        self.fetch_bytes = fetch_bytes
        self.fetch_to_file = fetch_to_file
        self.have_object = have_object
        self.store_object = store_object
        self.load_object = load_object
        self.staging_dir = staging_dir
        self.pool = pool
        self.lock = threading.Lock()
        self.inventory = Inventory()
        self.trees: dict[str, DirTree] = {}
        self.referrer: dict[ObjectKey, str] = {}

    # -- helpers

    def _missing(self, key: ObjectKey, exc: Exception) -> OSTreeMissingObject:
        via = self.referrer.get(key)
        where = f" (referenced by {via})" if via else ""
        return OSTreeMissingObject(f"{object_path(*key)}{where} is missing upstream: {exc}")

    def _record(self, key: ObjectKey, fetched: bool) -> None:
        with self.lock:
            (self.inventory.fetched if fetched else self.inventory.skipped).add(key)

    def _stage(self, data: bytes | None = None) -> str:
        fd, path = tempfile.mkstemp(dir=self.staging_dir, suffix=".part")
        with os.fdopen(fd, "wb") as fh:
            if data:
                fh.write(data)
        return path

    def _store(self, key: ObjectKey, path: str) -> None:
        """Hand a verified file to ``store_object``; it is removed if that fails."""
        try:
            self.store_object(key[0], key[1], path)
        except BaseException:
            _discard(path)
            raise

    def run_all(self, fn: Callable, items: Iterable) -> list:
        """Run ``fn`` over items in the pool; on the first error cancel the rest and raise."""
        futures = [self.pool.submit(fn, item) for item in items]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        for future in futures:
            if future.done() and not future.cancelled() and future.exception():
                wait(pending)
                raise future.exception()
        return [f.result() for f in futures]

    # -- metadata objects

    def metadata(self, key: ObjectKey) -> bytes | None:
        """Verified bytes of a commit/dirtree/dirmeta, from the store or upstream.

        Returns None for a stored object nobody needs to read (dirmeta).
        """
        checksum, objtype = key
        if self.have_object(checksum, objtype):
            self._record(key, False)
            if objtype == DIRMETA:
                return None
            if self.load_object is not None:
                return self.load_object(checksum, objtype)
            return self._download_metadata(key, store=False)
        self._record(key, True)
        return self._download_metadata(key, store=True)

    def _download_metadata(self, key: ObjectKey, store: bool) -> bytes:
        try:
            data = self.fetch_bytes(object_path(*key))
        except (OSTreeMissingObject, FileNotFoundError) as exc:
            raise self._missing(key, exc) from exc
        archive.verify_metadata(key[0], key[1], data)
        if store:
            self._store(key, self._stage(data))
        return data

    def commitmeta(self, checksum: str) -> bool:
        """Fetch detached metadata when the upstream has it; return whether it exists."""
        key = (checksum, COMMITMETA)
        if self.have_object(*key):
            self._record(key, False)
            return True
        try:
            data = self.fetch_bytes(object_path(*key))
        except (OSTreeMissingObject, FileNotFoundError):
            return False
        archive.parse_commitmeta(data)
        self._store(key, self._stage(data))
        self._record(key, True)
        return True

    def file(self, checksum: str) -> None:
        """Download one ``.filez`` to staging, verify it streamed, then store it."""
        key = (checksum, FILEZ)
        if self.have_object(*key):
            self._record(key, False)
            return
        path = self._stage()
        try:
            try:
                self.fetch_to_file(object_path(*key), path)
            except (OSTreeMissingObject, FileNotFoundError) as exc:
                raise self._missing(key, exc) from exc
            archive.verify_object(checksum, FILEZ, path=path)
        except BaseException:
            _discard(path)
            raise
        self._store(key, path)
        self._record(key, True)

    # -- phases

    def commit(self, item: tuple[str, bool]) -> tuple[str, Commit | None, bool]:
        """Fetch one commit (and its commitmeta); a missing parent yields None."""
        checksum, required = item
        try:
            data = self.metadata((checksum, COMMIT))
        except OSTreeMissingObject:
            if required:
                raise
            return checksum, None, False
        return checksum, archive.parse_commit(data), self.commitmeta(checksum)

    def walk_commits(self, heads: dict[str, str], depth: int) -> dict[str, bool]:
        """Breadth-first over history, one level of parents per round, all refs together."""
        for ref, head in heads.items():
            self.referrer[(head, COMMIT)] = f"ref {ref}"
        has_meta: dict[str, bool] = {}
        level, frontier = 0, {(head, True) for head in heads.values()}
        while frontier:
            results = self.run_all(self.commit, sorted(frontier))
            frontier = set()
            for checksum, commit, meta in results:
                if commit is None:
                    continue
                self.inventory.commits[checksum] = commit
                has_meta[checksum] = meta
                parent = commit.parent
                if parent and (depth < 0 or level < depth) and parent not in has_meta:
                    self.referrer.setdefault((parent, COMMIT), f"commit {checksum}")
                    frontier.add((parent, False))
            level += 1
        return has_meta

    def walk_trees(self) -> set[str]:
        """Fetch dirtrees level by level (each level in parallel); return all file checksums."""
        trees, metas, files = set(), set(), set()
        for checksum, commit in self.inventory.commits.items():
            trees.add(commit.root_dirtree)
            metas.add(commit.root_dirmeta)
            self.referrer.setdefault((commit.root_dirtree, DIRTREE), f"commit {checksum}")
            self.referrer.setdefault((commit.root_dirmeta, DIRMETA), f"commit {checksum}")
        frontier, done_metas = set(trees), set()
        while frontier or metas - done_metas:
            level_metas = metas - done_metas
            keys = [(c, DIRTREE) for c in sorted(frontier)] + [(c, DIRMETA) for c in
                                                                 sorted(level_metas)]
            done_metas |= level_metas
            results = self.run_all(self.metadata, keys)
            for (checksum, objtype), data in zip(keys, results, strict=True):
                if objtype == DIRTREE:
                    self.trees[checksum] = archive.parse_dirtree(data)
            frontier = set()
            for checksum in sorted(k[0] for k in keys if k[1] == DIRTREE):
                frontier |= self._children(checksum, trees, metas, files)
        return files

    def _children(self, checksum: str, trees: set, metas: set, files: set) -> set[str]:
        tree, new_trees = self.trees[checksum], set()
        for name, file_csum in tree.files.items():
            self.referrer.setdefault((file_csum, FILEZ), f"dirtree {checksum} entry {name!r}")
            files.add(file_csum)
        for name, (sub_tree, sub_meta) in tree.dirs.items():
            self.referrer.setdefault((sub_tree, DIRTREE), f"dirtree {checksum} entry {name!r}")
            self.referrer.setdefault((sub_meta, DIRMETA), f"dirtree {checksum} entry {name!r}")
            metas.add(sub_meta)
            if sub_tree not in trees:
                trees.add(sub_tree)
                new_trees.add(sub_tree)
        return new_trees

    def closure(self, root_tree: str, root_meta: str,
                memo: dict[str, frozenset[ObjectKey]]) -> frozenset[ObjectKey]:
        """Every object reachable from a root dirtree (iterative, memoised per dirtree)."""
        stack = [(root_tree, False)]
        while stack:
            checksum, expanded = stack.pop()
            if checksum in memo:
                continue
            tree = self.trees[checksum]
            subs = [t for t, _ in tree.dirs.values()]
            if not expanded:
                stack.append((checksum, True))
                stack.extend((t, False) for t in subs if t not in memo)
                continue
            items = {(checksum, DIRTREE)}
            items.update((c, FILEZ) for c in tree.files.values())
            for sub_tree, sub_meta in tree.dirs.values():
                items.add((sub_meta, DIRMETA))
                items |= memo[sub_tree]
            memo[checksum] = frozenset(items)
        return memo[root_tree] | {(root_meta, DIRMETA)}


def walk(fetch_bytes: FetchBytes, fetch_to_file: FetchToFile, have_object: HaveObject,
         refs: dict[str, str], depth: int, *, store_object: StoreObject,
         load_object: LoadObject | None = None, staging_dir: str | None = None,
         max_workers: int = 4, check_config: bool = True) -> Inventory:
    """Mirror ``refs`` (and up to ``depth`` parents each) from an archive repository.

    Args:
        fetch_bytes: ``relpath -> bytes`` for small files (config, refs, metadata objects).
        fetch_to_file: ``(relpath, dest_path)`` for ``.filez`` objects, streamed to disk.
        have_object: ``(checksum, objtype) -> bool``; stored objects are not downloaded.
        refs: ref → head commit checksum (see :func:`list_remote_refs`).
        depth: parents to follow per head: 0 = head only, N = head plus N parents, -1 = all.
            A parent missing upstream (a history-trimmed repo) ends that history quietly.
        store_object: ``(checksum, objtype, path)`` takes ownership of a verified file.
        load_object: ``(checksum, objtype) -> bytes`` reads a stored commit/dirtree, so stored
            trees are not downloaded again to find their children; without it they are.
        staging_dir: where downloads land before verification (best on the store's
            filesystem so ``store_object`` can rename); a temporary directory if None.
        max_workers: concurrent downloads.
        check_config: fetch ``config`` first and reject non-archive repositories.

    Returns:
        The :class:`Inventory`.

    Raises:
        OSTreeMissingObject: a head commit, tree, dirmeta or file object is missing upstream.
        OSTreeChecksumError: an object does not match its checksum (the message names it).
        OSTreeFormatError: bad config mode, malformed objects or hostile names.
    """
    if depth < -1:
        raise ValueError(f"depth must be -1 or more, not {depth}")
    for ref, head in refs.items():
        archive.validate_ref(ref)
        archive.validate_checksum(head)
    if check_config:
        read_remote_config(fetch_bytes)
    own_staging = staging_dir is None
    staging = tempfile.mkdtemp(prefix="ostree-walk-") if own_staging else staging_dir
    os.makedirs(staging, exist_ok=True)
    try:
        with ThreadPoolExecutor(max_workers=max_workers) as pool:
            state = _Walk(fetch_bytes, fetch_to_file, have_object, store_object, load_object,
                          staging, pool)
            has_meta = state.walk_commits(refs, depth)
            files = state.walk_trees()
            state.run_all(state.file, sorted(files))
        return _finish(state, refs, depth, has_meta)
    finally:
        if own_staging:
            shutil.rmtree(staging, ignore_errors=True)


def _finish(state: _Walk, refs: dict[str, str], depth: int,
            has_meta: dict[str, bool]) -> Inventory:
    """Fill heads, per-ref history and per-commit object sets."""
    inv = state.inventory
    inv.heads = dict(refs)
    for ref, head in refs.items():
        chain, current = [], head
        while current in inv.commits and (depth < 0 or len(chain) <= depth):
            chain.append(current)
            current = inv.commits[current].parent
        inv.history[ref] = chain
    memo: dict[str, frozenset[ObjectKey]] = {}
    for checksum, commit in inv.commits.items():
        objs = set(state.closure(commit.root_dirtree, commit.root_dirmeta, memo))
        objs.add((checksum, COMMIT))
        if has_meta.get(checksum):
            objs.add((checksum, COMMITMETA))
        inv.objects[checksum] = frozenset(objs)
    return inv


__all__ = [
    "DirObjectStore", "Inventory", "OSTreeError", "fetch_summary", "list_remote_refs",
    "make_http_fetchers", "read_remote_config", "walk",
]
