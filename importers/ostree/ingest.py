"""Bring OSTree objects into pulp2ng: walk, verify, stage, then store and save all at once.

Shared by sync (objects fetched over HTTP) and tarball upload (objects read from an
extracted repository). The walker stages every verified object in a private directory
under ``storage/tmp``; nothing enters content storage or the database until the whole walk
(and GPG verification) succeeded, which is what makes a sync all-or-nothing.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import urllib.parse
import urllib.request

from pulp2ng.plugin import TaskCanceled

from . import walker
from .archive import COMMIT, COMMITMETA
from .errors import OSTreeMissingObject
from .gpg import Verifier
from .types import COMMIT_TYPE, OBJECT_TYPE, object_storage_type

BATCH = 1000
INVENTORY_TYPE = "ostree_inventory"


def remote_id(feed: str) -> str:
    """Pulp 2's ``remote_id``: the sha256 hex of the feed URL."""
    return hashlib.sha256(feed.encode("utf-8")).hexdigest()


def local_fetchers(root: str):
    """``fetch_bytes``/``fetch_to_file`` over a local directory (file feeds, uploads)."""
    def resolve(relpath: str) -> str:
        path = os.path.join(root, relpath)
        if not os.path.isfile(path):
            raise OSTreeMissingObject(f"{relpath} not found")
        return path

    def fetch_bytes(relpath: str) -> bytes:
        with open(resolve(relpath), "rb") as fh:
            return fh.read()

    def fetch_to_file(relpath: str, dest: str) -> None:
        shutil.copyfile(resolve(relpath), dest)

    return fetch_bytes, fetch_to_file


def fetchers_for(feed: str, downloader):
    """Fetchers for an ``http(s)://`` feed (the downloader's pooled session, retries and
    speed limit) or a ``file://`` one."""
    if feed.startswith("file://"):
        return local_fetchers(urllib.request.url2pathname(urllib.parse.urlsplit(feed).path))
    return walker.make_http_fetchers(feed, session=downloader.session,
                                     timeout=downloader.timeout,
                                     retrying=downloader.retrying, pace=downloader.pace)


