"""``docker_importer``: mirror tags, manifests, lists, blobs and signatures from a registry.

A sync is all or nothing: tags and manifests are fetched and verified while planning, every
missing blob is downloaded and verified into a temp file, signatures are fetched, and only when
all of that succeeded is anything stored or the repository changed. Copy and upload (image
archives: ``docker save`` or OCI layout) live in :mod:`.copy` and :mod:`.upload`.

Config keys:

* ``feed`` (registry root URL, http/https) and ``upstream_name`` (repository name there);
* ``tags`` (exact names, Pulp 2), ``include_tags`` / ``exclude_tags`` (``*``/``?`` wildcards,
  excludes win), ``platforms`` (``os/arch[/variant]`` list children to keep);
* ``remove_missing`` (mirror: drop tags, and what only they used, gone upstream, within the
  filtered subset), ``include_foreign_layers`` (non-distributable layers fetched from their
  descriptors' ``urls``; skipped by default), ``sync_cosign`` (companion ``.sig``/``.att``/
  ``.sbom`` tags, default true);
* ``sigstore`` (lookaside URL: ``<sigstore>/<upstream_name>@sha256=<hex>/signature-N``) and
  ``signature_source`` (``auto``: the sigstore if set, else the registry extension API when
  ``GET /v2/`` sends ``X-Registry-Supports-Signatures: 1``; or ``sigstore``, ``extension``,
  ``none``);
* ``download_policy`` (only ``immediate``), ``max_downloads`` and the standard downloader keys
  (``basic_auth_username``/``basic_auth_password`` are the registry credentials, Basic or for
  the Bearer token server).
"""
from __future__ import annotations

import re
import urllib.parse
from concurrent.futures import ThreadPoolExecutor, as_completed

from pulp2ng.plugin import (
    DownloadRequest,
    Importer,
    SyncReport,
    TaskCanceled,
    validate_downloader_config,
)

from . import copy as copy_units
from . import signatures, upload
from .errors import (DigestMismatchError, DockerContentError, DockerFeedError,
                     DockerRegistryError, DockerSignatureError, NotFoundError, RegistryAuthError,
                     RegistryError)
from .manifests import parse_manifest
from .registry import RegistryClient
from .tags import filter_kwargs_from_config, filter_tags, is_signature_tag
from .types import BLOB, MANIFEST, MANIFEST_LIST, SIGNATURE, TAG
from .units import (ALL_TYPES, LIST_FIELDS, MANIFEST_FIELDS, NAME, TAG_FIELDS, Graph, merge,
                    store_manifests, tag_doc)
from .walk import plan_sync

PLATFORM = re.compile(r"[^/\s]+/[^/\s]+(?:/[^/\s]+)?")
BOOLEANS = ("remove_missing", "include_foreign_layers", "sync_cosign")


def _string_list(value) -> bool:
    return value is None or isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(v, str) for v in value))


