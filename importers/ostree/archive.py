"""The OSTree *archive* repository format: paths, object parsing, verification, refs, summary.

We speak the archive format directly instead of going through libostree/PyGObject: ``gi`` is
a system package that a venv cannot pip-install on our base images (current PyGObject does not
build against the distro GLib), and because every object is content-addressed we can verify
each one ourselves, so libostree adds no safety for what the importer and distributor need.

Object types are named after their file extensions: ``commit``, ``dirtree``, ``dirmeta``,
``filez`` (a content object) and ``commitmeta`` (detached metadata named after its commit).
Checksums are 64 lowercase hex characters (sha256). Integers inside commit, dirmeta and file
headers are big-endian; the summary's commit sizes are little-endian (native on x86).
"""
from __future__ import annotations

import configparser
import hashlib
import io
import os
import re
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from . import gvariant
from .errors import OSTreeChecksumError, OSTreeFormatError

COMMIT, DIRTREE, DIRMETA, FILEZ, COMMITMETA = "commit", "dirtree", "dirmeta", "filez", "commitmeta"
OBJECT_TYPES = (COMMIT, DIRTREE, DIRMETA, FILEZ, COMMITMETA)
METADATA_TYPES = (COMMIT, DIRTREE, DIRMETA)  # objects whose sha256 is their name

SUMMARY_SIG = "(a(s(taya{sv}))a{sv})"
COMMIT_SIG = "(a{sv}aya(say)sstayay)"
DIRTREE_SIG = "(a(say)a(sayay))"
DIRMETA_SIG = "(uuua(ayay))"
FILEZ_HEADER_SIG = "(tuuuusa(ayay))"
FILE_HEADER_SIG = "(uuuusa(ayay))"  # the header that is hashed: no size field
META_SIG = "a{sv}"

ACCEPTED_MODES = ("archive-z2", "archive")
CONFIG_TEXT = "[core]\nrepo_version=1\nmode=archive-z2\n"
MAX_HEADER_BYTES = 16 * 1024 * 1024  # a .filez header beyond this is hostile, not xattrs
CHUNK = 64 * 1024

_CHECKSUM_RE = re.compile(r"[0-9a-f]{64}")
_REF_RE = re.compile(r"[\w][-._\w]*(/[\w][-._\w]*)*", re.ASCII)


# ----------------------------------------------------------------------------- names and paths


def validate_checksum(checksum: str) -> str:
    """Check that a checksum is 64 lowercase hex characters.

    Args:
        checksum: the candidate checksum.

    Returns:
        The checksum, unchanged.

    Raises:
        OSTreeFormatError: it is not a valid checksum (it would otherwise become a path).
    """
    if not isinstance(checksum, str) or not _CHECKSUM_RE.fullmatch(checksum):
        raise OSTreeFormatError(f"invalid checksum {checksum!r}: expected 64 lowercase hex")
    return checksum


def checksum_from_bytes(raw: bytes) -> str:
    """Convert a binary checksum (as stored in GVariants) to hex.

    Args:
        raw: 32 bytes.

    Returns:
        The 64-character hex checksum.

    Raises:
        OSTreeFormatError: the input is not 32 bytes long.
    """
    if len(raw) != 32:
        raise OSTreeFormatError(f"binary checksum must be 32 bytes, got {len(raw)}")
    return raw.hex()


def validate_ref(ref: str) -> str:
    """Check a ref name (``a/b/c``) before it becomes a path under ``refs/heads``.

    Args:
        ref: the ref name.

    Returns:
        The ref, unchanged.

    Raises:
        OSTreeFormatError: empty components, ``..``, a leading ``-``/``.`` or other characters.
    """
    if not isinstance(ref, str) or not _REF_RE.fullmatch(ref):
        raise OSTreeFormatError(f"invalid ref name {ref!r}")
    return ref


def validate_name(name: str) -> str:
    """Check a dirtree entry name so that a hostile tree cannot escape its directory.

    Args:
        name: the file or directory name from a dirtree.

    Returns:
        The name, unchanged.

    Raises:
        OSTreeFormatError: the name is empty, ``.``, ``..`` or contains ``/`` or NUL.
    """
    if name in ("", ".", "..") or "/" in name or "\0" in name:
        raise OSTreeFormatError(f"invalid dirtree entry name {name!r}")
    return name


