"""``python_importer``: sync distributions from any PyPI-compatible index, and take uploads.

A sync reads the index (PEP 691 JSON, PEP 503 HTML or the PyPI JSON API, see
:mod:`.index`), applies the selection (:mod:`.filters`), and is all or nothing: every new
file is downloaded, its sha256 (and size) verified and its core metadata read into
temporary storage first; only when every file passed are they stored and the repository
changed. Any upstream fault (digest or size mismatch, a 404, a malformed page, a hostile link,
an archive whose metadata contradicts its name) fails the sync with nothing stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import requests
from packaging.version import InvalidVersion, Version

from pulp2ng.plugin import (
    CallConfig,
    DownloadRequest,
    Importer,
    SyncError,
    SyncReport,
    TaskCanceled,
    UnsupportedTypes,
    UploadError,
    validate_downloader_config,
)

from . import filters
from .errors import (MetadataError, PythonConfigError, PythonContentError, PythonDownloadError,
                     PythonIndexError)
from .index import FileInfo, IndexClient
from .local import LocalIndexAdapter, url_path
from .metadata import core_metadata_bytes, metadata_from_bytes, parse_filename
from .types import TYPE

BATCH = 1000
#: Keys the importer accepts besides the selection keys of :mod:`.filters`.
OWN_KEYS = ("feed", "remove_missing", "allowed_hosts", "download_policy")
STEPS = (
    ("sync_step_download_metadata", "Downloading Python metadata."),
    ("get_local", "Copying units already in pulp"),
    ("sync_step_download_packages", "Downloading and processing Python packages."),
    ("sync_step_save_units", "Saving units and updating the repository."),
)
_META_FIELDS = (
    "name", "version", "packagetype", "summary", "requires_python", "requires_dist", "author",
    "author_email", "license", "home_page", "classifiers", "metadata_version",
    "python_version", "platform",
)
#: Fields read from stored units when deciding what a sync must fetch.
_PLAN_FIELDS = ("filename", "sha256", "_storage_path")


class PythonImporter(Importer):
    streams_units = True
    default_config = {"max_downloads": 5, "remove_missing": False}
    config_keys = (*OWN_KEYS, *filters.SELECTION_KEYS)

    @classmethod
    def metadata(cls):
        return {"id": "python_importer", "display_name": "Python Importer", "types": [TYPE]}

    def validate_config(self, repo, config: CallConfig):
        feed = config.get("feed")
        if feed is not None:
            if not isinstance(feed, str):
                return False, "feed must be a string"
            parts = urllib.parse.urlsplit(feed)
            local = parts.scheme == "file" and not parts.netloc and parts.path.startswith("/")
            if not local and (parts.scheme not in ("http", "https") or not parts.hostname):
                return False, ("feed must be an http or https URL of a PyPI-compatible index, "
                               "or a file:/// URL of a local PEP 503 tree")
        ok, problem = filters.validate_config(config.flatten())
        if not ok:
            return False, problem
        problem = validate_downloader_config(config)
        if problem:
            return False, problem
        try:
            config.get_boolean("remove_missing")
        except ValueError as exc:
            return False, str(exc)
        hosts = config.get("allowed_hosts")
        if hosts is not None and (not isinstance(hosts, list)
                                  or not all(isinstance(h, str) for h in hosts)):
            return False, "allowed_hosts must be a list of host names"
        if config.get("download_policy", "immediate") != "immediate":
            return False, "download_policy: only 'immediate' is supported"
        return True, None

    # -- sync -----------------------------------------------------------------------------

    def sync_repo(self, repo, conduit, config):
        feed = config.get("feed")
        if not feed:
            raise PythonConfigError("The importer has no feed")
        try:
            selection = filters.parse_selection(config.flatten())
        except ValueError as exc:
            raise PythonConfigError(f"Invalid selection: {exc}") from None
        progress = Progress(conduit)
        try:
            with conduit.downloader(config) as downloader:
                if feed.startswith("file:"):
                    downloader.session.mount("file://", LocalIndexAdapter(url_path(feed)))
                client = IndexClient(feed, downloader.session, config.get("allowed_hosts"),
                                     timeout=downloader.timeout[1])
                wanted = _read_index(client, selection, progress, downloader.max_downloads,
                                     conduit)
                plan = _plan(conduit, wanted, config.get_boolean("remove_missing"), progress)
                fetched = _download(downloader, plan.to_fetch, progress, conduit)
            _apply(conduit, plan, fetched, progress)
        except TaskCanceled:
            progress.cancel()
            raise
        except SyncError as exc:
            progress.fail(str(exc))
            raise
        return SyncReport(True, summary=progress.summary(), details={
            "wanted": len(wanted), "linked": len(plan.to_link), "downloaded": len(fetched),
            "removed": len(plan.stale)})

    # -- upload and copy ----------------------------------------------------------------------

    def upload_unit(self, repo, type_id, unit_key, metadata, file_path, conduit, config):
        """A wheel or sdist; its metadata comes from the file, never from the client."""
        if type_id != TYPE:
            raise UnsupportedTypes(f"python_importer cannot import {type_id} units")
        filename = (unit_key or {}).get("filename")
        if not isinstance(filename, str) or not _safe_filename(filename):
            raise UploadError("unit_key needs the distribution's file name as 'filename'",
                              unit_key=unit_key)
        try:
            parse_filename(filename)
        except MetadataError as exc:
            raise UploadError(str(exc), unit_key=unit_key) from None
        claimed = _claimed_digests({**(metadata or {}), **unit_key})
        temp = conduit.storage.temp_path()
        with open(file_path, "rb") as src, open(temp, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        try:
            digests = Digests.of(temp)
            for kind, value in claimed.items():
                actual = getattr(digests, kind)
                if str(value).lower() != str(actual):
                    raise UploadError(f"The uploaded file's {kind} {actual} does not match "
                                      f"the unit key's {value}", unit_key=unit_key)
            try:
                raw = core_metadata_bytes(temp, filename)
                meta = metadata_from_bytes(filename, raw)
            except MetadataError as exc:
                raise UploadError(f"Cannot read {filename}: {exc}", unit_key=unit_key) from None
            stored = conduit.find_units(TYPE, [{"filename": filename}], ["sha256"])
            if any(u.get("sha256") != digests.sha256 for u in stored.values()):
                raise UploadError(f"{filename} is already stored with other content; a file "
                                  "name cannot be reused", unit_key=unit_key)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        item = Fetched(FileInfo(filename=filename, url=""), temp, meta, digests,
                       _publishable_metadata(meta, raw))
        conduit.save_units(TYPE, [_store(conduit, item)])
        return {"success_flag": True, "details": {},
                "summary": {"filename": filename, "name": meta["name"],
                            "version": meta["version"], "sha256": digests.sha256}}

    def import_units(self, source_repo, dest_repo, conduit, config, units):
        """Copy Python packages (the platform lets only accepted types through)."""
        conduit.associate_units(units)
        return None


# -- sync stages ------------------------------------------------------------------------------


@dataclass
class Plan:
    """What a sync changes: files to fetch, stored units to associate, units to drop."""

    to_fetch: list = field(default_factory=list)
    to_link: list = field(default_factory=list)
    stale: list = field(default_factory=list)


def _claimed_digests(fields: dict) -> dict:
    """What the client says the file is: ``sha256``/``md5``/``sha512``/``size``, or Pulp 2's
    ``checksum`` with ``checksumtype`` (default sha256). An unknown type is refused, never
    skipped, so a claim is always checked."""
    claimed = {k: fields[k] for k in ("sha256", "md5", "sha512", "size") if fields.get(k)}
    if fields.get("checksum"):
        kind = str(fields.get("checksumtype") or "sha256").lower()
        if kind not in ("sha256", "md5", "sha512"):
            raise UploadError(f"checksumtype {kind!r} is not one of sha256, md5, sha512",
                              checksumtype=kind)
        claimed[kind] = fields["checksum"]
    return claimed


@dataclass
class Digests:
    sha256: str
    md5: str
    sha512: str
    size: int

    @classmethod
    def of(cls, path) -> Digests:
        """Every digest clients and Pulp 2 fields use, in one read of the file."""
        with open(path, "rb") as fh:
            return cls.read(fh)

    @classmethod
    def read(cls, fh) -> Digests:
        """Digests of an open file from its current position to the end."""
        hashes = [hashlib.sha256(), hashlib.md5(), hashlib.sha512()]
        size = 0
        while chunk := fh.read(1 << 20):
            size += len(chunk)
            for h in hashes:
                h.update(chunk)
        return cls(*(h.hexdigest() for h in hashes), size)


@dataclass
class Fetched:
    """A verified file in temporary storage with its metadata, ready to be stored."""

    info: FileInfo
    path: object
    meta: dict
    digests: Digests
    core_metadata: bytes | None


@contextlib.contextmanager
def _upstream_errors(what: str):
    """Turn the index client's failures into a SyncError that says what was being read."""
    try:
        yield
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        url = exc.response.url if exc.response is not None else what
        raise PythonIndexError(f"Could not read {what}: HTTP {status} for {url}") from None
    except requests.RequestException as exc:
        raise PythonIndexError(f"Could not read {what}: {exc}") from None
    except PythonContentError as exc:
        raise PythonIndexError(f"Bad upstream index ({what}): {exc}") from None


