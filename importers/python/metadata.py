"""Read names, versions and core metadata from Python distributions.

File names are parsed with ``packaging.utils`` so that pulp2ng agrees with pip on what a file
is. Core metadata (a wheel's ``*.dist-info/METADATA`` or an sdist's ``PKG-INFO``) is read
straight out of the archive without extracting anything: the archive comes from an untrusted
upstream or an upload, so every member name is checked for path traversal first and the
metadata member is read with a size cap.
"""

from __future__ import annotations

import email.parser
import os
import posixpath
import re
import tarfile
import zipfile

from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from .errors import MetadataError

__all__ = [
    "MAX_METADATA_BYTES", "core_metadata_bytes", "metadata_from_bytes", "parse_filename",
    "read_metadata",
]

#: Largest METADATA/PKG-INFO accepted; real ones are a few KB, long descriptions ~1 MB.
MAX_METADATA_BYTES = 8 * 1024 * 1024

_SDIST_TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
_WHEEL_METADATA = re.compile(r"[^/]+\.dist-info/METADATA")
_SDIST_PKG_INFO = re.compile(r"[^/]+/PKG-INFO")


def parse_filename(filename: str) -> tuple[NormalizedName, Version, str, frozenset[Tag]]:
    """Split a distribution file name into its parts, the way pip does.

    Args:
        filename: a wheel (``.whl``), sdist (``.tar.gz``, ``.zip``, ``.tar.bz2``, ``.tgz``,
            ``.tar.xz``) or egg (``.egg``) file name, without any folder.

    Returns:
        ``(name, version, packagetype, tags)``: the PEP 503 normalised name, the parsed
        version, ``bdist_wheel``/``sdist``/``bdist_egg``, and the wheel's tags (empty for
        other types).

    Raises:
        MetadataError: the name is not a valid distribution file name.
    """
    try:
        if filename.endswith(".whl"):
            name, version, _build, tags = parse_wheel_filename(filename)
            return name, version, "bdist_wheel", tags
        for suffix in _SDIST_TAR_SUFFIXES:
            if filename.endswith(suffix):
                # packaging only knows the two PEP 625 suffixes; the older ones differ only
                # in compression, so parse them as .tar.gz.
                name, version = parse_sdist_filename(filename[: -len(suffix)] + ".tar.gz")
                return name, version, "sdist", frozenset()
        if filename.endswith(".zip"):
            name, version = parse_sdist_filename(filename)
            return name, version, "sdist", frozenset()
        if filename.endswith(".egg"):
            return _parse_egg_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion) as exc:
        raise MetadataError(f"invalid distribution file name {filename!r}: {exc}") from exc
    raise MetadataError(f"unsupported distribution file name {filename!r}")


def _parse_egg_filename(filename: str) -> tuple[NormalizedName, Version, str, frozenset[Tag]]:
    """Parse ``name-version[-pyX.Y[-platform]].egg``; packaging has no egg parser."""
    parts = filename[: -len(".egg")].split("-")
    if len(parts) < 2 or not parts[0]:
        raise MetadataError(f"invalid egg file name {filename!r}")
    return canonicalize_name(parts[0]), Version(parts[1]), "bdist_egg", frozenset()


def core_metadata_bytes(path, filename: str | None = None) -> bytes:
    """Return the raw core metadata of a wheel or sdist, as PEP 658 publishes it.

    Args:
        path: the distribution file, or a seekable binary file object already open on it
            (so a caller that has just hashed the file reads it without opening it again).
        filename: the distribution's real name when ``path`` is a temp file named otherwise
            (required with a file object); the name decides the archive format.

    Returns:
        The bytes of ``*.dist-info/METADATA`` (wheel) or ``<base>/PKG-INFO`` (sdist).

    Raises:
        MetadataError: unknown format, unreadable or hostile archive, or no metadata member.
    """
    filename = filename or os.path.basename(os.fspath(path))
    try:
        if filename.endswith(".whl"):
            return _read_from_zip(path, filename, _WHEEL_METADATA)
        if filename.endswith(_SDIST_TAR_SUFFIXES):
            return _read_from_tar(path, filename, _SDIST_PKG_INFO)
        if filename.endswith(".zip"):
            return _read_from_zip(path, filename, _SDIST_PKG_INFO)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise MetadataError(f"cannot read archive {filename!r}: {exc}") from exc
    raise MetadataError(f"unsupported distribution format {filename!r}")


def _check_member_name(archive: str, name: str) -> None:
    """Reject absolute, drive-letter, backslash and ``..`` member names (path traversal)."""
    unsafe = (
        not name
        or name.startswith("/")
        or "\\" in name
        or re.match(r"[A-Za-z]:", name)
        or ".." in name.split("/")
        or "\0" in name
    )
    if unsafe:
        raise MetadataError(f"archive {archive!r} has an unsafe member name {name!r}")


def _pick(archive: str, names: list[str], pattern: re.Pattern) -> str:
    """Choose the single metadata member; several at the top level means a broken archive."""
    found = [n for n in names if pattern.fullmatch(n)]
    if len(found) != 1:
        what = "no" if not found else "more than one"
        raise MetadataError(f"archive {archive!r} has {what} {pattern.pattern!r} member")
    return found[0]