class Ingest:
    """One walk into a private staging store, then :meth:`commit` into the repository.

    Args:
        conduit: the sync or upload conduit.
        staging: a fresh directory under ``storage/tmp`` (removed by :meth:`close`).
    """

    def __init__(self, conduit, staging: str):
        self.conduit = conduit
        self.storage = conduit.storage
        self.staged = walker.DirObjectStore(staging)
        self.staging = staging
        self.repo_objects = {(u["checksum"], u["objtype"]): u["_id"] for u in
                             conduit.repo_units(OBJECT_TYPE, ["checksum", "objtype"])}
        self.inventory: walker.Inventory | None = None

    def close(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    # -- the object store the walker sees -------------------------------------------------------

    def stored_path(self, checksum: str, objtype: str) -> str:
        rel = self.storage.content_path(object_storage_type(objtype), checksum)
        return str(self.storage.root / rel)

    def have(self, checksum: str, objtype: str) -> bool:
        """In the repository, or already in content storage (only verified files get there)."""
        return ((checksum, objtype) in self.repo_objects or self.staged.has(checksum, objtype)
                or os.path.exists(self.stored_path(checksum, objtype)))

    def load(self, checksum: str, objtype: str) -> bytes:
        path = self.staged.path(checksum, objtype)
        if not os.path.exists(path):
            path = self.stored_path(checksum, objtype)
        with open(path, "rb") as fh:
            return fh.read()

    def load_optional(self, checksum: str, objtype: str) -> bytes | None:
        try:
            return self.load(checksum, objtype)
        except FileNotFoundError:
            return None

    def store(self, checksum: str, objtype: str, path: str) -> None:
        if self.conduit.canceled:
            raise TaskCanceled()
        self.staged.add(checksum, objtype, path)

    # -- phases -----------------------------------------------------------------------------------

    def walk(self, fetch_bytes, fetch_to_file, refs: dict[str, str], depth: int,
             max_workers: int, check_config: bool = True) -> walker.Inventory:
        tmp = os.path.join(self.staging, "tmp")
        os.makedirs(tmp, exist_ok=True)
        self.inventory = walker.walk(
            fetch_bytes, fetch_to_file, self.have, refs, depth, store_object=self.store,
            load_object=self.load, staging_dir=tmp, max_workers=max_workers,
            check_config=check_config)
        return self.inventory

    def verify_signatures(self, keys: list[str]) -> dict[str, str]:
        """GPG-verify every walked commit; returns commit → signer fingerprint."""
        signers = {}
        with Verifier(keys) as verifier:
            for checksum in sorted(self.inventory.commits):
                signers[checksum] = verifier.verify(
                    checksum, self.load(checksum, COMMIT),
                    self.load_optional(checksum, COMMITMETA))
        return signers

    def commit(self, remote: str, history: dict[str, list[str]], mirror: bool) -> dict:
        """Store staged objects, save object and commit units, and (``mirror``) drop the rest.

        Args:
            remote: the ``remote_id`` of the commit units.
            history: ref → commits to record (head first).
            mirror: unassociate commit and object units this history does not need.

        Returns:
            Counts for the report.
        """
        conduit, inv = self.conduit, self.inventory
        needed = set()
        for commits in history.values():
            for checksum in commits:
                needed |= inv.objects[checksum]
        new_objects = sorted(k for k in needed if k not in self.repo_objects)
        stored = 0
        for start in range(0, len(new_objects), BATCH):
            conduit.check_canceled()
            units = []
            for checksum, objtype in new_objects[start:start + BATCH]:
                staged = self.staged.path(checksum, objtype)
                if os.path.exists(staged):
                    rel = conduit.store_file(staged, object_storage_type(objtype), checksum)
                    stored += 1
                else:
                    rel = self.storage.content_path(object_storage_type(objtype), checksum)
                units.append({"checksum": checksum, "objtype": objtype, "_storage_path": rel})
            conduit.save_units(OBJECT_TYPE, units)
        in_repo = {u["_id"]: u for u in conduit.repo_units(COMMIT_TYPE, ["branch", "commit"])}
        wanted, commit_units = set(), []
        for ref, commits in history.items():
            for checksum in commits:
                key = {"remote_id": remote, "branch": ref, "commit": checksum}
                uid = conduit.unit_id(COMMIT_TYPE, key)
                wanted.add(uid)
                if uid not in in_repo:
                    commit_units.append(self._commit_unit(key))
        conduit.save_units(COMMIT_TYPE, commit_units)
        removed = 0
        if mirror:
            stale = [uid for uid in in_repo if uid not in wanted]
            removed = conduit.unassociate_units(COMMIT_TYPE, stale)
            stale_objects = [uid for key, uid in self.repo_objects.items() if key not in needed]
            conduit.unassociate_units(OBJECT_TYPE, stale_objects)
        return {"commits_added": len(commit_units), "commits_removed": removed,
                "objects_added": len(new_objects), "objects_downloaded": stored}

    def _commit_unit(self, key: dict) -> dict:
        """A commit unit with its metadata and its stored inventory of objects."""
        checksum = key["commit"]
        commit = self.inventory.commits[checksum]
        objects = self.inventory.objects[checksum]
        listing = "".join(f"{c}.{t}\n" for c, t in sorted(objects)).encode("ascii")
        digest = hashlib.sha256(listing).hexdigest()
        temp = self.storage.temp_path(".inventory")
        temp.write_bytes(listing)
        signed = (checksum, COMMITMETA) in objects
        return {
            **key,
            "_storage_path": self.conduit.store_file(temp, INVENTORY_TYPE, digest),
            "metadata": {"version": commit.version} if commit.version is not None else {},
            "version": commit.version,
            "subject": commit.subject,
            "timestamp": commit.timestamp,
            "parent": commit.parent,
            "signed": signed,
            "object_count": len(objects),
        }


def read_inventory(path) -> list[tuple[str, str]]:
    """Parse a commit unit's inventory file into (checksum, objtype) pairs."""
    with open(path, encoding="ascii") as fh:
        return [tuple(line.strip().split(".", 1)) for line in fh if line.strip()]