def _read_index(client, selection, progress, workers: int, conduit) -> dict[str, FileInfo]:
    """Fetch the project pages concurrently and select files: ``{filename: FileInfo}``."""
    names = selection.project_names
    if names is None:
        with _upstream_errors("the project list"):
            names = [n for n in client.list_projects() if selection.wants_project(n)]
    progress.start("sync_step_download_metadata", len(names))
    wanted: dict[str, FileInfo] = {}
    pool = ThreadPoolExecutor(max(1, min(workers, len(names))), thread_name_prefix="index")
    try:
        futures = {pool.submit(client.project_files, n): n for n in names}
        for future in as_completed(futures):
            name = futures[future]
            with _upstream_errors(f"the index page of {name}"):
                files = future.result()
            for info in selection.select(name, files):
                wanted.setdefault(info.filename, info)
            progress.advance("sync_step_download_metadata")
            conduit.check_canceled()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    progress.finish("sync_step_download_metadata")
    return wanted


def _plan(conduit, wanted: dict, remove_missing: bool, progress) -> Plan:
    """Split the wanted files into present, stored elsewhere, and to download.

    A file name already stored with another sha256 than the index lists is a fault: file
    names are the unit key, and PyPI never reuses one for other bytes.
    """
    progress.start("get_local", len(wanted))
    plan = Plan()
    in_repo = {u["filename"]: u for u in conduit.repo_units(TYPE, ["filename", "sha256"])}
    missing = [info for name, info in wanted.items() if name not in in_repo]
    stored = conduit.find_units(TYPE, ({"filename": i.filename} for i in missing), _PLAN_FIELDS)
    by_name = {**{u["filename"]: u for u in stored.values()}, **in_repo}
    conflicts = [f"{name} (index sha256 {info.sha256}, stored {by_name[name].get('sha256')})"
                 for name, info in wanted.items()
                 if name in by_name and info.sha256 and info.sha256 != by_name[name].get("sha256")]
    if conflicts:
        raise PythonDownloadError(f"{len(conflicts)} upstream file(s) differ from the stored file of the "
                        f"same name; first: {conflicts[0]}")
    for info in missing:
        unit = stored.get(conduit.unit_id(TYPE, {"filename": info.filename}))
        if unit and conduit.storage.exists(unit["_storage_path"]):
            plan.to_link.append(unit)
        else:
            plan.to_fetch.append(info)
    if remove_missing:
        plan.stale = [u["_id"] for name, u in in_repo.items() if name not in wanted]
    progress.advance("get_local", len(wanted) - len(plan.to_fetch))
    progress.finish("get_local")
    return plan