def _read_capped(fileobj, archive: str) -> bytes:
    """Read at most MAX_METADATA_BYTES; the header's size field is not trusted."""
    data = fileobj.read(MAX_METADATA_BYTES + 1)
    if len(data) > MAX_METADATA_BYTES:
        raise MetadataError(f"metadata in {archive!r} is larger than {MAX_METADATA_BYTES} bytes")
    return data


def _read_from_zip(path, archive: str, pattern: re.Pattern) -> bytes:
    """Find and read the metadata member of a zip (wheel or zip sdist)."""
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        for name in names:
            _check_member_name(archive, name)
        with zf.open(_pick(archive, names, pattern)) as fh:
            return _read_capped(fh, archive)


def _read_from_tar(path, archive: str, pattern: re.Pattern) -> bytes:
    """Find and read PKG-INFO of a tar sdist, checking names and link targets on the way."""
    opened = {"fileobj": path} if hasattr(path, "read") else {"name": path}
    with tarfile.open(mode="r:*", **opened) as tf:
        members = []
        for member in tf:  # streams headers; only TarInfo objects are kept
            _check_member_name(archive, member.name.rstrip("/"))
            if member.issym() or member.islnk():
                target = posixpath.normpath(
                    posixpath.join(posixpath.dirname(member.name), member.linkname)
                )
                _check_member_name(archive, target if not member.linkname.startswith("/")
                                   else member.linkname)
            members.append(member)
        chosen = _pick(archive, [m.name for m in members], pattern)
        member = next(m for m in members if m.name == chosen)
        if not member.isfile():
            raise MetadataError(f"{chosen!r} in {archive!r} is not a regular file")
        fh = tf.extractfile(member)
        return _read_capped(fh, archive)


def read_metadata(path: str | os.PathLike, filename: str | None = None) -> dict:
    """Read the core metadata of a wheel or sdist into the fields pulp2ng stores.

    The name and version in the metadata must agree with the file name (after PEP 503 and
    PEP 440 normalisation), because the file name is the unit key and pip trusts it.

    Args:
        path: the distribution file.
        filename: its real name when ``path`` is a temp file (the name decides the format).

    Returns:
        A dict with ``name``, ``version``, ``summary``, ``requires_python``, ``requires_dist``
        (list), ``author``, ``author_email``, ``license``, ``home_page``, ``classifiers``
        (list), ``metadata_version``, ``packagetype`` (``bdist_wheel``/``sdist``),
        ``python_version`` (the wheel's python tag, or ``source``) and ``platform`` (the
        wheel's platform tags joined by ``.``, else the metadata ``Platform`` or None).

    Raises:
        MetadataError: bad file name, hostile or unreadable archive, or invalid metadata.
    """
    filename = filename or os.path.basename(os.fspath(path))
    return metadata_from_bytes(filename, core_metadata_bytes(path, filename))


def metadata_from_bytes(filename: str, raw: bytes) -> dict:
    """:func:`read_metadata` for core metadata already read (it is also published, PEP 658)."""
    name, version, packagetype, tags = parse_filename(filename)
    msg = _parse_headers(raw, filename)
    meta_name, meta_version = msg.get("Name"), msg.get("Version")
    if not meta_name or not meta_version:
        raise MetadataError(f"metadata of {filename!r} lacks Name or Version")
    try:
        parsed_version = Version(meta_version)
    except InvalidVersion as exc:
        raise MetadataError(f"metadata of {filename!r}: invalid version {meta_version!r}") from exc
    if canonicalize_name(meta_name) != name or parsed_version != version:
        raise MetadataError(
            f"file name {filename!r} does not match its metadata {meta_name} {meta_version}"
        )
    return {
        "name": meta_name,
        "version": meta_version,
        "summary": msg.get("Summary"),
        "requires_python": msg.get("Requires-Python"),
        "requires_dist": msg.get_all("Requires-Dist") or [],
        "author": msg.get("Author"),
        "author_email": msg.get("Author-email"),
        "license": msg.get("License"),
        "home_page": msg.get("Home-page"),
        "classifiers": msg.get_all("Classifier") or [],
        "metadata_version": msg.get("Metadata-Version"),
        "dynamic": msg.get_all("Dynamic") or [],
        "packagetype": packagetype,
        "python_version": _python_version(tags),
        "platform": _platform(tags, msg.get_all("Platform") or []),
    }


def _parse_headers(raw: bytes, filename: str):
    """Parse RFC 822 headers; metadata is UTF-8 by spec, so decode before email sees it."""
    text = raw.decode("utf-8", errors="replace")
    msg = email.parser.Parser().parsestr(text, headersonly=True)
    if msg.defects and not msg.keys():
        raise MetadataError(f"metadata of {filename!r} is not in RFC 822 format")
    return msg


def _python_version(tags: frozenset[Tag]) -> str:
    """PyPI's ``python_version``: the wheel's interpreter tag(s), or ``source``."""
    if not tags:
        return "source"
    return ".".join(sorted({t.interpreter for t in tags}))


def _platform(tags: frozenset[Tag], platforms: list[str]) -> str | None:
    """A wheel's platform tags, else the first meaningful ``Platform`` header."""
    if tags:
        return ".".join(sorted({t.platform for t in tags}))
    useful = [p for p in platforms if p and p.upper() != "UNKNOWN"]
    return useful[0] if useful else None