def object_path(checksum: str, objtype: str) -> str:
    """Relative path of an object inside an archive repository.

    Args:
        checksum: the object checksum (for ``commitmeta``, its commit's checksum).
        objtype: one of :data:`OBJECT_TYPES`.

    Returns:
        ``objects/xx/<62 hex>.<objtype>``.
    """
    validate_checksum(checksum)
    if objtype not in OBJECT_TYPES:
        raise OSTreeFormatError(f"unknown object type {objtype!r}")
    return f"objects/{checksum[:2]}/{checksum[2:]}.{objtype}"


def ref_path(ref: str) -> str:
    """Relative path of a ref file: ``refs/heads/<ref>``."""
    return f"refs/heads/{validate_ref(ref)}"


# ----------------------------------------------------------------------------- config and refs


def parse_config(text: str | bytes) -> dict[str, str]:
    """Parse a repository ``config`` and insist on an archive repository.

    Args:
        text: the contents of ``config``.

    Returns:
        The ``[core]`` section as a dict (keys lowercased).

    Raises:
        OSTreeFormatError: unparsable INI, no ``[core]``, or a mode other than archive(-z2);
            bare repos cannot be served over HTTP to clients.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise OSTreeFormatError(f"repository config is not valid INI: {exc}") from exc
    if not parser.has_section("core"):
        raise OSTreeFormatError("repository config has no [core] section")
    core = dict(parser.items("core"))
    mode = core.get("mode", "bare")
    if mode not in ACCEPTED_MODES:
        raise OSTreeFormatError(
            f"unsupported repository mode {mode!r}: only archive-z2 (archive) repos are supported")
    return core


def parse_ref_file(data: str | bytes, ref: str = "") -> str:
    """Parse the contents of ``refs/heads/<ref>``: one checksum and a newline.

    Args:
        data: the file contents.
        ref: the ref name, only for the error message.

    Returns:
        The commit checksum.
    """
    if isinstance(data, bytes):
        data = data.decode("ascii", "replace")
    try:
        return validate_checksum(data.strip())
    except OSTreeFormatError as exc:
        raise OSTreeFormatError(f"ref {ref!r}: {exc}") from None


def write_ref(repo_dir: str, ref: str, checksum: str) -> str:
    """Write ``refs/heads/<ref>`` atomically.

    Args:
        repo_dir: the repository root.
        ref: the ref name (validated).
        checksum: the commit checksum (validated).

    Returns:
        The path written.
    """
    path = os.path.join(repo_dir, ref_path(ref))
    write_atomic(path, (validate_checksum(checksum) + "\n").encode("ascii"))
    return path


def write_atomic(path: str, data: bytes) -> None:
    """Write a file through a temporary name and rename, so readers never see half of it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


# ------------------------------------------------------------------------------ parse objects


@dataclass(frozen=True)
class Commit:
    """A decoded commit object (timestamp in seconds since the epoch, UTC)."""

    metadata: dict[str, Any]
    parent: str | None
    subject: str
    body: str
    timestamp: int
    root_dirtree: str
    root_dirmeta: str
    related: tuple[tuple[str, str], ...] = ()

    @property
    def version(self) -> str | None:
        """The ``version`` metadata string, the only metadata Pulp 2 kept."""
        value = self.metadata.get("version")
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class DirTree:
    """A decoded dirtree: ``files`` name→file checksum, ``dirs`` name→(dirtree, dirmeta)."""

    files: dict[str, str] = field(default_factory=dict)
    dirs: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class DirMeta:
    """A decoded dirmeta: ownership, mode and extended attributes of a directory."""

    uid: int
    gid: int
    mode: int
    xattrs: tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True)
class FileHeader:
    """The header of a ``.filez`` object (``size`` is the uncompressed content length)."""

    size: int
    uid: int
    gid: int
    mode: int
    rdev: int
    symlink_target: str
    xattrs: tuple[tuple[bytes, bytes], ...]


