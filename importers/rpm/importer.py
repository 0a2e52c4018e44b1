"""``yum_importer``: sync a yum repository's packages (``rpm``, ``srpm``) from its repodata.

A sync reads ``repodata/repomd.xml``, fetches and verifies primary.xml, and streams it with
createrepo_c's parser: packages go through in batches, so memory stays flat in the number of
packages (what a batch needs is written to spool files in the task's temp dir, never a list of
every package). Packages already stored (same unit key, file present) are associated, the
others downloaded concurrently and verified. It is all or nothing, as for ``iso_importer``: a
package that fails to download or verify fails the sync with nothing stored.

Every downloaded package's signing key is read from its own header (signatures.py) into
``signing_key``; with ``require_signature`` / ``allowed_keys`` refused packages are reported in
``content.error_details`` (RPM1013 unsigned, RPM1014 other key) and left out, the rest of the
sync going on. Uploads (upload.py) and copies follow the same rules.

Errata and comps are synced by :mod:`metadata_units`; modules, delta RPMs, the distribution
tree and other metadata files by :mod:`extras`: both fetched and parsed with the packages,
saved after them. filelists.xml and other.xml are read alongside primary.xml
(:mod:`main_metadata`), so a unit holds every file and its changelog. A mirrorlist or metalink
feed is resolved by :mod:`feeds`, a no-op re-sync stopped by :mod:`unchanged`, and
``retain_old_count`` applied by :mod:`retention`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import urllib.parse

import createrepo_c as cr

from pulp2ng.importers.rpm.comps import COMPS_TYPES
from pulp2ng.importers.rpm.errors import (
    YumChecksumTypeError,
    YumDownloadError,
    YumMetadataParseError,
    YumNoFeedError,
)
from pulp2ng.importers.rpm import copy, feeds, retention, signatures, upload
from pulp2ng.importers.rpm.extras import EXTRA_TYPES, ExtraContent
from pulp2ng.importers.rpm.main_metadata import fetch_filelists_other, iter_packages
from pulp2ng.importers.rpm.metadata_units import MetadataUnits
from pulp2ng.importers.rpm.packages import checksum_type, type_of, unit_from_package
from pulp2ng.importers.rpm.types import (
    DISTRIBUTION,
    DRPM,
    ERRATUM,
    PACKAGE_KEY,
    RPM,
    SRPM,
    UNIT_TYPES,
)
from pulp2ng.importers.rpm.unchanged import SyncStamp
from pulp2ng.plugin import (
    ContentValidationError,
    Importer,
    SyncError,
    SyncReport,
    TaskCanceled,
    safe_relative_path,
    validate_downloader_config,
)

BATCH = 500
SKIPPABLE = (RPM, SRPM, DRPM, DISTRIBUTION, ERRATUM, *COMPS_TYPES)
SKIPPABLE += tuple(t for t in EXTRA_TYPES if t not in SKIPPABLE)  # modules, metadata files


class YumImporter(Importer):
    # ``validate`` defaults to True, unlike Pulp 2 (False): the checksum is part of the unit
    # key and units are shared between repositories, so an unverified file would be stored
    # under a key that does not describe its bytes. The downloader hashes while streaming
    # anyway, so checking costs nothing.
    default_config = {"validate": True, "remove_missing": False, "max_downloads": 5,
                      "download_policy": "immediate"}
    config_keys = ("feed", "retain_old_count", "skip", "checksum_type", "force_full",
                   "require_signature", "allowed_keys",
                   "recursive", "recursive_conservative", "copy_children")  # copy.py

    @classmethod
    def metadata(cls):
        return {"id": "yum_importer", "display_name": "Yum Importer",
                "types": [t.id for t in UNIT_TYPES]}

    def validate_config(self, repo, config):
        feed = config.get("feed")
        if feed is not None and not isinstance(feed, str):
            return False, "feed must be a string"
        problem = validate_downloader_config(config)
        if problem:
            return False, problem
        try:
            config.get_boolean("remove_missing")
            config.get_boolean("force_full")
            retain = config.get_int("retain_old_count")
        except (TypeError, ValueError) as exc:
            return False, str(exc)
        if retain is not None and retain < 0:
            return False, "retain_old_count must be a non-negative integer"
        skip = config.get("skip")
        if skip is not None and (not isinstance(skip, list)
                                 or any(s not in SKIPPABLE for s in skip)):
            return False, f"skip must be a list of: {', '.join(SKIPPABLE)}"
        wanted = config.get("checksum_type")
        if wanted is not None and checksum_type(wanted) is None:
            return False, f"checksum_type {wanted!r} is not supported"
        if config.get("download_policy", "immediate") != "immediate":
            return False, "download_policy: only 'immediate' is supported"
        problem = signatures.validate_config(config)  # require_signature, allowed_keys
        if problem:
            return False, problem
        return True, None

    # -- sync -----------------------------------------------------------------------------

    def sync_repo(self, repo, conduit, config):
        progress = Progress(conduit)
        try:
            feed = _feed(config)
            skip = set(config.get("skip") or ())
            types = [t for t in (RPM, SRPM) if t not in skip]
            retain = config.get_int("retain_old_count")
            with conduit.downloader(config) as downloader:
                progress.step("metadata", "IN_PROGRESS")
                # a mirrorlist/metalink feed resolves to its first live mirror (feeds.py);
                # an unchanged repomd.xml ends the sync here (unchanged.py)
                repomd_path = conduit.temp_dir / "repomd.xml"
                feed = feeds.fetch_repomd(downloader, feed, config.get("feed"), repomd_path)
                stamp = SyncStamp(conduit, config, repomd_path)
                if stamp.unchanged():
                    progress.unchanged()
                    return SyncReport(True, summary=progress.report, details={})
                primary = _fetch_primary(downloader, feed, conduit)
                lists = fetch_filelists_other(downloader, feed, repomd_path,
                                              config.get_boolean("validate", True))
                progress.step("metadata", "FINISHED")
                screen = signatures.Screen(config)
                plan = Plan(conduit, types, screen)
                if retain is not None:  # retention.py: never fetch a version dropped at once
                    plan.wanted = retention.Wanted(primary, retain)
                plan.read(primary, feed, *lists)
                progress.begin_content(plan)
                fetched = _download(downloader, plan, progress, conduit,
                                    config.get_boolean("validate", True), screen)
                # errata + comps (metadata_units.py); modules, delta RPMs, the distribution
                # tree, other metadata (extras.py): fetched and parsed before anything is
                # stored, saved after the packages
                metadata = MetadataUnits(conduit, repo["id"], skip)
                metadata.fetch(downloader, feed, progress)
                extras = ExtraContent(conduit, config, progress)
                extras.fetch(downloader, feed)
            progress.step("purge_duplicates", "IN_PROGRESS")
            plan.apply(fetched, config.get_boolean("remove_missing", False))
            metadata.apply(config.get_boolean("remove_missing", False))
            extras.apply(config.get_boolean("remove_missing", False))
            if retain is not None:
                retention.prune(conduit, types, retain)
            progress.step("purge_duplicates", "FINISHED")
            stamp.remember()
        except TaskCanceled:
            progress.cancel()
            raise
        except SyncError as exc:
            progress.fail(str(exc))
            raise
        return SyncReport(True, summary=progress.report, details={})

    # -- upload and copy (logic in upload.py and signatures.py) -------------------------------

    def upload_unit(self, repo, type_id, unit_key, metadata, file_path, conduit, config):
        return upload.upload_unit(repo, type_id, unit_key, metadata, file_path, conduit, config)

    def import_units(self, source_repo, dest_repo, conduit, config, units):
        """Copy the selected units with their children and, with ``recursive`` or
        ``recursive_conservative``, their dependencies (copy.py), leaving out packages the
        destination's signature policy refuses."""
        plan = copy.CopyPlan.build(conduit, config, units)
        units = signatures.copy_filter(conduit, config, plan.units)
        conduit.associate_units(units)
        return units + plan.save_clones()