def _download(downloader, infos: list[FileInfo], progress, conduit) -> list[Fetched]:
    """Fetch, verify and read every file into temp files; any failure removes them all."""
    step = "sync_step_download_packages"
    progress.start(step, len(infos))
    requests_ = (DownloadRequest(i.url, sha256=i.sha256, size=i.size, data=i) for i in infos)
    done: list[Fetched] = []
    errors: list[dict] = []
    try:
        for result in downloader.download(requests_):
            info = result.request.data
            if isinstance(result.error, TaskCanceled):
                raise TaskCanceled()
            if result.ok:
                try:
                    done.append(_inspect(info, result.path))
                    progress.advance(step)
                    continue
                except (MetadataError, SyncError) as exc:
                    result.path.unlink(missing_ok=True)
                    error = str(exc)
            else:
                error = str(result.error)
            errors.append({"filename": info.filename, "error": error})
            progress.failure(step, errors[-1])
        if errors:
            first = errors[0]
            raise PythonDownloadError(f"{len(errors)} of {len(infos)} file(s) failed; first: "
                            f"{first['filename']}: {first['error']}", errors=errors[:50])
    except BaseException:
        for item in done:
            item.path.unlink(missing_ok=True)
        raise
    progress.finish(step)
    return done


def _inspect(info: FileInfo, path) -> Fetched:
    """Digests and core metadata of a downloaded file, from one open of it (the archive
    directory is read from the page cache the hashing just filled); md5 and sha512 are
    checked when the index gave them."""
    with open(path, "rb") as fh:
        digests = Digests.read(fh)
        for kind in ("md5", "sha512"):
            listed = info.hashes.get(kind)
            if listed and listed != getattr(digests, kind):
                raise PythonDownloadError(f"Checksum mismatch for {info.url}: expected {kind} {listed}, "
                                f"got {getattr(digests, kind)}")
        fh.seek(0)
        raw = core_metadata_bytes(fh, info.filename)
    meta = metadata_from_bytes(info.filename, raw)
    return Fetched(info, path, meta, digests, _publishable_metadata(meta, raw))