def _decode(sig: str, data: bytes, what: str, byteorder: str = "big") -> Any:
    try:
        return gvariant.decode(sig, data, byteorder)
    except OSTreeFormatError as exc:
        raise OSTreeFormatError(f"malformed {what}: {exc}") from exc


def parse_commit(data: bytes) -> Commit:
    """Decode a ``.commit`` object.

    Args:
        data: the object bytes.

    Returns:
        The :class:`Commit`; metadata values are unboxed Python values.
    """
    meta, parent, related, subject, body, ts, tree, dmeta = _decode(COMMIT_SIG, data, "commit")
    return Commit(
        metadata=gvariant.unbox(meta),
        parent=checksum_from_bytes(parent) if parent else None,
        subject=subject,
        body=body,
        timestamp=ts,
        root_dirtree=checksum_from_bytes(tree),
        root_dirmeta=checksum_from_bytes(dmeta),
        related=tuple((name, checksum_from_bytes(c)) for name, c in related),
    )


def parse_dirtree(data: bytes) -> DirTree:
    """Decode a ``.dirtree`` object, rejecting names that could escape the tree.

    Args:
        data: the object bytes.

    Returns:
        The :class:`DirTree`.
    """
    files_raw, dirs_raw = _decode(DIRTREE_SIG, data, "dirtree")
    files, dirs = {}, {}
    for name, csum in files_raw:
        _add_unique(files, dirs, validate_name(name), checksum_from_bytes(csum))
    for name, tree, meta in dirs_raw:
        entry = (checksum_from_bytes(tree), checksum_from_bytes(meta))
        _add_unique(dirs, files, validate_name(name), entry)
    return DirTree(files=files, dirs=dirs)


def _add_unique(target: dict, other: dict, name: str, value: Any) -> None:
    if name in target or name in other:
        raise OSTreeFormatError(f"duplicate dirtree entry name {name!r}")
    target[name] = value


def parse_dirmeta(data: bytes) -> DirMeta:
    """Decode a ``.dirmeta`` object.

    Args:
        data: the object bytes.

    Returns:
        The :class:`DirMeta`.
    """
    uid, gid, mode, xattrs = _decode(DIRMETA_SIG, data, "dirmeta")
    return DirMeta(uid, gid, mode, tuple(xattrs))


def parse_commitmeta(data: bytes) -> dict[str, Any]:
    """Decode detached commit metadata (``.commitmeta``, for example ``ostree.gpgsigs``).

    Args:
        data: the object bytes.

    Returns:
        The ``a{sv}`` dict, unboxed.
    """
    return gvariant.unbox(_decode(META_SIG, data, "commitmeta", "little"))


def parse_filez_header(stream: BinaryIO) -> tuple[FileHeader, bytes]:
    """Read the header of a ``.filez`` object from a stream positioned at its start.

    Args:
        stream: a binary stream; it is left positioned at the compressed content.

    Returns:
        The :class:`FileHeader` and the bytes that are hashed for its checksum prefix.
    """
    prefix = _read_exact(stream, 8, "filez header length")
    length = int.from_bytes(prefix[:4], "big")
    if prefix[4:] != b"\0\0\0\0" or length > MAX_HEADER_BYTES:
        raise OSTreeFormatError(f"malformed filez prefix (header length {length})")
    header = _read_exact(stream, length, "filez header")
    size, uid, gid, mode, rdev, target, xattrs = _decode(FILEZ_HEADER_SIG, header, "filez header")
    parsed = FileHeader(size, uid, gid, mode, rdev, target, tuple(xattrs))
    hashed = gvariant.encode(FILE_HEADER_SIG, (uid, gid, mode, rdev, target, xattrs), "big")
    return parsed, len(hashed).to_bytes(4, "big") + b"\0\0\0\0" + hashed


def _read_exact(stream: BinaryIO, size: int, what: str) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise OSTreeFormatError(f"truncated {what}: wanted {size} bytes, got {len(data)}")
    return data


# ---------------------------------------------------------------------------------- verify