def _feed(config) -> str:
    feed = config.get("feed")
    if not feed:
        raise YumNoFeedError("Unable to sync a repository that has no feed.")
    if urllib.parse.urlsplit(feed).scheme not in ("http", "https", "file"):
        raise YumNoFeedError(f"The feed {feed!r} is not an http, https or file URL", feed=feed)
    return feed if feed.endswith("/") else feed + "/"


def _fetch_primary(downloader, feed: str, conduit):
    """Fetch primary.xml (verified against the repomd.xml fetched already); returns its
    path."""
    repomd_path = conduit.temp_dir / "repomd.xml"
    try:
        repomd = cr.Repomd(str(repomd_path))
    except Exception as exc:  # createrepo_c raises its own error types for a bad document
        raise YumMetadataParseError(f"Could not parse repository metadata: repomd.xml: {exc}",
                                    feed=feed) from None
    record = next((r for r in repomd.records if r.type == "primary"), None)
    href = safe_relative_path(record.location_href) if record else None
    if href is None:
        raise YumMetadataParseError("Could not parse repository metadata: repomd.xml lists "
                                    "no usable primary file", feed=feed)
    return feeds.fetch_record(downloader, feed, record)


class Plan:
    """What a sync does, built by streaming primary.xml once.

    Kept in memory: the ids of the repository's and the upstream's packages (for mirroring)
    and the stored units to associate, as ``{_id, _content_type_id}``. Packages to download
    go to a spool file, one JSON line each, with their unit document."""

    def __init__(self, conduit, types: list[str], screen: signatures.Screen):
        self.conduit = conduit
        self.types = types
        self.screen = screen
        self.in_repo = {t: conduit.repo_unit_ids(t) for t in types}
        self.upstream: dict[str, set] = {t: set() for t in types}
        self.to_link: list[dict] = []
        self.spool = conduit.temp_dir / "rpm-to-fetch.jsonl"
        self.fetch_count = 0
        self.fetch_bytes = 0
        self.counts = {t: 0 for t in types}
        self._batch: list[tuple[str, dict, str]] = []
        #: ``(type_id, unit) -> bool``: the upstream versions ``retain_old_count`` keeps
        self.wanted = None

    def read(self, primary_path, feed: str, filelists=None, other=None) -> None:
        failure: list[BaseException] = []

        def on_package(pkg):
            try:
                self._take(pkg, feed)
                if len(self._batch) >= BATCH:
                    self._flush()
            except BaseException as exc:  # stop the parser; raised again below
                failure.append(exc)
                return False
            return True

        with open(self.spool, "w") as self._out:
            if filelists is not None:  # every file and the changelogs (main_metadata.py)
                for pkg in iter_packages(primary_path, filelists, other):
                    if not on_package(pkg):
                        raise failure[0]
                self._flush()
                return
            try:
                cr.xml_parse_primary(str(primary_path), pkgcb=on_package, do_files=True)
            except Exception as exc:
                if not failure:
                    raise YumMetadataParseError(
                        f"Could not parse repository metadata: primary.xml: {exc}") from None
            if failure:
                raise failure[0]
            self._flush()

    def _take(self, pkg, feed: str) -> None:
        type_id = type_of(pkg)
        if type_id not in self.upstream:
            return  # skipped type
        unit = unit_from_package(pkg)
        if self.wanted is not None and not self.wanted(type_id, unit):
            return  # older than the newest retain_old_count + 1 versions
        if checksum_type(pkg.checksum_type) is None:
            raise YumChecksumTypeError(
                f'Checksum type "{pkg.checksum_type}" is not supported.',
                checksumtype=pkg.checksum_type)
        href = safe_relative_path(pkg.location_href)
        base = pkg.location_base or ""
        if href is None or (base and urllib.parse.urlsplit(base).scheme not in ("http", "https")):
            raise YumMetadataParseError(
                f"primary.xml: package {pkg.nevra()} has an unsafe location "
                f"{pkg.location_href!r}")
        root = (base if base.endswith("/") else base + "/") if base else feed
        url = urllib.parse.urljoin(root, urllib.parse.quote(href))
        self._batch.append((type_id, unit, url))

    def _flush(self) -> None:
        """Sort a batch into known, stored (associate) and new (spool for download)."""
        self.conduit.check_canceled()
        batch, self._batch = self._batch, []
        fresh: dict[str, list] = {}
        for type_id, unit, url in batch:
            uid = self.conduit.unit_id(type_id, {f: unit[f] for f in PACKAGE_KEY})
            if uid in self.upstream[type_id]:
                continue  # listed twice upstream
            self.upstream[type_id].add(uid)
            self.counts[type_id] += 1
            if uid not in self.in_repo[type_id]:
                fresh.setdefault(type_id, []).append((uid, unit, url))
        for type_id, entries in fresh.items():
            stored = self.conduit.find_units(
                type_id, ({f: u[f] for f in PACKAGE_KEY} for _, u, _ in entries),
                ["_storage_path", "signing_key"])
            for uid, unit, url in entries:
                known = stored.get(uid)
                if known and self.conduit.storage.exists(known["_storage_path"]):
                    if self.screen.check_stored(known, unit, self.conduit.storage.path):
                        continue  # refused by the signature policy; reported
                    self.to_link.append({"_id": uid, "_content_type_id": type_id})
                    continue
                self._out.write(json.dumps({"type": type_id, "unit": unit, "url": url}) + "\n")
                self.fetch_count += 1
                self.fetch_bytes += unit["size"] or 0

    def to_fetch(self):
        with open(self.spool) as spool:
            for line in spool:
                yield json.loads(line)

    def apply(self, fetched_spool, remove_missing: bool) -> None:
        """Commit: associate stored units, store downloaded ones, drop what left upstream."""
        conduit = self.conduit
        conduit.check_canceled()
        conduit.associate_units(self.to_link)
        batch: dict[str, list] = {}
        for entry in _read_spool(fetched_spool):
            unit = entry["unit"]
            unit["_storage_path"] = conduit.store_file(entry["path"], entry["type"],
                                                       entry["sha256"])
            units = batch.setdefault(entry["type"], [])
            units.append(unit)
            if len(units) >= BATCH:
                conduit.check_canceled()
                conduit.save_units(entry["type"], units)
                batch[entry["type"]] = []
        for type_id, units in batch.items():
            if units:
                conduit.save_units(type_id, units)
        if remove_missing:
            for type_id in self.types:
                conduit.unassociate_units(type_id, self.in_repo[type_id] - self.upstream[type_id])