class DockerImporter(Importer):
    default_config = {"max_downloads": 5, "remove_missing": False,
                      "include_foreign_layers": False, "sync_cosign": True}
    config_keys = ("feed", "upstream_name", "tags", "include_tags", "exclude_tags", "platforms",
                   "sigstore", "signature_source", "download_policy")

    @classmethod
    def metadata(cls):
        return {"id": "docker_importer", "display_name": "Docker Importer",
                "types": list(ALL_TYPES)}

    def validate_config(self, repo, config):
        feed, name = config.get("feed"), config.get("upstream_name")
        # Only types here: whether the feed is a usable registry URL and whether upstream_name
        # accompanies it are checked by the sync, which fails with a clear task error (Pulp 2).
        if feed is not None and not isinstance(feed, str):
            return False, "feed must be a string"
        if name is not None and (not isinstance(name, str) or not NAME.fullmatch(name)):
            return False, "upstream_name must be a registry repository name"
        for key in ("tags", "include_tags", "exclude_tags", "platforms"):
            if not _string_list(config.get(key)):
                return False, f"{key} must be a list of strings"
        platforms = config.get("platforms")
        for spec in [platforms] if isinstance(platforms, str) else platforms or ():
            if not PLATFORM.fullmatch(spec):
                return False, f"platforms: {spec!r} is not os/arch[/variant]"
        try:
            for key in BOOLEANS:
                config.get_boolean(key)
        except ValueError as exc:
            return False, str(exc)
        sigstore = config.get("sigstore")
        if sigstore is not None and (not isinstance(sigstore, str) or urllib.parse.urlsplit(
                sigstore).scheme not in ("http", "https")):
            return False, "sigstore must be an http or https URL"
        if config.get("signature_source", "auto") not in signatures.SOURCES:
            return False, f"signature_source must be one of {', '.join(signatures.SOURCES)}"
        if config.get("download_policy", "immediate") != "immediate":
            return False, "download_policy: only 'immediate' is supported"
        problem = validate_downloader_config(config)
        return (False, problem) if problem else (True, None)

    # -- sync -------------------------------------------------------------------------------

    def sync_repo(self, repo, conduit, config):
        feed, name = config.get("feed"), config.get("upstream_name")
        progress = Progress(conduit)
        if not feed or not name:
            missing = " and ".join(k for k, v in (("feed", feed), ("upstream_name", name)) if not v)
            message = f"The importer needs a feed and an upstream_name ({missing} missing)"
            progress.fail(message)
            raise DockerFeedError(message)
        if urllib.parse.urlsplit(feed).scheme not in ("http", "https"):
            message = f"The feed {feed!r} is not an http or https registry URL"
            progress.fail(message)
            raise DockerFeedError(message, feed=feed)
        name = upstream_repository(feed, name)
        local = RepoContent.load(conduit)
        with conduit.downloader(config) as downloader:
            client = _client(feed, downloader, config)
            progress.state("downloading_manifests")
            try:
                plan = plan_sync(
                    client, name, filter_kwargs_from_config(config),
                    have_blob=local.blobs.__contains__, have_manifest=local.has_manifest,
                    platforms=_platforms(config),
                    include_foreign_layers=config.get_boolean("include_foreign_layers"),
                    sync_cosign=config.get_boolean("sync_cosign"))
            except RegistryError as exc:
                progress.fail(str(exc))
                raise (DockerContentError if isinstance(exc, DigestMismatchError)
                       else DockerRegistryError)(_explain(exc, feed, name)) from None
            new_docs = self._parse_planned(plan)
            fetch, link = self._split_blobs(conduit, plan)
            progress.begin_blobs(fetch)
            workers = config.get_int("max_downloads") or 5
            fetched = _download(client, downloader, name, fetch, plan, conduit, progress,
                                workers)
            try:
                found = self._fetch_signatures(client, config, name, local, plan, workers,
                                               progress)
            except RegistryError as exc:
                for _, path, _ in fetched:
                    path.unlink(missing_ok=True)
                progress.fail(f"signatures: {exc}")
                raise DockerSignatureError(f"Fetching signatures of {name} failed: {exc}") from None
        progress.state("saving")
        self._commit(conduit, config, local, plan, new_docs, fetched, link)
        signature_ids = signatures.save(conduit, found)
        if config.get_boolean("remove_missing") and found:
            stale = [s["_id"] for s in local.signatures
                     if s["manifest_digest"] in found and s["_id"] not in set(signature_ids)]
            conduit.unassociate_units(SIGNATURE, stale)
        progress.report.update(tags=len(plan.tags), manifests_added=len(plan.manifests),
                               companion_tags=len(plan.companion_tags),
                               signatures=len(signature_ids))
        progress.state("complete")
        return SyncReport(True, summary=progress.report, details={})

    @staticmethod
    def _fetch_signatures(client, config, name, local, plan, workers, progress) -> dict:
        """Signatures of every synced image and list (cosign companions excluded)."""
        source = signatures.choose_source(config, client)
        if source == "none":
            return {}
        progress.state("downloading_signatures")
        roots = {d for t, d in plan.tags.items() if not is_signature_tag(t)}
        digests = set(roots)
        for digest in roots:
            if digest in plan.manifests:
                digests.update(plan.manifests[digest].children)
            elif digest in local.graph.lists:
                digests.update(e["digest"] for e in local.graph.lists[digest]["manifests"])
        return signatures.fetch_all(source, client, config, name, digests, workers)

    @staticmethod
    def _parse_planned(plan) -> list:
        docs = []
        for planned in plan.manifests.values():
            if not planned.digest.startswith("sha256:"):
                raise DockerContentError(f"manifest {planned.digest}: only sha256 digests are supported")
            docs.append(parse_manifest(planned.data, planned.media_type))
        for blob in plan.blobs:
            if not blob.digest.startswith("sha256:"):
                raise DockerContentError(f"blob {blob.digest}: only sha256 digests are supported")
        return docs

    @staticmethod
    def _split_blobs(conduit, plan):
        """Blobs stored by any repository are linked, never downloaded again."""
        stored = conduit.find_units(BLOB, ({"digest": b.digest} for b in plan.blobs),
                                    ["digest", "_storage_path"])
        have = {u["digest"]: u for u in stored.values()
                if conduit.storage.exists(u["_storage_path"])}
        return [b for b in plan.blobs if b.digest not in have], list(have.values())

    def _commit(self, conduit, config, local, plan, manifests, fetched, link) -> None:
        """Store verified files, save units bottom-up, then move tags and prune."""
        conduit.check_canceled()
        blob_units = [{"digest": digest, "size": size,
                       "_storage_path": conduit.store_file(path, BLOB, digest[7:])}
                      for digest, path, size in fetched]
        conduit.save_units(BLOB, blob_units)
        conduit.associate_units(link)
        store_manifests(conduit, manifests, local.graph)
        tags = []
        for tag, digest in plan.tags.items():
            is_list = digest in local.graph.lists
            target = (local.graph.lists if is_list else local.graph.manifests)[digest]
            tags.append(tag_doc(tag, conduit.repo_id, target,
                                MANIFEST_LIST if is_list else MANIFEST))
        new_ids = set(conduit.save_units(TAG, tags))
        moved = [t["_id"] for t in local.tags
                 if t["name"] in plan.tags and t["_id"] not in new_ids]
        conduit.unassociate_units(TAG, moved)
        if config.get_boolean("remove_missing"):
            self._remove_missing(conduit, config, local, plan, new_ids | set(moved))

    @staticmethod
    def _remove_missing(conduit, config, local, plan, handled: set) -> None:
        """Mirror within the filtered subset: drop tags gone upstream and what only they used."""
        kwargs = filter_kwargs_from_config(config)
        rest = [t for t in local.tags if t["_id"] not in handled]
        outside = [t for t in rest
                   if not is_signature_tag(t["name"]) and not filter_tags([t["name"]], **kwargs)]
        kept_outside = local.graph.closure(t["manifest_digest"] for t in outside)
        outside_ids = {t["_id"] for t in outside}
        gone = []
        for tag in rest:
            if tag["_id"] in outside_ids:
                continue
            if is_signature_tag(tag["name"]):
                subject = "sha256:" + tag["name"][7:71]
                if subject in kept_outside[MANIFEST] | kept_outside[MANIFEST_LIST]:
                    continue
            gone.append(tag)
        conduit.unassociate_units(TAG, [t["_id"] for t in gone])
        gone_ids = {t["_id"] for t in gone}
        kept_tags = [t for t in rest if t["_id"] not in gone_ids]
        kept = merge(local.graph.closure(t["manifest_digest"] for t in kept_tags),
                     local.graph.closure(plan.tags.values()))
        dropped = local.graph.closure(t["manifest_digest"] for t in gone)
        for type_id, digests in dropped.items():
            ids = [conduit.unit_id(type_id, {"digest": d}) for d in digests - kept[type_id]]
            conduit.unassociate_units(type_id, ids)
        unsigned = (dropped[MANIFEST] - kept[MANIFEST]) | (
            dropped[MANIFEST_LIST] - kept[MANIFEST_LIST])
        conduit.unassociate_units(SIGNATURE, [s["_id"] for s in local.signatures
                                              if s["manifest_digest"] in unsigned])

    # -- copy and upload ---------------------------------------------------------------------

    def import_units(self, source_repo, dest_repo, conduit, config, units):
        return copy_units.import_units(conduit, units)

    def remove_units(self, repo, units, config, conduit):
        copy_units.remove_units(conduit, units)

    def upload_unit(self, repo, type_id, unit_key, metadata, file_path, conduit, config):
        return upload.upload_unit(conduit, type_id, unit_key, metadata or {}, file_path)