def verify_metadata(checksum: str, objtype: str, data: bytes) -> None:
    """Check a commit/dirtree/dirmeta object: its sha256 must be its name.

    Args:
        checksum: the expected checksum.
        objtype: ``commit``, ``dirtree`` or ``dirmeta``.
        data: the object bytes.

    Raises:
        OSTreeChecksumError: the digest differs (names the object).
    """
    if objtype not in METADATA_TYPES:
        raise OSTreeFormatError(f"{objtype} objects are not verified by a plain sha256")
    actual = hashlib.sha256(data).hexdigest()
    if actual != checksum:
        raise OSTreeChecksumError(
            f"checksum mismatch for {object_path(checksum, objtype)}: content hashes to {actual}")


def verify_filez(checksum: str, stream: BinaryIO) -> FileHeader:
    """Check a ``.filez`` object while streaming it, with bounded memory.

    The checksum is ``sha256(be32(len(h)) + 4 zero bytes + h + content)``, where ``h`` is the
    header without its size field and ``content`` is the raw-deflate-decompressed payload.

    Args:
        checksum: the expected checksum.
        stream: the object's bytes, read from the start.

    Returns:
        The object's :class:`FileHeader`.

    Raises:
        OSTreeChecksumError: the digest or the content length differs.
        OSTreeFormatError: the object is not a valid ``.filez``.
    """
    name = object_path(checksum, FILEZ)
    try:
        header, hashed = parse_filez_header(stream)
        digest = hashlib.sha256(hashed)
        length = _hash_inflated(stream, digest)
    except (OSTreeFormatError, zlib.error) as exc:
        raise OSTreeFormatError(f"malformed {name}: {exc}") from exc
    if length != header.size:
        raise OSTreeChecksumError(
            f"{name}: content is {length} bytes but its header says {header.size}")
    if digest.hexdigest() != checksum:
        raise OSTreeChecksumError(
            f"checksum mismatch for {name}: content hashes to {digest.hexdigest()}")
    return header


def _hash_inflated(stream: BinaryIO, digest: Any) -> int:
    """Inflate raw-deflate data chunk by chunk into ``digest``; return the inflated length."""
    inflater = zlib.decompressobj(-15)
    total, seen_input = 0, False
    while chunk := stream.read(CHUNK):
        seen_input = True
        while chunk:
            out = inflater.decompress(chunk, CHUNK)
            digest.update(out)
            total += len(out)
            chunk = inflater.unconsumed_tail
        if inflater.eof and (inflater.unused_data or stream.read(1)):
            raise OSTreeFormatError("trailing bytes after the compressed content")
    out = inflater.flush()
    digest.update(out)
    total += len(out)
    if seen_input and not inflater.eof:
        raise OSTreeFormatError("truncated compressed content")
    return total


def verify_object(checksum: str, objtype: str, data: bytes | None = None,
                  path: str | None = None) -> None:
    """Verify one object given as bytes or as a file path.

    Args:
        checksum: the object's name (for ``commitmeta``: its commit).
        objtype: one of :data:`OBJECT_TYPES`.
        data: the object bytes, or
        path: a file holding them (preferred for ``filez``: streamed).

    Raises:
        OSTreeChecksumError: the object does not match its checksum.
        OSTreeFormatError: it cannot be parsed (``commitmeta`` has no checksum of its own; it
            is only checked to be a valid ``a{sv}``).
    """
    validate_checksum(checksum)
    if objtype == FILEZ:
        if path is not None:
            with open(path, "rb") as fh:
                verify_filez(checksum, fh)
        else:
            verify_filez(checksum, io.BytesIO(data or b""))
        return
    if data is None:
        with open(path, "rb") as fh:
            data = fh.read()
    if objtype == COMMITMETA:
        parse_commitmeta(data)
    else:
        verify_metadata(checksum, objtype, data)


# ---------------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class SummaryRef:
    """One ref entry of a summary file."""

    checksum: str
    size: int
    timestamp: int | None
    version: str | None
    metadata: dict[str, Any]


@dataclass(frozen=True)
class Summary:
    """A decoded summary: refs by name plus the summary-level metadata (unboxed)."""

    refs: dict[str, SummaryRef]
    metadata: dict[str, Any]