def _apply(conduit, plan: Plan, fetched: list[Fetched], progress) -> None:
    """Commit the sync: drop stale units, associate stored ones, store and save new ones."""
    step = "sync_step_save_units"
    progress.start(step, len(fetched) + len(plan.to_link) + len(plan.stale))
    conduit.unassociate_units(TYPE, plan.stale)
    conduit.associate_units(plan.to_link)
    progress.advance(step, len(plan.to_link) + len(plan.stale))
    # Storing is a rename; durability is one flush per save_units batch (the platform's).
    try:
        for start in range(0, len(fetched), BATCH):
            conduit.check_canceled()
            batch = fetched[start:start + BATCH]
            conduit.save_units(TYPE, [_store(conduit, item) for item in batch])
            progress.advance(step, len(batch))
    except BaseException:
        for item in fetched:  # stored files were moved away; the rest are dropped
            item.path.unlink(missing_ok=True)
        raise
    progress.finish(step)


def _store(conduit, item: Fetched) -> dict:
    """Move the file (and its PEP 658 metadata) into storage; return the unit document."""
    d = item.digests
    unit = {key: item.meta.get(key) for key in _META_FIELDS}
    unit.update(
        filename=item.info.filename, sha256=d.sha256, size=d.size, md5_digest=d.md5,
        _checksum=d.sha512, _checksum_type="sha512", path=item.info.url or None,
        yanked=item.info.yanked_reason or item.info.yanked,
        requires_python=item.meta.get("requires_python") or item.info.requires_python,
        metadata_sha256=None, _metadata_storage_path=None,
        _storage_path=conduit.store_file(item.path, TYPE, d.sha256),
    )
    if item.core_metadata is not None:
        sha = hashlib.sha256(item.core_metadata).hexdigest()
        temp = conduit.storage.temp_path()
        temp.write_bytes(item.core_metadata)
        unit.update(metadata_sha256=sha, _metadata_storage_path=conduit.store_file(temp, TYPE, sha))
    return unit


def _publishable_metadata(meta: dict, raw: bytes) -> bytes | None:
    """The core metadata to publish as PEP 658 ``.metadata``, or None.

    A wheel's METADATA is always exact. An sdist's PKG-INFO is only trustworthy from
    metadata 2.2 on, and only when Requires-Dist is not ``Dynamic`` (PEP 643): older sdists
    often omit their dependencies there, and pip resolves from ``.metadata`` without building.
    """
    if meta["packagetype"] == "bdist_wheel":
        return raw
    if meta["packagetype"] != "sdist" or not _at_least_2_2(meta.get("metadata_version")):
        return None
    dynamic = {d.strip().lower() for d in meta.get("dynamic") or ()}
    return None if dynamic & {"requires-dist", "requires-python", "version"} else raw


def _at_least_2_2(version: str | None) -> bool:
    try:
        return Version(version or "0") >= Version("2.2")
    except InvalidVersion:
        return False


def _safe_filename(name: str) -> bool:
    return bool(name) and not any(c in name for c in "/\\\0") and not name.startswith(".")


class Progress:
    """Pulp 2 step-style progress: one report per stage with counts, published live."""

    def __init__(self, conduit):
        self.conduit = conduit
        self.steps = {
            step_type: {"step_id": str(uuid.uuid4()), "step_type": step_type,
                        "description": text, "state": "NOT_STARTED", "items_total": 0,
                        "num_processed": 0, "num_success": 0, "num_failures": 0,
                        "error_details": [], "details": ""}
            for step_type, text in STEPS
        }
        self._started: dict[str, float] = {}
        self._push(force=True)

    def start(self, step: str, total: int) -> None:
        self._started[step] = time.monotonic()
        self.steps[step].update(state="IN_PROGRESS", items_total=total)
        self._push(force=True)

    def advance(self, step: str, count: int = 1) -> None:
        report = self.steps[step]
        report["num_success"] += count
        report["num_processed"] += count
        self._push()

    def failure(self, step: str, error: dict) -> None:
        report = self.steps[step]
        report["num_failures"] += 1
        report["num_processed"] += 1
        if len(report["error_details"]) < 50:
            report["error_details"].append(error)
        self._push()

    def finish(self, step: str) -> None:
        report = self.steps[step]
        report["state"] = "FAILED" if report["num_failures"] else "FINISHED"
        report["seconds"] = round(time.monotonic() - self._started.get(step, 0), 4)
        self._push(force=True)

    def fail(self, message: str) -> None:
        for report in self.steps.values():
            if report["state"] == "IN_PROGRESS":
                report["state"] = "FAILED"
                report["details"] = message[:2000]
            elif report["state"] == "NOT_STARTED":
                report["state"] = "SKIPPED"
        self._push(force=True)

    def cancel(self) -> None:
        for report in self.steps.values():
            if report["state"] in ("IN_PROGRESS", "NOT_STARTED"):
                report["state"] = "CANCELLED"
        self._push(force=True)

    def summary(self) -> dict:
        return {step: report["state"] for step, report in self.steps.items()}

    def _push(self, force: bool = False) -> None:
        self.conduit.set_progress(list(self.steps.values()), force=force)
