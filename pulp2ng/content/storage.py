"""Content-addressed storage on the local filesystem.

Layout under ``storage.dir``::

    content/<type>/<sha256[:2]>/<sha256[2:]>   one file per distinct content of a type
    tmp/                                       downloads and uploads in progress
    published/<area>/<relative path>           published trees (symlinks to versions)
    uploads/<upload id>                        chunked uploads
    working/<task id>                          per-task scratch space

A file enters ``content/`` only complete and verified: it is written to ``tmp/`` and renamed.
Durability is batched: :meth:`ContentStorage.flush` (one ``syncfs`` for the whole
filesystem) runs before unit documents that reference new files are written, so after a crash
no unit points at a file that did not reach the disk, and one flush covers a thousand files
instead of a thousand ``fsync`` calls. A file left truncated by a crash under its final name
is replaced by the next import of that content (sizes differ).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from pulp2ng.errors import ContentValidationError
from pulp2ng.secrets import make_private_dir

try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    _libc.syncfs  # noqa: B018 (Linux only)
except (OSError, AttributeError):
    _libc = None


class ContentStorage:
    def __init__(self, root: os.PathLike):
        self.root = Path(root).resolve()
        self.dirty = False
        # Group may read (a web server publishing published/), others get nothing.
        make_private_dir(self.root, 0o750)
        for sub in ("content", "tmp", "published", "uploads", "working"):
            make_private_dir(self.root / sub, 0o750)

    # -- files -----------------------------------------------------------------------------

    def temp_path(self, suffix: str = "") -> Path:
        """A fresh path in ``tmp/`` on the same filesystem as ``content/`` (cheap rename)."""
        return self.root / "tmp" / f"{uuid.uuid4().hex}{suffix}"

    def content_path(self, type_id: str, sha256: str) -> str:
        """The storage path (relative to the root) of content with this digest."""
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ContentValidationError(f"not a sha256 digest: {sha256!r}")
        return f"content/{type_id}/{sha256[:2]}/{sha256[2:]}"

    def import_file(self, temp: os.PathLike, type_id: str, sha256: str) -> str:
        """Move a verified temp file into place and return its storage path.

        Content already stored is not an error: the temp file is dropped. Call
        :meth:`flush` before recording units that reference the returned path.
        """
        rel = self.content_path(type_id, sha256)
        dest = self.root / rel
        try:
            if dest.stat().st_size == os.stat(temp).st_size:
                os.unlink(temp)
                return rel
        except FileNotFoundError:
            dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, dest)
        self.dirty = True
        return rel

    def flush(self) -> None:
        """Make every file imported so far durable: one ``syncfs`` of the storage filesystem."""
        if not self.dirty:
            return
        fd = os.open(self.root, os.O_RDONLY)
        try:
            if _libc is not None and _libc.syncfs(fd) == 0:
                self.dirty = False
                return
        finally:
            os.close(fd)
        os.sync()  # no syncfs here: flush everything
        self.dirty = False

    def exists(self, rel: str) -> bool:
        return os.path.exists(self.path(rel))

    def path(self, rel: str) -> Path:
        """Absolute path of a storage path; refuses anything that leaves the root.

        The check is lexical: storage paths are ours, and nothing in storage links out of
        it. (``Path.resolve`` costs an ``lstat`` per component, 0.1 ms a file.)
        """
        norm = os.path.normpath(rel)
        if os.path.isabs(norm) or norm in (".", "..") or norm.startswith("../"):
            raise ContentValidationError(f"path escapes storage: {rel!r}")
        return self.root / norm

    def remove(self, rel: str) -> None:
        """Delete a stored file and the directories it leaves empty."""
        full = self.path(rel)
        try:
            full.unlink()
        except FileNotFoundError:
            return
        parent = full.parent
        while parent != self.root / "content":
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    # -- scratch space ------------------------------------------------------------------------

    def working_dir(self, task_id: str) -> Path:
        path = self.root / "working" / task_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def drop_working_dir(self, task_id: str) -> None:
        shutil.rmtree(self.root / "working" / task_id, ignore_errors=True)

    def task_temp_dir(self, task_id: str) -> Path:
        """``tmp/task-<id>/``: a task's partial downloads, dropped when the task ends (also
        when its worker died), so they never wait for the hourly scratch sweep."""
        path = self.root / "tmp" / f"task-{task_id}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def drop_task_scratch(self, task_id: str) -> None:
        """Remove the task's ``tmp/task-<id>/`` and ``working/<id>/``."""
        shutil.rmtree(self.root / "tmp" / f"task-{task_id}", ignore_errors=True)
        self.drop_working_dir(task_id)

    def sweep_scratch(self, before: float) -> int:
        """Delete what ``tmp/`` and ``working/`` hold that was last changed before ``before``
        (seconds since the epoch): partial downloads and scratch of tasks that died."""
        removed = 0
        for sub in ("tmp", "working"):
            with os.scandir(self.root / sub) as entries:
                for entry in entries:
                    try:
                        if entry.stat(follow_symlinks=False).st_mtime >= before:
                            continue
                        if entry.is_dir(follow_symlinks=False):
                            shutil.rmtree(entry.path)
                        else:
                            os.unlink(entry.path)
                        removed += 1
                    except FileNotFoundError:
                        pass  # gone meanwhile
        return removed

    def published_root(self, area: str) -> Path:
        path = self.root / "published" / area
        path.mkdir(parents=True, exist_ok=True)
        return path

    def make_temp_dir(self, base: Path, prefix: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=base))
