"""Unpack an uploaded image archive safely: one streaming pass, every file hashed on the way.

Only plain files, directories and links are accepted, under relative names without ``..``;
devices and fifos are refused outright. Links are never created on disk: ``docker save`` and
``skopeo`` write ``<id>/layer.tar`` symlinks to the real layer files, so a link whose target
stays inside the archive becomes an alias of that member; one pointing outside is refused.
Files are copied in 1 MiB pieces into a private temp folder under content storage's ``tmp/``,
so verified ones can later be renamed into storage without another copy.
"""
from __future__ import annotations

import gzip
import hashlib
import posixpath
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from pulp2ng.plugin import UploadError

CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
MAX_JSON_BYTES = 4 << 20  # index, manifest and config documents are read into memory


@dataclass(frozen=True)
class Member:
    """A regular file of the archive, copied to ``path``."""

    name: str
    path: Path
    digest: str  # sha256:<hex> of the bytes as archived
    size: int
    gzipped: bool

    def read_json_bytes(self) -> bytes:
        """The bytes of a small document (manifest, index, config), bounded."""
        if self.size > MAX_JSON_BYTES:
            raise UploadError(f"{self.name} is {self.size} bytes, more than a document may be")
        return self.path.read_bytes()


def _safe_path(raw: str, what: str) -> str:
    if raw.startswith("/") or "\\" in raw or "\0" in raw:
        raise UploadError(f"{what} {raw!r} has an absolute or unsafe path")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UploadError(f"{what} {raw!r} leaves the archive ('..')")
    return "/".join(parts)


def member_name(info: tarfile.TarInfo) -> str | None:
    """The normalised name of a safe member; None for a directory; UploadError otherwise."""
    if not (info.isfile() or info.isdir() or info.issym() or info.islnk()):
        raise UploadError(f"archive member {info.name!r} is a device, fifo or special file")
    name = _safe_path(info.name, "archive member")
    if info.isdir():
        return None
    if not name:
        raise UploadError(f"archive member {info.name!r} has no file name")
    return name


def link_target(info: tarfile.TarInfo, name: str) -> str:
    """The archive name a link points at; UploadError when it points outside the archive."""
    target = info.linkname
    if info.issym() and not target.startswith("/"):
        target = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    return _safe_path(target, f"link {name!r} -> target")


def unpack(archive: str, dest: Path, check_canceled=lambda: None) -> dict[str, Member]:
    """Copy every file of ``archive`` (tar, optionally gzip/bz2/xz) into ``dest``, hashed.

    Links inside the archive are returned as their target's :class:`Member`.

    Args:
        archive: the uploaded file.
        dest: an empty private folder on the storage filesystem.
        check_canceled: called between members.

    Returns:
        Members by normalised name.

    Raises:
        UploadError: not a tar archive, or an unsafe or duplicate member.
    """
    members: dict[str, Member] = {}
    links: dict[str, str] = {}
    try:
        with tarfile.open(archive, "r|*") as tar:  # stream mode: bounded memory, one pass
            for info in tar:
                check_canceled()
                name = member_name(info)
                if name is None:
                    continue
                if name in members or name in links:
                    raise UploadError(f"archive member {name!r} appears twice")
                if info.issym() or info.islnk():
                    links[name] = link_target(info, name)
                    continue
                source = tar.extractfile(info)
                target = dest / f"{len(members):06d}"
                digest, size, head = _copy(source, target)
                members[name] = Member(name, target, digest, size, head == GZIP_MAGIC)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise UploadError(f"the upload is not a readable tar archive: {exc}") from None
    for name in links:
        target = name
        for _ in range(8):  # a few hops; loops and dangling links just stay unresolved
            target = links.get(target, target)
            if target in members:
                members[name] = members[target]
                break
    return members


def _copy(source, target: Path) -> tuple[str, int, bytes]:
    hasher = hashlib.sha256()
    size, head = 0, b""
    with open(target, "wb") as out:
        while chunk := source.read(CHUNK):
            if size < 2:
                head = (head + chunk)[:2]
            hasher.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return "sha256:" + hasher.hexdigest(), size, head


def uncompressed_digest(member: Member) -> str:
    """sha256 of a layer's uncompressed tar (a docker ``diff_id``), streamed."""
    hasher = hashlib.sha256()
    try:
        with (gzip.open(member.path, "rb") if member.gzipped else open(member.path, "rb")) as fh:
            while chunk := fh.read(CHUNK):
                hasher.update(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise UploadError(f"layer {member.name} is not a valid gzip stream: {exc}") from None
    return "sha256:" + hasher.hexdigest()
