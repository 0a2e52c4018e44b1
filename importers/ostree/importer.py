"""``ostree_web_importer``: mirror branches of an OSTree archive repository served over HTTP.

The sync speaks the archive format over HTTP itself (see ``archive.py`` for why not
libostree): it reads ``config`` (archive modes only), resolves refs from the ``summary`` or
``refs/heads/<ref>``, walks commit → dirtree → dirmeta → file objects, downloads only objects
that are not stored yet and verifies each against its checksum. A sync is all-or-nothing:
objects are staged privately and only stored, as ``ostree_object`` units, with one ``ostree``
unit per synced head and retained parent once everything verified.
"""

from __future__ import annotations

import fnmatch
import os
import urllib.parse

import requests

from pulp2ng.plugin import (
    Importer,
    SyncReport,
    TaskCanceled,
    UnsupportedTypes,
    UploadError,
    validate_downloader_config,
)

from . import archive, tarball, walker
from .errors import OSTreeError, OSTreeFeedError, OSTreeSyncError
from .ingest import Ingest, fetchers_for, local_fetchers, read_inventory, remote_id
from .progress import Progress
from .types import COMMIT_TYPE, OBJECT_TYPE


class OSTreeImporter(Importer):
    default_config = {"depth": 0, "remove_missing": False, "max_downloads": 10,
                      "gpg_verify": False}
    config_keys = ("feed", "branches", "include_refs", "exclude_refs", "gpg_keys",
                   "download_policy")

    @classmethod
    def metadata(cls):
        return {"id": "ostree_web_importer", "display_name": "OSTree Web Importer",
                "types": [COMMIT_TYPE, OBJECT_TYPE]}

    def validate_config(self, repo, config):
        feed = config.get("feed")
        if feed is not None:
            if not isinstance(feed, str):  # whether it is a usable URL: at sync (Pulp 2)
                return False, "feed must be a string"
        for key in ("branches", "include_refs", "exclude_refs", "gpg_keys"):
            value = config.get(key)
            if value is not None and (not isinstance(value, list)
                                      or not all(isinstance(v, str) for v in value)):
                return False, f"{key} must be a list of strings"
        for ref in config.get("branches") or []:
            try:
                archive.validate_ref(ref)
            except OSTreeError as exc:
                return False, f"branches: {exc}"
        try:
            depth = config.get_int("depth")
            config.get_boolean("remove_missing")
            gpg = config.get_boolean("gpg_verify")
        except ValueError as exc:
            return False, str(exc)
        if depth is not None and depth < -1:
            return False, "depth must be -1 (full history), 0 (head only) or a positive number"
        if gpg and not config.get("gpg_keys"):
            return False, "gpg_verify needs gpg_keys (ASCII-armored public keys)"
        if config.get("download_policy", "immediate") != "immediate":
            return False, "download_policy: only 'immediate' is supported"
        problem = validate_downloader_config(config)
        return (False, problem) if problem else (True, None)

    # -- sync -----------------------------------------------------------------------------

    def sync_repo(self, repo, conduit, config):
        feed = config.get("feed")
        progress = Progress(conduit)
        if not feed:
            progress.fail("Feed URL not specified")
            raise OSTreeFeedError("Feed URL not specified")
        if urllib.parse.urlsplit(feed).scheme not in ("http", "https", "file"):
            message = f"The feed {feed!r} is not an http, https or file URL"
            progress.fail(message)
            raise OSTreeFeedError(message, feed=feed)
        depth = config.get_int("depth", 0)
        storage = conduit.storage
        ingest = Ingest(conduit, str(storage.make_temp_dir(conduit.temp_dir, "ostree-")))
        try:
            with conduit.downloader(config) as downloader:
                fetch_bytes, fetch_to_file = fetchers_for(feed, downloader)
                with progress.step("import_summary"):
                    walker.read_remote_config(fetch_bytes)
                    refs = select_refs(fetch_bytes, config)
                    progress.details["refs"] = sorted(refs)
                with progress.step("import_pull"):
                    inv = ingest.walk(fetch_bytes, fetch_to_file, refs, depth,
                                      downloader.max_downloads, check_config=False)
                    progress.count("import_pull", len(inv.fetched), len(inv.skipped))
                    if config.get_boolean("gpg_verify", False):
                        signers = ingest.verify_signatures(config.get("gpg_keys"))
                        progress.details["signed_by"] = sorted(set(signers.values()))
            with progress.step("import_add_unit"):
                counts = ingest.commit(remote_id(feed), inv.history,
                                       config.get_boolean("remove_missing", False))
        except (OSTreeError, requests.RequestException) as exc:
            progress.fail(str(exc))
            raise OSTreeSyncError(f"OSTree sync of {feed} failed: {exc}", feed=feed) from None
        except TaskCanceled:
            progress.cancel()
            raise
        finally:
            ingest.close()
        summary = {**counts, "refs": {ref: inv.heads[ref] for ref in sorted(inv.heads)},
                   "objects_fetched": len(inv.fetched), "objects_present": len(inv.skipped)}
        return SyncReport(True, summary=progress.summary(), details=summary)

    # -- upload ---------------------------------------------------------------------------

    def upload_unit(self, repo, type_id, unit_key, metadata, file_path, conduit, config):
        """Import a tarball of an archive repository (Pulp 3's ``import_all``), or only the
        commits that extend one existing ref when ``ref`` is given (``import_commits``)."""
        if type_id != COMMIT_TYPE:
            raise UnsupportedTypes(f"ostree_web_importer cannot import {type_id} units")
        options = {**(unit_key or {}), **(metadata or {})}
        storage = conduit.storage
        ingest = Ingest(conduit, str(storage.make_temp_dir(storage.root / "tmp", "ostree-up-")))
        try:
            tree = os.path.join(ingest.staging, "tree")
            os.makedirs(tree)
            tarball.extract(file_path, tree)
            root = tarball.find_repo_root(tree, options.get("repository_name"))
            fetch_bytes, fetch_to_file = local_fetchers(root)
            name = options.get("repository_name") or os.path.basename(root.rstrip("/"))
            remote = remote_id(f"upload:{name}")
            refs = self._upload_refs(conduit, root, fetch_bytes, options.get("ref"))
            inv = ingest.walk(fetch_bytes, fetch_to_file, refs, -1, 4)
            ref = options.get("ref")
            if ref:
                remote = self._check_append(conduit, ref, inv.history[ref])
            counts = ingest.commit(remote, inv.history, mirror=False)
        except OSTreeError as exc:
            raise UploadError(f"invalid OSTree repository tarball: {exc}") from None
        finally:
            ingest.close()
        return {"success_flag": True, "summary": {**counts, "refs": inv.heads}, "details": {}}

    @staticmethod
    def _upload_refs(conduit, root, fetch_bytes, ref) -> dict[str, str]:
        names = [ref] if ref else tarball.local_refs(root)
        if not names:
            summary = walker.fetch_summary(fetch_bytes)
            names = sorted(summary.refs) if summary else []
        if not names:
            raise UploadError("the tarball's repository has no refs")
        return walker.list_remote_refs(fetch_bytes, names)

    @staticmethod
    def _check_append(conduit, ref, history) -> str:
        """``ref`` must exist in the repository and its head must be in the new history."""
        units = [u for u in conduit.repo_units(COMMIT_TYPE, ["branch", "commit", "remote_id"])
                 if u["branch"] == ref]
        if not units:
            raise UploadError(f"ref {ref!r} is not in the repository; upload without 'ref' "
                              "to import a whole repository")
        known = {u["commit"]: u["remote_id"] for u in units}
        for checksum in history:
            if checksum in known:
                return known[checksum]
        raise UploadError(f"the uploaded commits of {ref!r} do not extend any commit of the "
                          "ref in the repository")

    # -- copy -----------------------------------------------------------------------------

    def import_units(self, source_repo, dest_repo, conduit, config, units):
        """Copy commits with every object they need (read from their inventories)."""
        commits = [u for u in units if u["_content_type_id"] == COMMIT_TYPE]
        others = [u for u in units if u["_content_type_id"] != COMMIT_TYPE]
        keys = [{f: u[f] for f in ("remote_id", "branch", "commit")} for u in commits]
        stored = conduit.find_units(COMMIT_TYPE, keys, ["_storage_path"])
        objects = {}
        for unit in stored.values():
            for checksum, objtype in read_inventory(conduit.storage.path(unit["_storage_path"])):
                uid = conduit.unit_id(OBJECT_TYPE, {"checksum": checksum, "objtype": objtype})
                objects[uid] = {"_id": uid, "_content_type_id": OBJECT_TYPE}
        conduit.associate_units(list(objects.values()) + others)
        conduit.associate_units(commits)
        return commits + others

    def remove_units(self, repo, units, config, conduit):
        """Removing commits takes away the objects no remaining commit of the repository
        needs (read from the remaining commits' inventories)."""
        removed = {u["_id"] for u in units if u["_content_type_id"] == COMMIT_TYPE}
        if not removed:
            return
        needed = set()
        for commit in conduit.repo_units(COMMIT_TYPE, ["_storage_path"]):
            if commit["_id"] in removed:
                continue
            path = conduit.storage.path(commit["_storage_path"])
            needed.update(conduit.unit_id(OBJECT_TYPE, {"checksum": checksum, "objtype": kind})
                          for checksum, kind in read_inventory(path))
        conduit.unassociate_units(OBJECT_TYPE, conduit.repo_unit_ids(OBJECT_TYPE) - needed)


def select_refs(fetch_bytes, config) -> dict[str, str]:
    """Resolve the refs to sync: ``branches`` (exact; absent = all, ``[]`` = none), then
    ``include_refs`` and ``exclude_refs`` (``*``/``?`` wildcards, excludes applied last)."""
    branches = config.get("branches")
    if branches is not None and not branches:
        return {}
    include, exclude = config.get("include_refs"), config.get("exclude_refs") or []
    refs = walker.list_remote_refs(fetch_bytes, branches)
    if include is not None:
        refs = {r: c for r, c in refs.items() if any(fnmatch.fnmatchcase(r, p) for p in include)}
    return {r: c for r, c in refs.items() if not any(fnmatch.fnmatchcase(r, p) for p in exclude)}