class RepoContent:
    """What the repository holds before the sync: one projected scan per type."""

    def __init__(self, graph: Graph, blobs: set[str], tags: list[dict], sigs: list[dict]):
        self.graph, self.blobs, self.tags, self.signatures = graph, blobs, tags, sigs

    @classmethod
    def load(cls, conduit) -> "RepoContent":
        graph = Graph()
        for doc in conduit.repo_units(MANIFEST, MANIFEST_FIELDS):
            graph.add(MANIFEST, doc)
        for doc in conduit.repo_units(MANIFEST_LIST, LIST_FIELDS):
            graph.add(MANIFEST_LIST, doc)
        blobs = {u["digest"] for u in conduit.repo_units(BLOB, ["digest"])}
        return cls(graph, blobs, list(conduit.repo_units(TAG, TAG_FIELDS)),
                   list(conduit.repo_units(SIGNATURE, ["manifest_digest"])))

    def has_manifest(self, digest: str) -> bool:
        return digest in self.graph.manifests or digest in self.graph.lists


def upstream_repository(feed: str, name: str) -> str:
    """Docker Hub keeps official images under ``library/``: ``busybox`` is ``library/busybox``."""
    host = urllib.parse.urlsplit(feed).hostname or ""
    if "/" not in name and host.endswith("docker.io") and host.startswith("registry"):
        return f"library/{name}"
    return name


