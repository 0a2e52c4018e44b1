"""Sending a file through upload requests, chunked and resumable. Pulp 2's API cannot say how
much of an upload request the server holds, so the client keeps resume points in its state
directory: :func:`upload_file` sends a file (or goes on where an interrupted run stopped) and
:func:`forget_upload` deletes the request and its resume point once the import has run.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from pulp2ng.plugin.admin.client import AdminError, ApiError
from pulp2ng.plugin.admin.output import Admin, human_size

#: Bytes per PUT of an upload request (pulp-admin's default was 1 MiB too).
CHUNK = 1 << 20


class _ResumePoints:
    """Where interrupted uploads stopped, in ``<state_dir>/uploads.json``.

    The server cannot say how much of an upload request it holds (Pulp 2's API has no such
    call), so the client remembers the upload id and the bytes acknowledged, keyed by the
    server and the file's path, size and mtime: a changed file starts over.
    """

    def __init__(self, admin: Admin):
        state_dir = admin.settings.state_dir
        self.path = Path(state_dir) / "uploads.json" if state_dir else None

    def key(self, admin: Admin, file: Path) -> str:
        st = file.stat()
        return f"{admin.client.base}|{file.resolve()}|{st.st_size}|{st.st_mtime_ns}"

    def _load(self) -> dict:
        if self.path is None or not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}  # a damaged state file only costs a fresh upload
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> dict | None:
        point = self._load().get(key)
        return point if isinstance(point, dict) else None

    def put(self, key: str, point: dict | None) -> None:
        if self.path is None:
            return
        data = self._load()
        if point is None:
            data.pop(key, None)
        else:
            data[key] = point
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self.path)


def upload_file(admin: Admin, file: Path, chunk_size: int = CHUNK) -> str:
    """Send ``file`` to a new upload request, or on to the one an interrupted run left.

    Shows a bar with bytes/s on a terminal and a summary line otherwise; returns the upload id.
    Ctrl-C keeps the resume point: the same command later goes on from there.
    """
    points = _ResumePoints(admin)
    key = points.key(admin, file)
    size = file.stat().st_size
    point = points.get(key)
    offset = 0
    if point and point.get("upload_id") in (admin.client.get("/content/uploads/") or {}).get(
            "upload_ids", []):
        upload_id, offset = point["upload_id"], min(int(point.get("offset") or 0), size)
        admin.say(f"Resuming the upload of {file.name} at byte {offset} of {size}.")
    else:
        upload_id = admin.client.post("/content/uploads/")["upload_id"]
        points.put(key, {"upload_id": upload_id, "offset": 0})
    live = admin.console.is_terminal and not admin.json
    progress = Progress(TextColumn(file.name), BarColumn(), DownloadColumn(),
                        TransferSpeedColumn(), TimeRemainingColumn(), console=admin.console,
                        disable=not live)
    started, sent = time.monotonic(), 0
    try:
        with progress, open(file, "rb") as fh:
            bar = progress.add_task(file.name, total=size, completed=offset)
            fh.seek(offset)
            while offset < size:  # an empty file needs no PUT: the request is empty already
                chunk = fh.read(chunk_size)
                if not chunk:
                    raise AdminError(f"{file} shrank while it was being uploaded")
                admin.client.put(f"/content/uploads/{upload_id}/{offset}/", data=chunk,
                                 timeout=300)
                offset += len(chunk)
                sent += len(chunk)
                points.put(key, {"upload_id": upload_id, "offset": offset})
                progress.update(bar, completed=offset)
    except KeyboardInterrupt:
        raise AdminError(f"upload of {file.name} interrupted at byte {offset} of {size}; run "
                         f"the same command again to resume", exit_code=130) from None
    elapsed = max(time.monotonic() - started, 1e-6)
    admin.say(f"Uploaded {file.name}: {human_size(size)} in {elapsed:.1f} s "
              f"({human_size(sent / elapsed)}/s).")
    return upload_id


def forget_upload(admin: Admin, file: Path, upload_id: str) -> None:
    """Delete the upload request and its resume point once the import has run."""
    try:
        admin.client.delete(f"/content/uploads/{upload_id}/")
    except ApiError as exc:
        if exc.status != 404:  # an expired request is already gone
            raise
    _ResumePoints(admin).put(_ResumePoints(admin).key(admin, file), None)