def _read_spool(path):
    if path is None:
        return
    with open(path) as spool:
        for line in spool:
            yield json.loads(line)


def _download(downloader, plan: Plan, progress, conduit, validate: bool,
              screen: signatures.Screen):
    """Fetch and verify every new package into temp files, listed in a spool file that is
    returned; any failure removes them all and fails the sync."""
    if not plan.fetch_count:
        return None
    spool = conduit.temp_dir / "rpm-fetched.jsonl"

    def refused(result, unit) -> bool:
        return _refused(screen, result, unit, progress)

    try:
        with open(spool, "w") as out:
            errors = feeds.spool_listed(downloader, plan.to_fetch(), out, validate, refused,
                                        progress.package_done, progress.package_failed)
        if errors:
            first = errors[0]
            raise YumDownloadError(
                f"{len(errors)} of {plan.fetch_count} package(s) failed to download or "
                f"verify; first: {first['name']}: {first['error']}", error_details=errors[:50])
    except BaseException:
        for entry in _read_spool(spool):
            try:
                os.unlink(entry["path"])
            except OSError:
                pass
        raise
    return spool


def _refused(screen: signatures.Screen, result, unit: dict, progress) -> bool:
    """Read the downloaded file's signing key into ``unit``; True (file dropped, refusal
    reported) when the signature policy refuses it. An unreadable header fails the
    package like a checksum mismatch."""
    try:
        refusal = screen.check_file(result.path, unit)
    except signatures.SignatureError as exc:
        result.error = ContentValidationError(f"{unit['filename']}: {exc}")
        return False
    if refusal is None:
        return False
    progress.package_refused(refusal, unit["size"])
    return True