def _client(feed, downloader, config) -> RegistryClient:
    """A registry client on the downloader's session; basic-auth keys become registry
    credentials (Basic or for the token server), so the session must not send them itself."""
    session = downloader.session
    user, password = session.auth or (None, None)
    session.auth = None
    timeout = (float(config.get("connect_timeout") or 10), float(config.get("read_timeout") or 60))
    return RegistryClient(feed, session, user, password, timeout=timeout,
                          retrying=downloader.retrying, pace=downloader.pace)


def _platforms(config):
    value = config.get("platforms")
    return [value] if isinstance(value, str) else value or None


def _explain(exc: RegistryError, feed: str, name: str) -> str:
    if isinstance(exc, RegistryAuthError):
        return f"Registry {feed} refused access to {name}: {exc}"
    if isinstance(exc, DigestMismatchError):
        return f"A manifest of {name} does not match its digest: {exc}"
    if isinstance(exc, NotFoundError):
        return f"Could not fetch repository {name} from {feed}: {exc}"
    return f"Registry {feed} failed for {name}: {exc}"


def _download_foreign(downloader, blob) -> tuple:
    """A foreign (non-distributable) layer comes from its descriptor's ``urls``, the first
    that serves the right bytes, as a registry client would fetch it."""
    errors = []
    for url in blob.urls:
        result = downloader.download_one(DownloadRequest(
            url, sha256=blob.digest.partition(":")[2], size=blob.size))
        if result.ok:
            return blob.digest, result.path, result.size
        errors.append(f"{url}: {result.error}")
    raise RegistryError(f"foreign layer {blob.digest} could not be fetched: "
                        + "; ".join(errors))


def _download(client, downloader, name, blobs, plan, conduit, progress, workers) -> list:
    """Fetch and verify blobs concurrently into temp files; any failure removes them all."""
    users = {}
    for planned in plan.manifests.values():
        for digest in planned.blobs:
            users.setdefault(digest, planned.digest)

    def fetch(blob):
        if conduit.canceled:
            raise TaskCanceled()
        if blob.foreign and blob.urls and blob.digest.startswith("sha256:"):
            return _download_foreign(downloader, blob)
        temp = conduit.storage.temp_path()
        return blob.digest, temp, client.download_blob(name, blob.digest, temp)

    done, failure = [], None
    pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="docker-blob")
    futures = [pool.submit(fetch, blob) for blob in blobs]
    try:
        for future in as_completed(futures):
            try:
                done.append(future.result())
            except Exception as exc:  # noqa: BLE001 - translated below, after cleanup
                failure = exc
                break
            progress.blob_done(done[-1][2])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if failure is None:
        return done
    for future in futures:
        if future.done() and not future.cancelled() and future.exception() is None:
            future.result()[1].unlink(missing_ok=True)
    if isinstance(failure, TaskCanceled):
        raise failure
    digest = getattr(failure, "expected", None) or _digest_in(failure, users)
    user = users.get(digest, "?")
    if isinstance(failure, DigestMismatchError):
        message = f"blob {failure.expected} of manifest {user} does not match its digest: {failure}"
    elif isinstance(failure, NotFoundError):
        message = f"manifest {user} references blob {digest}, which {name} does not have: {failure}"
    else:
        message = f"blob download from {name} failed: {failure}"
    progress.fail(message)
    raise DockerContentError(message)


def _digest_in(exc: Exception, users: dict) -> str | None:
    text = str(exc)
    return next((d for d in users if d in text), None)


class Progress:
    """Live progress under ``progress_report["docker_importer"]``."""

    def __init__(self, conduit):
        self.conduit = conduit
        self.report = {"state": "not_started", "error_message": None, "blobs_total": 0,
                       "blobs_finished": 0, "bytes_finished": 0}

    def state(self, name: str) -> None:
        self.report["state"] = name
        self.conduit.set_progress(self.report, force=True)

    def begin_blobs(self, blobs) -> None:
        self.report["blobs_total"] = len(blobs)
        self.state("downloading_blobs")

    def blob_done(self, size: int) -> None:
        self.report["blobs_finished"] += 1
        self.report["bytes_finished"] += size
        self.conduit.set_progress(self.report)

    def fail(self, message: str) -> None:
        self.report["error_message"] = message
        self.state("failed")
