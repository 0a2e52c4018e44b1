"""Chunked uploads (``<storage>/uploads/<id>``) and importing one into a repository.

An upload is only a file: its id is a uuid4 hex validated strictly before any path is built,
so no id reaches outside the upload folder. Chunks are copied from the request stream in 1 MiB
pieces (memory does not grow with the upload). Uploads untouched for ``[uploads]
expire_after`` seconds are removed by the scheduler.
"""

from __future__ import annotations

import errno
import re
import time
import uuid
from pathlib import Path

from pulp2ng.controllers.plugin_calls import call_config, transfer_repo
from pulp2ng.controllers.repositories import resource
from pulp2ng.controllers.sync import note_content_change
from pulp2ng.controllers.units import require_type
from pulp2ng.errors import (
    InvalidValue,
    MissingResource,
    MissingValue,
    PulpError,
    TaskCanceled,
    UnsupportedTypes,
    UploadError,
)
from pulp2ng.plugin.conduits import UploadConduit
from pulp2ng.tasking import tags
from pulp2ng.tasking.dispatch import CallReport, dispatch
from pulp2ng.tasking.registry import task

_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_OFFSET = re.compile(r"[0-9]{1,18}")
CHUNK = 1 << 20


def _folder(platform) -> Path:
    return platform.storage.root / "uploads"


def upload_path(platform, upload_id) -> Path:
    """The file of an existing upload; MissingResource for a malformed or unknown id."""
    if not isinstance(upload_id, str) or not _UPLOAD_ID.fullmatch(upload_id):
        raise MissingResource(upload_request=str(upload_id)[:64])
    path = _folder(platform) / upload_id
    if not path.is_file():
        raise MissingResource(upload_request=upload_id)
    return path


def create_upload(platform) -> dict:
    upload_id = uuid.uuid4().hex
    (_folder(platform) / upload_id).touch(exist_ok=False)
    return {"_href": f"/pulp/api/v2/content/uploads/{upload_id}/", "upload_id": upload_id}


def list_uploads(platform) -> dict:
    ids = sorted(p.name for p in _folder(platform).iterdir() if _UPLOAD_ID.fullmatch(p.name))
    return {"upload_ids": ids}


def parse_offset(text: str) -> int:
    if not _OFFSET.fullmatch(text or ""):
        raise InvalidValue(["offset"], f"offset must be a non-negative integer, not {text!r}")
    return int(text)


def write_chunk(platform, upload_id: str, offset_text: str, stream) -> None:
    """Write ``stream`` at ``offset``, reading it in CHUNK pieces (never whole)."""
    offset = parse_offset(offset_text)
    path = upload_path(platform, upload_id)
    with open(path, "r+b") as fh:
        try:
            fh.seek(offset)
            while chunk := stream.read(CHUNK):
                fh.write(chunk)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.EFBIG):
                raise
            # An offset beyond the largest file the filesystem allows: the client's fault.
            raise InvalidValue(["offset"], f"offset {offset} is beyond the largest file "
                                           f"size: {exc.strerror}") from None


def delete_upload(platform, upload_id: str) -> None:
    upload_path(platform, upload_id).unlink(missing_ok=True)


def expire_uploads(platform) -> int:
    """Remove uploads not written for ``[uploads] expire_after`` seconds (scheduler tick)."""
    limit = time.time() - platform.settings.getint("uploads", "expire_after")
    removed = 0
    for path in _folder(platform).iterdir():
        try:
            if _UPLOAD_ID.fullmatch(path.name) and path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed


# -- import -------------------------------------------------------------------------------


def queue_import_upload(platform, repo_id: str, body: dict) -> CallReport:
    platform.store.get_repository(repo_id)
    missing = [k for k in ("upload_id", "unit_type_id", "unit_key") if body.get(k) is None]
    if missing:
        raise MissingValue(missing)
    upload_path(platform, body["upload_id"])
    type_id = body["unit_type_id"]
    require_type(platform, type_id)
    for name in ("unit_key", "unit_metadata", "override_config"):
        if body.get(name) is not None and not isinstance(body[name], dict):
            raise InvalidValue([name], f"{name} must be an object")
    _importer_for(platform, repo_id, type_id)
    task_id = dispatch(
        platform, import_upload_task, resource=resource(repo_id),
        tags=[tags.repository(repo_id), tags.action("import_upload")],
        kwargs={"repo_id": repo_id, "upload_id": body["upload_id"], "type_id": type_id,
                "unit_key": body["unit_key"], "metadata": body.get("unit_metadata") or {},
                "override_config": body.get("override_config") or {}},
    )
    return CallReport(spawned_tasks=[task_id])


def _importer_for(platform, repo_id: str, type_id: str):
    imp = platform.store.find_importer(repo_id)
    cls = platform.plugins.importers.get(imp["importer_type_id"]) if imp else None
    if cls is None or type_id not in cls.metadata().get("types", []):
        raise UnsupportedTypes(f"The importer of {repo_id} does not accept {type_id} units",
                               repository=repo_id, unsupported_types=[type_id])
    return imp, cls


@task("pulp2ng.tasks.units.import_upload")
def import_upload_task(ctx, repo_id: str, upload_id: str, type_id: str, unit_key: dict,
                       metadata: dict, override_config: dict):
    """Run the importer's ``upload_unit``; any failure is PLP0047 and leaves the repository
    as it was (associations the plugin made before failing are removed again)."""
    platform = ctx.platform
    store = platform.store
    repo = store.get_repository(repo_id)
    path = upload_path(platform, upload_id)
    imp, cls = _importer_for(platform, repo_id, type_id)
    config = call_config(platform, cls, imp.get("config") or {}, override_config)
    conduit = UploadConduit(platform, ctx, repo_id, imp["importer_type_id"])
    before = set(store.repo_association_ids(repo_id))
    try:
        report = cls().upload_unit(transfer_repo(platform, repo), type_id, unit_key, metadata,
                                   str(path), conduit, config)
        if isinstance(report, dict) and report.get("success_flag") is False:
            raise UploadError(f"The importer rejected the upload: {report.get('summary')}",
                              summary=report.get("summary"), details=report.get("details"))
    except TaskCanceled:
        _undo(platform, repo_id, before)
        raise
    except Exception as exc:
        _undo(platform, repo_id, before)
        if isinstance(exc, UploadError):
            raise
        error = UploadError(f"Import of the upload failed: {exc}")
        if isinstance(exc, PulpError):
            error.sub_errors.append(exc)
        raise error from exc
    note_content_change(platform, repo_id, conduit.added_count, conduit.removed_count)
    return report if isinstance(report, dict) else {"success_flag": True, "summary": {},
                                                    "details": {}}


def _undo(platform, repo_id: str, before: set) -> None:
    from pulp2ng.db.store import association_id

    store = platform.store
    after = store.repo_association_ids(repo_id)
    added = [association_id(repo_id, t, u) for u, t in after.items() if u not in before]
    store.delete_associations(added)
    note_content_change(platform, repo_id, 0, 0)