class Progress:
    """pulp_rpm 2.x's yum_importer progress report (one sub-report per sync step)."""

    def __init__(self, conduit):
        self.conduit = conduit
        self.report = {
            "metadata": {"state": "NOT_STARTED"},
            "content": {"state": "NOT_STARTED", "items_total": 0, "items_left": 0,
                        "size_total": 0, "size_left": 0, "error_details": [],
                        "details": {"rpm_total": 0, "rpm_done": 0,
                                    "drpm_total": 0, "drpm_done": 0}},
            "comps": {"state": "SKIPPED"},
            "purge_duplicates": {"state": "NOT_STARTED"},
            "distribution": {"state": "SKIPPED", "items_total": 0, "items_left": 0,
                             "error_details": []},
            "errata": {"state": "SKIPPED"},
            "modules": {"state": "SKIPPED"},
        }
        self.started = dt.datetime.now(dt.timezone.utc)
        self.current = None

    def unchanged(self) -> None:
        """A no-op re-sync: repomd.xml, the config and the repository are as the last
        successful sync left them, so nothing was parsed or fetched."""
        self.report["metadata"].update(state="FINISHED", unchanged=True)
        for step in self.report.values():
            if step["state"] == "NOT_STARTED":
                step["state"] = "SKIPPED"
        self.conduit.set_progress(self.report, force=True)

    def step(self, name: str, state: str) -> None:
        self.report[name]["state"] = state
        self.current = name if state == "IN_PROGRESS" else None
        self.conduit.set_progress(self.report, force=True)

    def begin_content(self, plan: Plan) -> None:
        content = self.report["content"]
        content.update(items_total=plan.fetch_count, items_left=plan.fetch_count,
                       size_total=plan.fetch_bytes, size_left=plan.fetch_bytes)
        content["details"].update(rpm_total=plan.fetch_count)
        for refusal in plan.screen.refused:  # stored packages refused while planning
            self.refused(refusal)
        if plan.screen.refused_count:
            content["details"]["refused"] = plan.screen.refused_count
        self.step("content", "IN_PROGRESS" if plan.fetch_count else "FINISHED")

    def package_done(self, unit: dict) -> None:
        content = self.report["content"]
        content["items_left"] -= 1
        content["size_left"] -= unit["size"] or 0
        content["details"]["rpm_done"] += 1
        if not content["items_left"]:
            content["state"] = "FINISHED"
        self.conduit.set_progress(self.report, force=not content["items_left"])

    def package_refused(self, refusal: dict, size: int) -> None:
        """A downloaded package the signature policy refused: not added, not a failure."""
        content = self.report["content"]
        content["items_left"] -= 1
        content["size_left"] -= size or 0
        self.refused(refusal)

    def refused(self, refusal: dict) -> None:
        """Report a package refused by the signature policy (``content.error_details`` with
        its ``error_code``, as pulp_rpm 2.x, and the count in ``content.details``)."""
        content = self.report["content"]
        content["details"]["refused"] = content["details"].get("refused", 0) + 1
        if len(content["error_details"]) < 50:
            content["error_details"].append(refusal)
        if not content["items_left"] and content["state"] == "IN_PROGRESS":
            content["state"] = "FINISHED"
        self.conduit.set_progress(self.report, force=not content["items_left"])

    def package_failed(self, error: dict) -> None:
        content = self.report["content"]
        content["items_left"] -= 1
        if len(content["error_details"]) < 50:
            content["error_details"].append(error)
        self.conduit.set_progress(self.report)

    def fail(self, message: str) -> None:
        """Mark the step that was running (metadata when none was) FAILED, with why."""
        failed = self.current or ("metadata" if self.report["metadata"]["state"] != "FINISHED"
                                  else "content")
        self.report[failed]["state"] = "FAILED"
        self.report[failed]["error"] = message
        self.conduit.set_progress(self.report, force=True)

    def cancel(self) -> None:
        for step in self.report.values():
            if step["state"] == "IN_PROGRESS":
                step["state"] = "CANCELLED"
        self.conduit.set_progress(self.report, force=True)