def parse_summary(data: bytes) -> Summary:
    """Decode a ``summary`` file.

    Args:
        data: the file bytes.

    Returns:
        The :class:`Summary`; big-endian timestamps are converted to plain integers.
    """
    refs_raw, meta = _decode(SUMMARY_SIG, data, "summary", "little")
    refs = {}
    for name, (size, csum, ref_meta) in refs_raw:
        ts = ref_meta.get("ostree.commit.timestamp")
        ts = gvariant.byteswap_int(ts.value, "t") if ts and ts.signature == "t" else None
        version = gvariant.unbox(ref_meta.get("ostree.commit.version"))
        refs[validate_ref(name)] = SummaryRef(
            checksum_from_bytes(csum), size, ts, version if isinstance(version, str) else None,
            gvariant.unbox(ref_meta))
    return Summary(refs=refs, metadata=gvariant.unbox(meta))


def build_summary(refs: dict[str, tuple[str, int, Commit]],
                  last_modified: int | None = None,
                  deltas: dict[str, bytes] | None = None) -> bytes:
    """Serialise a ``summary`` file the way ``ostree summary -u`` does (unsigned).

    Deltas are listed in the summary itself (``ostree.static-deltas``), which every libostree
    client reads; we write no ``delta-indexes/`` and so never set ``ostree.summary.indexed-deltas``.

    Args:
        refs: ref name → (commit checksum, size of the commit object in bytes, parsed commit).
        last_modified: ``ostree.summary.last-modified`` in seconds; now when omitted.
        deltas: delta name (``FROM-TO``) → sha256 digest of its superblock.

    Returns:
        The summary bytes; refs are sorted by name as clients binary-search them.
    """
    entries = []
    for name in sorted(refs, key=lambda r: r.encode("utf-8")):
        checksum, size, commit = refs[name]
        meta = {"ostree.commit.timestamp":
                gvariant.Variant("t", gvariant.byteswap_int(commit.timestamp, "t"))}
        if commit.version is not None:
            meta["ostree.commit.version"] = gvariant.Variant("s", commit.version)
        entries.append((validate_ref(name), (size, bytes.fromhex(validate_checksum(checksum)),
                                             meta)))
    stamp = int(time.time()) if last_modified is None else last_modified
    meta = {
        "ostree.summary.mode": gvariant.Variant("s", "archive-z2"),
        "ostree.summary.last-modified": gvariant.Variant("t", gvariant.byteswap_int(stamp, "t")),
        "ostree.summary.tombstone-commits": gvariant.Variant("b", False),
    }
    if deltas:
        meta["ostree.static-deltas"] = gvariant.Variant(
            "a{sv}", {name: gvariant.Variant("ay", digest) for name, digest in deltas.items()})
    return gvariant.encode(SUMMARY_SIG, (entries, meta), "little")


# -------------------------------------------------------------- builders (tests, tarball import)


def encode_commit(commit: Commit) -> bytes:
    """Serialise a :class:`Commit` (metadata values must be ``Variant`` or ``str``).

    Args:
        commit: the commit to write.

    Returns:
        The object bytes; its sha256 is the new commit's checksum.
    """
    meta = {k: v if isinstance(v, gvariant.Variant) else gvariant.Variant("s", v)
            for k, v in commit.metadata.items()}
    value = (meta, bytes.fromhex(commit.parent) if commit.parent else b"",
             [(n, bytes.fromhex(c)) for n, c in commit.related], commit.subject, commit.body,
             commit.timestamp, bytes.fromhex(commit.root_dirtree),
             bytes.fromhex(commit.root_dirmeta))
    return gvariant.encode(COMMIT_SIG, value, "big")


def encode_dirtree(tree: DirTree) -> bytes:
    """Serialise a :class:`DirTree` with entries sorted by name, as ostree requires.

    Args:
        tree: the tree to write (names are not validated, so tests can build hostile trees).

    Returns:
        The object bytes.
    """
    files = [(n, bytes.fromhex(c)) for n, c in sorted(tree.files.items())]
    dirs = [(n, bytes.fromhex(t), bytes.fromhex(m)) for n, (t, m) in sorted(tree.dirs.items())]
    return gvariant.encode(DIRTREE_SIG, (files, dirs), "big")
