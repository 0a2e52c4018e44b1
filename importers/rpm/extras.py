"""Sync of what a yum repository holds besides packages: modules and their defaults, delta RPMs,
the distribution tree, and the other repomd metadata files.

``yum_importer`` calls :meth:`ExtraContent.fetch` while its downloader is open (everything is
downloaded and verified into the task's temp dir, nothing stored) and :meth:`ExtraContent.apply`
after its packages are committed, so a failure in either step leaves the repository's extras
as they were. Each of ``drpm``, ``distribution``, ``modulemd``, ``modulemd_defaults`` and
``yum_repo_metadata_file`` in ``skip`` is neither fetched nor changed (nor removed by mirroring).

Delta RPMs record ``signing_key`` (the new package's, read from the delta file by drpm.py) and
are screened by the importer's ``require_signature``/``allowed_keys`` like packages: a refused
one is reported in the content step's ``error_details`` and not added.

Units whose key does not identify their content (``modulemd_defaults`` and
``yum_repo_metadata_file``, keyed by repository) are overwritten when upstream changes them.
A ``distribution`` is keyed by family/variant/version/arch only: a tree rebuilt upstream under
the same key keeps the files first stored (as in Pulp 2 without ``force_full``).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import urllib.parse
import urllib.request

import createrepo_c as cr

from pulp2ng.importers.rpm import drpm, signatures
from pulp2ng.importers.rpm.deltas import DeltaParseError, read_deltas
from pulp2ng.importers.rpm.errors import (
    YumChecksumTypeError,
    YumDownloadError,
    YumMetadataError,
    YumMetadataParseError,
)
from pulp2ng.importers.rpm.feeds import (
    decompressed,
    fetch_record,
    file_digest,
    spool_listed,
    verify,
)
from pulp2ng.importers.rpm.modules import ModulesParseError, read_modules
from pulp2ng.importers.rpm.packages import checksum_type
from pulp2ng.importers.rpm.treeinfo import TREEINFO_NAMES, TreeinfoError, read_treeinfo
from pulp2ng.importers.rpm.types import (
    DISTRIBUTION,
    DRPM,
    MODULEMD,
    MODULEMD_DEFAULTS,
    UNIT_TYPES,
    YUM_METADATA_FILE,
)
from pulp2ng.plugin import (
    DownloadRequest,
    SyncError,
    TaskCanceled,
    safe_relative_path,
)

EXTRA_TYPES = (DRPM, DISTRIBUTION, MODULEMD, MODULEMD_DEFAULTS, YUM_METADATA_FILE)
#: repomd record types synced as something else (packages, errata, comps, modules, deltas),
#: or derived from those (sqlite, zchunk): not ``yum_repo_metadata_file`` units.
HANDLED_RECORDS = re.compile(
    r"(primary|filelists|other|updateinfo|group|group_gz|group_xz|modules|prestodelta|"
    r"deltainfo)(_db|_zck)?$")
BATCH = 500
KEYS = {t.id: t.unit_key for t in UNIT_TYPES}
_DIGEST_PREFIX = re.compile(r"^[0-9a-f]{32,128}-")


class ExtraContent:
    """One sync's plan for the extra types: what is upstream, stored, to save or to drop."""

    def __init__(self, conduit, config, progress):
        self.conduit = conduit
        self.repo_id = conduit.repo_id
        skip = set(config.get("skip") or ())
        self.types = [t for t in EXTRA_TYPES if t not in skip]
        self.progress = progress
        self.report = progress.report
        self.validate = config.get_boolean("validate", True)
        self.screen = signatures.Screen(config)  # delta RPMs' signature policy
        self.upstream: dict[str, set] = {t: set() for t in self.types}
        self.to_link: list[dict] = []
        #: ``(type_id, unit, temp_path, sha256, replace)``; delta RPMs go to a spool file.
        self.to_save: list[tuple] = []
        self.drpm_spool = conduit.temp_dir / "drpm-fetched.jsonl"
        self.drpm_fetched = False

    # -- fetch ----------------------------------------------------------------------------

    def fetch(self, downloader, feed: str) -> None:
        if not self.types:
            return
        repomd = cr.Repomd(str(self.conduit.temp_dir / "repomd.xml"))
        records = {r.type: r for r in repomd.records}
        if MODULEMD in self.types or MODULEMD_DEFAULTS in self.types:
            self._step("modules", "IN_PROGRESS")
            if "modules" in records:
                self._modules(downloader, feed, records["modules"])
            self._step("modules", "FINISHED")
        if DRPM in self.types and "prestodelta" in records:
            self._deltas(downloader, feed, records["prestodelta"])
        if DISTRIBUTION in self.types:
            self._step("distribution", "IN_PROGRESS")
            self._tree(downloader, feed)
            self._step("distribution", "FINISHED")
        if YUM_METADATA_FILE in self.types:
            for record in repomd.records:
                if not HANDLED_RECORDS.match(record.type):
                    self._metadata_file(downloader, feed, record)

    def _step(self, name: str, state: str) -> None:
        self.progress.step(name, state)

    def _modules(self, downloader, feed, record) -> None:
        plain = decompressed(fetch_record(downloader, feed, record, self.validate),
                             self.conduit.temp_dir / "modules.yaml", "modules.yaml")
        seen = set()
        try:
            for type_id, unit, text in read_modules(plain, self.repo_id):
                if type_id not in self.types:
                    continue
                uid = self.conduit.unit_id(type_id, key_of(type_id, unit))
                if uid in seen:
                    continue  # listed twice upstream: the first one counts
                seen.add(uid)
                self.upstream[type_id].add(uid)
                path = self.conduit.temp_dir / f"module-{len(seen)}.yaml"
                data = text.encode()
                path.write_bytes(data)
                self._plan_unit(type_id, uid, unit, path, hashlib.sha256(data).hexdigest(),
                                replace=type_id == MODULEMD_DEFAULTS)
        except ModulesParseError as exc:
            raise YumMetadataParseError(f"Could not parse repository metadata: {exc}") \
                from None

    def _plan_unit(self, type_id, uid, unit, path, sha256, replace: bool) -> None:
        """Associate the stored unit when it has this content, else save (or overwrite) it."""
        stored = self.conduit.find_units(type_id, [key_of(type_id, unit)],
                                         ["checksum", "_storage_path"]).get(uid)
        if stored and stored.get("checksum") == unit["checksum"] \
                and self.conduit.storage.exists(stored.get("_storage_path") or ""):
            self.to_link.append({"_id": uid, "_content_type_id": type_id})
            path.unlink(missing_ok=True)
        else:
            self.to_save.append((type_id, unit, path, sha256, replace and stored is not None))

    def _deltas(self, downloader, feed, record) -> None:
        plain = decompressed(fetch_record(downloader, feed, record, self.validate),
                             self.conduit.temp_dir / "prestodelta.xml", "prestodelta")
        spool = self.conduit.temp_dir / "drpm-to-fetch.jsonl"
        total = 0
        with open(spool, "w") as out:
            batch: list[dict] = []
            try:
                for unit in read_deltas(plain):
                    batch.append(unit)
                    if len(batch) >= BATCH:
                        total += self._sort_deltas(batch, out, feed)
                        batch = []
                total += self._sort_deltas(batch, out, feed)
            except DeltaParseError as exc:
                raise YumMetadataParseError(f"Could not parse repository metadata: {exc}") \
                    from None
        details = self.report["content"]["details"]
        details["drpm_total"] = total
        self.conduit.set_progress(self.report, force=True)
        if total:
            self._download_deltas(downloader, spool, details)

    def _sort_deltas(self, batch: list[dict], out, feed: str) -> int:
        """Stored delta RPMs are linked; the others are written to ``out`` to download."""
        self.conduit.check_canceled()
        fresh = {}
        for unit in batch:
            if checksum_type(unit["checksumtype"]) is None:
                raise YumChecksumTypeError(
                    f'Checksum type "{unit["checksumtype"]}" is not supported.',
                    checksumtype=unit["checksumtype"])
            href = safe_relative_path(unit["relativepath"])
            if href is None:
                raise YumMetadataParseError(
                    f"prestodelta.xml: unsafe location {unit['relativepath']!r}")
            uid = self.conduit.unit_id(DRPM, key_of(DRPM, unit))
            if uid not in self.upstream[DRPM]:
                self.upstream[DRPM].add(uid)
                fresh[uid] = (unit, urllib.parse.urljoin(feed, urllib.parse.quote(href)))
        stored = self.conduit.find_units(DRPM, (key_of(DRPM, u) for u, _ in fresh.values()),
                                         ["_storage_path", "signing_key"])
        count = 0
        for uid, (unit, url) in fresh.items():
            known = stored.get(uid)
            if known and self.conduit.storage.exists(known["_storage_path"]):
                if self.screen.active:
                    if "signing_key" in known:
                        unit["signing_key"] = known["signing_key"]
                    else:  # stored before deltas recorded their key
                        self._read_key(self.conduit.storage.path(known["_storage_path"]), unit)
                    refusal = self.screen.check_key(unit)
                    if refusal:
                        self.progress.refused(refusal)
                        continue
                self.to_link.append({"_id": uid, "_content_type_id": DRPM})
                continue
            out.write(json.dumps({"unit": unit, "url": url}) + "\n")
            count += 1
        return count

    def _download_deltas(self, downloader, spool, details: dict) -> None:
        def done(unit):
            details["drpm_done"] += 1
            self.conduit.set_progress(self.report)

        with open(spool) as listed, open(self.drpm_spool, "w") as out:
            self.drpm_fetched = True
            errors = spool_listed(downloader, map(json.loads, listed), out, self.validate,
                                  lambda result, unit: self._refused(result.path, unit), done)
        if errors:
            raise YumDownloadError(
                f"{len(errors)} delta RPM(s) failed to download or verify; first: "
                f"{errors[0]['name']}: {errors[0]['error']}", error_details=errors[:50])

    def _read_key(self, path, unit: dict) -> None:
        """``unit["signing_key"]`` from the delta file; None when drpm.py cannot read it (an
        rpm-only or zstd delta), which the policy, when there is one, treats as unsigned."""
        try:
            unit["signing_key"] = drpm.read_delta(path)["signing_key"]
        except (OSError, drpm.DeltaError):
            unit["signing_key"] = None

    def _refused(self, path, unit: dict) -> bool:
        """Record the downloaded delta's key; True (reported) when the policy refuses it."""
        self._read_key(path, unit)
        refusal = self.screen.check_key(unit)
        if refusal:
            self.progress.refused(refusal)
        return refusal is not None

    def _tree(self, downloader, feed: str) -> None:
        """The tree of ``.treeinfo`` (or ``treeinfo``) at the feed root, if there is one."""
        text = None
        for name in TREEINFO_NAMES:
            result = downloader.download_one(DownloadRequest(urllib.parse.urljoin(feed, name)))
            if result.ok:
                text = result.path.read_text(errors="replace")
                treeinfo_path, treeinfo_sha = result.path, result.sha256
                break
            if isinstance(result.error, TaskCanceled):
                raise TaskCanceled()
            if not _absent(result.error, result.request.url):
                raise YumMetadataError(f"Error retrieving metadata: {name}: {result.error}")
        if text is None:
            return
        try:
            unit, files = read_treeinfo(text)
        except TreeinfoError as exc:
            raise YumMetadataParseError(f"Could not parse repository metadata: {exc}") \
                from None
        uid = self.conduit.unit_id(DISTRIBUTION, key_of(DISTRIBUTION, unit))
        self.upstream[DISTRIBUTION].add(uid)
        stored = self.conduit.find_units(DISTRIBUTION, [key_of(DISTRIBUTION, unit)],
                                         ["_storage_path", "files"])
        known = stored.get(uid)
        if known and all(self.conduit.storage.exists(p) for p in _tree_paths(known)):
            self.to_link.append({"_id": uid, "_content_type_id": DISTRIBUTION})
            return
        progress = self.report["distribution"]
        progress.update(items_total=len(files), items_left=len(files))
        self.conduit.set_progress(self.report, force=True)
        fetched = []
        errors = []
        requests = (DownloadRequest(
            urllib.parse.urljoin(feed, urllib.parse.quote(f["relativepath"])),
            sha256=f["checksum"] if f["checksumtype"] == "sha256" else None, data=f)
            for f in files)
        for result in downloader.download(requests):
            entry = result.request.data
            if result.ok and self.validate and entry["checksum"] \
                    and entry["checksumtype"] != "sha256":
                result.error = verify(result.path, entry["checksumtype"], entry["checksum"],
                                      entry["relativepath"])
            progress["items_left"] -= 1
            if result.ok:
                fetched.append((entry, result.path, result.sha256))
                continue
            if result.path:
                result.path.unlink(missing_ok=True)
            if isinstance(result.error, TaskCanceled):
                raise TaskCanceled()
            errors.append({"name": entry["relativepath"], "error": str(result.error)})
            if len(progress["error_details"]) < 50:
                progress["error_details"].append(errors[-1])
        if errors:
            raise YumDownloadError(
                f"{len(errors)} distribution file(s) failed to download or verify; first: "
                f"{errors[0]['name']}: {errors[0]['error']}", error_details=errors[:50])
        unit["files"] = [{**entry, "_temp": str(path), "_sha256": sha}
                         for entry, path, sha in fetched]
        self.to_save.append((DISTRIBUTION, unit, treeinfo_path, treeinfo_sha, False))

    def _metadata_file(self, downloader, feed, record) -> None:
        data_type = record.type
        path = fetch_record(downloader, feed, record, self.validate)
        name = _DIGEST_PREFIX.sub("", posixpath.basename(record.location_href))
        unit = {"data_type": data_type, "repo_id": self.repo_id,
                "checksum_type": checksum_type(record.checksum_type),
                "checksum": record.checksum.lower(), "relativepath": name}
        uid = self.conduit.unit_id(YUM_METADATA_FILE, key_of(YUM_METADATA_FILE, unit))
        if uid in self.upstream[YUM_METADATA_FILE]:
            path.unlink(missing_ok=True)
            return
        self.upstream[YUM_METADATA_FILE].add(uid)
        self._plan_unit(YUM_METADATA_FILE, uid, unit, path, file_digest(path), replace=True)

    # -- apply ----------------------------------------------------------------------------

    def apply(self, remove_missing: bool) -> None:
        conduit = self.conduit
        if not self.types:
            return
        conduit.check_canceled()
        conduit.associate_units(self.to_link)
        for type_id, unit, path, sha256, replace in self.to_save:
            if type_id == DISTRIBUTION:
                for entry in unit["files"]:
                    entry["_storage_path"] = conduit.store_file(
                        entry.pop("_temp"), DISTRIBUTION, entry.pop("_sha256"))
                # the images, besides the .treeinfo: so orphan cleanup removes them too
                unit["_storage_paths"] = sorted({e["_storage_path"] for e in unit["files"]})
            unit["_storage_path"] = conduit.store_file(path, type_id, sha256)
            if replace:  # revised upstream under the same key
                conduit.update_units(type_id, [unit])
            conduit.save_units(type_id, [unit])
        if self.drpm_fetched:
            batch = []
            for line in open(self.drpm_spool):
                entry = json.loads(line)
                unit = entry["unit"]
                unit["_storage_path"] = conduit.store_file(entry["path"], DRPM, entry["sha256"])
                batch.append(unit)
                if len(batch) >= BATCH:
                    conduit.save_units(DRPM, batch)
                    batch = []
            if batch:
                conduit.save_units(DRPM, batch)
        if remove_missing:
            for type_id in self.types:
                gone = conduit.repo_unit_ids(type_id) - self.upstream[type_id]
                conduit.unassociate_units(type_id, gone)


def key_of(type_id: str, unit: dict) -> dict:
    return {f: unit[f] for f in KEYS[type_id]}


def _absent(error, url: str) -> bool:
    """True when ``error`` says the file does not exist upstream (not that fetching failed)."""
    if isinstance(error, SyncError) and error.data.get("http_status") == 404:
        return True
    if url.startswith("file://"):
        path = urllib.request.url2pathname(urllib.parse.urlsplit(url).path)
        return not posixpath.exists(path)
    return False


def _tree_paths(unit: dict):
    yield unit.get("_storage_path") or ""
    for entry in unit.get("files") or ():
        yield entry.get("_storage_path") or ""
