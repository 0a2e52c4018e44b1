"""``iso_importer``: mirror (``remove_missing``) or add files listed in a PULP_MANIFEST.

A sync is all or nothing: every new file is downloaded and verified into temporary storage
first, and only when all of them passed are they moved into content storage and the
repository changed. A bad upstream (checksum, size, truncation, 404, a malformed or hostile
manifest) fails the sync with nothing stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http
import urllib.parse

from pulp2ng.plugin import (
    CallConfig,
    ContentValidationError,
    DownloadRequest,
    Importer,
    SyncError,
    SyncReport,
    TaskCanceled,
    UnsupportedTypes,
    UploadError,
    safe_relative_path,
    validate_downloader_config,
)
from pulp2ng.importers.iso.errors import IsoDownloadError, IsoFeedError, IsoManifestError
from pulp2ng.importers.iso.manifest import MANIFEST, Entry, check_name, iter_manifest

TYPE = "iso"
BATCH = 1000


class IsoImporter(Importer):
    streams_units = True
    default_config = {"max_downloads": 5, "validate": True, "remove_missing": False,
                      "manifest_name": MANIFEST}
    config_keys = ("feed", "download_policy")

    @classmethod
    def metadata(cls):
        return {"id": "iso_importer", "display_name": "ISO Importer", "types": [TYPE]}

    def validate_config(self, repo, config: CallConfig):
        feed = config.get("feed")
        if feed is None and set(config.repo) - {"feed"}:
            return False, "feed is required when other importer settings are given"
        if feed is not None and not isinstance(feed, str):
            return False, "feed must be a string"  # whether it is a usable URL: at sync (Pulp 2)
        problem = validate_downloader_config(config)
        if problem:
            return False, problem
        try:
            config.get_boolean("remove_missing")
        except ValueError as exc:
            return False, str(exc)
        if safe_relative_path(config.get("manifest_name")) is None:
            return False, "manifest_name must be a relative file name"
        if config.get("download_policy", "immediate") != "immediate":
            return False, "download_policy: only 'immediate' is supported"
        return True, None

    # -- sync -----------------------------------------------------------------------------

    def sync_repo(self, repo, conduit, config):
        progress = Progress(conduit)
        feed = config.get("feed")
        if not feed:
            progress.fail("failed", "The importer has no feed")
            raise IsoFeedError("The importer has no feed")
        if urllib.parse.urlsplit(feed).scheme not in ("http", "https", "file"):
            message = f"The feed {feed!r} is not an http, https or file URL"
            progress.fail("failed", message)
            raise IsoFeedError(message, feed=feed)
        feed = feed if feed.endswith("/") else feed + "/"
        manifest_name = config.get("manifest_name")
        progress.state("manifest_in_progress")
        with conduit.downloader(config) as downloader:
            try:
                wanted = self._read_manifest(downloader, feed, manifest_name)
            except (SyncError, ContentValidationError) as exc:
                progress.fail("manifest_failed", str(exc))
                raise IsoManifestError(f"Could not read the manifest: {exc}",
                                       **_error_report(exc)) from None
            in_repo = {
                (u["name"], u["checksum"], u["size"]): u["_id"]
                for u in conduit.repo_units(TYPE, ["name", "checksum", "size"])
            }
            missing = [e for k, e in wanted.items() if k not in in_repo]
            stored = conduit.find_units(TYPE, (e.key for e in missing),
                                        ["name", "checksum", "size", "_storage_path"])
            to_link, to_fetch = [], []
            for entry in missing:
                unit = stored.get(conduit.unit_id(TYPE, entry.key))
                if unit and conduit.storage.exists(unit["_storage_path"]):
                    to_link.append(unit)
                else:
                    to_fetch.append(entry)
            progress.begin_downloads(to_fetch)
            fetched = self._download(downloader, feed, to_fetch, progress, conduit)
        self._apply(conduit, config, wanted, in_repo, to_link, fetched)
        progress.state("complete")
        return SyncReport(True, summary=progress.report, details=None)  # §4.3: details is None

    @staticmethod
    def _read_manifest(downloader, feed, manifest_name) -> dict:
        url = urllib.parse.urljoin(feed, manifest_name)
        with downloader.open_url(url) as body:
            return {(e.name, e.checksum, e.size): e for e in iter_manifest(body, manifest_name)}

    @staticmethod
    def _download(downloader, feed, entries, progress, conduit) -> list:
        """Fetch and verify every entry into temp files; any failure removes them all."""
        requests = (
            DownloadRequest(urllib.parse.urljoin(feed, urllib.parse.quote(e.name)),
                            sha256=e.checksum, size=e.size, data=e)
            for e in entries
        )
        done, errors = [], []
        try:
            for result in downloader.download(requests):
                if result.ok:
                    done.append((result.request.data, result.path))
                    progress.file_done(result.size)
                elif isinstance(result.error, TaskCanceled):
                    progress.state("cancelled")
                    raise TaskCanceled()
                else:
                    errors.append({"name": result.request.data.name,
                                   "error": _error_report(result.error)})
                    progress.file_failed(errors[-1])
            if errors:
                progress.fail("isos_failed", f"{len(errors)} file(s) failed")
                first = errors[0]
                raise IsoDownloadError(f"{len(errors)} of {len(entries)} file(s) failed; first: "
                                       f"{first['name']}: {_describe(first['error'])}",
                                       iso_error_messages=errors[:50])
        except BaseException:
            for _, path in done:
                path.unlink(missing_ok=True)
            raise
        return done

    @staticmethod
    def _apply(conduit, config, wanted, in_repo, to_link, fetched) -> None:
        """Commit the sync: store files, save units, keep one unit per name."""
        new_names = {e.name for e in wanted.values()}
        stale = [uid for key, uid in in_repo.items()
                 if key not in wanted and (config.get_boolean("remove_missing")
                                           or key[0] in new_names)]
        conduit.unassociate_units(TYPE, stale)
        conduit.associate_units(to_link)
        for start in range(0, len(fetched), BATCH):
            conduit.check_canceled()
            batch = fetched[start:start + BATCH]
            units = [
                {**entry.key, "_storage_path": conduit.store_file(path, TYPE, entry.checksum)}
                for entry, path in batch
            ]
            conduit.save_units(TYPE, units)

    # -- upload and copy ----------------------------------------------------------------------

    def upload_unit(self, repo, type_id, unit_key, metadata, file_path, conduit, config):
        if type_id != TYPE:
            raise UnsupportedTypes(f"iso_importer cannot import {type_id} units")
        try:
            entry = Entry(check_name(str(unit_key.get("name", ""))),
                          str(unit_key.get("checksum", "")).lower(), int(unit_key.get("size")))
        except (TypeError, ValueError):
            raise UploadError("unit_key needs name, checksum and size", unit_key=unit_key) from None
        temp = conduit.storage.temp_path()
        sha, size = hashlib.sha256(), 0
        with open(file_path, "rb") as src, open(temp, "wb") as dst:
            while chunk := src.read(1 << 20):
                sha.update(chunk)
                size += len(chunk)
                dst.write(chunk)
        if config.get_boolean("validate", True) and (
                size != entry.size or sha.hexdigest() != entry.checksum):
            temp.unlink(missing_ok=True)
            raise UploadError(
                f"The uploaded file does not match its unit key: size {size} "
                f"(expected {entry.size}), sha256 {sha.hexdigest()} (expected {entry.checksum})",
                unit_key=unit_key)
        path = conduit.store_file(temp, TYPE, sha.hexdigest())
        self._drop_same_names(conduit, [entry.name], keep={conduit.unit_id(TYPE, entry.key)})
        conduit.save_units(TYPE, [{**entry.key, "_storage_path": path}])
        return {"success_flag": True, "summary": {"name": entry.name}, "details": {}}

    def import_units(self, source_repo, dest_repo, conduit, config, units):
        """Copy with Pulp's rule: one unit per name, the copied one replacing the old.

        ``units`` is read once as a stream; the destination's names are read once, and the
        units a copied name displaces are unassociated when the copy ends."""
        holder = {u["name"]: u["_id"] for u in conduit.repo_units(TYPE, ["name"])}
        displaced: set[str] = set()

        def claim_names():
            for unit in units:
                previous = holder.get(unit["name"])
                if previous is not None and previous != unit["_id"]:
                    displaced.add(previous)  # the last of several same-name units wins
                displaced.discard(unit["_id"])
                holder[unit["name"]] = unit["_id"]
                yield unit

        conduit.associate_units(claim_names())
        conduit.unassociate_units(TYPE, displaced)
        return None

    @staticmethod
    def _drop_same_names(conduit, names, keep: set) -> None:
        names = set(names)
        stale = [u["_id"] for u in conduit.repo_units(TYPE, ["name"])
                 if u["name"] in names and u["_id"] not in keep]
        conduit.unassociate_units(TYPE, stale)


def _error_report(exc) -> dict:
    """One failure as Pulp 2's ISO importer reported it (nectar's ``error_report``):
    ``{response_code, response_msg}``. A download failure carries the HTTP status and reason
    (``response_code`` is None when no answer came); a validation failure (size or checksum
    mismatch, pulp_rpm's ``validate_iso``) has no response code, a message naming what did
    not match, and ``expected``/``actual``."""
    data = getattr(exc, "data", {}) or {}
    status = data.get("http_status")
    if isinstance(status, int):
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = str(exc)
        report = {"response_code": status, "response_msg": reason}
    else:
        report = {"response_code": None, "response_msg": str(exc)}
    if isinstance(exc, ContentValidationError) and "expected" in data:
        report.update(expected=data["expected"], actual=data.get("actual"))
    return report


def _describe(report: dict) -> str:
    """One failure in the task's description: ``HTTP 404 Not Found`` or the validation text."""
    if report["response_code"] is None:
        return report["response_msg"]
    return f"HTTP {report['response_code']} {report['response_msg']}"


class Progress:
    """The ISO progress report of Pulp 2 (§4.3), published live."""

    def __init__(self, conduit):
        self.conduit = conduit
        self.report = {"state": "not_started", "state_times": {}, "error_message": None,
                       "traceback": None, "total_bytes": 0, "finished_bytes": 0,
                       "num_isos": 0, "num_isos_finished": 0, "iso_error_messages": []}

    def state(self, name: str) -> None:
        self.report["state"] = name
        self.report["state_times"][name] = dt.datetime.now(dt.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        self.conduit.set_progress(self.report, force=True)

    def begin_downloads(self, entries) -> None:
        self.report["num_isos"] = len(entries)
        self.report["total_bytes"] = sum(e.size for e in entries)
        self.state("isos_in_progress")

    def file_done(self, size: int) -> None:
        self.report["num_isos_finished"] += 1
        self.report["finished_bytes"] += size
        self.conduit.set_progress(self.report)

    def file_failed(self, error: dict) -> None:
        if len(self.report["iso_error_messages"]) < 50:
            self.report["iso_error_messages"].append(error)
        self.conduit.set_progress(self.report)

    def fail(self, state: str, message: str) -> None:
        self.report["error_message"] = message
        self.state(state)

