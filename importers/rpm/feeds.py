"""Where a yum feed's repository is: the feed itself, or the mirrors a mirrorlist or metalink
names.

A feed is first taken as a repository URL (``<feed>/repodata/repomd.xml``), as Pulp 2 did.
When that fails, the feed URL itself is read: a metalink (XML whose ``<url>`` elements point at
``…/repodata/repomd.xml``, as MirrorManager serves) or a mirrorlist (one URL per line, ``#``
comments) yields mirrors, tried in order until one serves repomd.xml; the whole sync then takes
its files from that mirror, so a dead first mirror costs one failed request. The list is read
with a size cap, and a remote list may not point at ``file://`` mirrors (a feed on a web server
must not make the worker read its own disk).
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
import xml.etree.ElementTree as ET

import createrepo_c as cr

from pulp2ng.importers.rpm.errors import (
    YumChecksumTypeError,
    YumMetadataError,
    YumMetadataParseError,
)
from pulp2ng.importers.rpm.packages import checksum_type
from pulp2ng.plugin import (
    ContentValidationError,
    DownloadRequest,
    SyncError,
    TaskCanceled,
    safe_relative_path,
)

REPOMD = "repodata/repomd.xml"
#: A mirror list bigger than this is not a mirror list (real ones are a few KiB).
MAX_LIST_BYTES = 1 << 20


def fetch_repomd(downloader, feed: str, raw_feed: str, dest) -> str:
    """Download repomd.xml into ``dest``; returns the repository URL (ending in ``/``) it came
    from: ``feed`` itself, or the first mirror of ``raw_feed``'s list that answered."""
    try:
        _download(downloader, urllib.parse.urljoin(feed, REPOMD), dest)
        return feed
    except SyncError as exc:
        direct = exc
    mirrors = read_mirrors(downloader, raw_feed)
    if not mirrors:
        raise YumMetadataError(f"Error retrieving metadata: {direct}", feed=feed) from None
    failures = []
    for mirror in mirrors:
        try:
            _download(downloader, urllib.parse.urljoin(mirror, REPOMD), dest)
            return mirror
        except SyncError as exc:
            failures.append(f"{mirror}: {exc}")
    raise YumMetadataError(
        f"Error retrieving metadata: none of the {len(mirrors)} mirror(s) listed by {raw_feed} "
        f"answered; first: {failures[0]}", feed=feed, mirrors=failures[:10]) from None


def _download(downloader, url: str, dest) -> None:
    with downloader.open_url(url) as body, open(dest, "wb") as out:
        while chunk := body.read(1 << 20):
            out.write(chunk)


def read_mirrors(downloader, url: str) -> list[str]:
    """The mirrors ``url`` lists (base URLs ending in ``/``), or [] when it is no list."""
    try:
        with downloader.open_url(url) as body:
            data = body.read(MAX_LIST_BYTES + 1)
    except (SyncError, OSError):
        return []
    if len(data) > MAX_LIST_BYTES or b"\0" in data:
        return []
    text = data.decode("utf-8", "replace")
    found = _metalink(text) if text.lstrip().startswith("<") else _mirrorlist(text)
    local_ok = url.startswith("file://")
    mirrors = []
    for mirror in found:
        scheme = urllib.parse.urlsplit(mirror).scheme
        if scheme in ("http", "https") or (scheme == "file" and local_ok):
            mirrors.append(mirror if mirror.endswith("/") else mirror + "/")
    return list(dict.fromkeys(mirrors))  # listed twice: tried once


def _mirrorlist(text: str) -> list[str]:
    """yum's mirrorlist: one repository URL per line; blank lines and ``#`` comments."""
    lines = [line.strip() for line in text.splitlines()]
    return [line for line in lines if line and not line.startswith("#") and "://" in line]


def _metalink(text: str) -> list[str]:
    """The repository URLs of a metalink (v3 or v4): each ``<url>`` names a mirror's
    repomd.xml; sorted by ``preference`` (v3, higher first) or ``priority`` (v4, lower
    first), document order otherwise. The stdlib parser resolves no external entities."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return []
    if not root.tag.endswith("metalink"):
        return []
    ranked = []
    for index, element in enumerate(root.iter()):
        if not element.tag.endswith("}url") and element.tag != "url":
            continue
        if element.get("protocol") not in (None, "http", "https"):
            continue  # rsync, ftp: not something the downloader speaks
        url = (element.text or "").strip()
        if url.endswith(REPOMD):
            url = url[: -len(REPOMD)]
        elif not url.endswith("/"):
            continue  # a mirror of some other file
        rank = _rank(element)
        ranked.append((rank, index, url))
    return [url for _, _, url in sorted(ranked)]


def _rank(element) -> int:
    """Sort key: lower first."""
    for attribute, sign in (("preference", -1), ("priority", 1)):
        value = element.get(attribute)
        if value is not None:
            try:
                return sign * int(value)
            except ValueError:
                return 0
    return 0


def fetch_record(downloader, feed: str, record, validate: bool | None = None):
    """Download the file a repomd record lists (primary, updateinfo, modules…) into a temp
    file, verified by size and checksum (sha256 by the downloader, other kinds after it;
    ``validate`` defaults to the downloader's); returns its path."""
    href = safe_relative_path(record.location_href)
    if href is None:
        raise YumMetadataParseError(f"repomd.xml: {record.type} has an unsafe location "
                                    f"{record.location_href!r}")
    kind = checksum_type(record.checksum_type)
    if kind is None:
        raise YumChecksumTypeError(f'Checksum type "{record.checksum_type}" is not supported.',
                                   checksumtype=record.checksum_type)
    result = downloader.download_one(DownloadRequest(
        urllib.parse.urljoin(feed, urllib.parse.quote(href)), size=record.size or None,
        sha256=record.checksum if kind == "sha256" else None))
    validate = downloader.validate if validate is None else validate
    if result.ok and kind != "sha256" and validate:
        result.error = verify(result.path, kind, record.checksum, href)
    if not result.ok:
        if result.path:
            result.path.unlink(missing_ok=True)
        if isinstance(result.error, TaskCanceled):
            raise TaskCanceled()
        raise YumMetadataError(f"Error retrieving metadata: {href}: {result.error}",
                               feed=feed) from None
    return result.path


def spool_listed(downloader, entries, out, validate: bool, refused, done,
                 failed=None) -> list[dict]:
    """Download the files that repository metadata lists (packages, delta RPMs).

    ``entries`` are ``{"unit", "url", ...}``; a checksum other than sha256 is verified after
    the download when ``validate``. ``refused(result, unit)`` applies the signature policy: True
    drops the file; it may also set ``result.error``. Each file kept is appended to the spool
    ``out`` as its entry plus ``path`` and ``sha256``, then ``done(unit)``. Returns the
    failures as ``{name, error}`` (their files removed), each also passed to ``failed`` as it
    happens; a cancel raises TaskCanceled."""
    def requests():
        for entry in entries:
            unit = entry["unit"]
            sha256 = unit["checksum"] if unit["checksumtype"] == "sha256" else None
            yield DownloadRequest(entry["url"], sha256=sha256, size=unit["size"], data=entry)

    errors = []
    for result in downloader.download(requests()):
        entry = result.request.data
        unit = entry["unit"]
        if result.ok and validate and unit["checksumtype"] != "sha256":
            result.error = verify(result.path, unit["checksumtype"], unit["checksum"],
                                  unit["filename"])
        if result.ok and refused(result, unit):
            result.path.unlink(missing_ok=True)
            continue
        if result.ok:
            out.write(json.dumps({**entry, "path": str(result.path),
                                  "sha256": result.sha256}) + "\n")
            out.flush()
            done(unit)
            continue
        if result.path:
            result.path.unlink(missing_ok=True)
        if isinstance(result.error, TaskCanceled):
            raise TaskCanceled()
        errors.append({"name": unit["filename"], "error": str(result.error)})
        if failed is not None:
            failed(errors[-1])
    return errors


def decompressed(path, plain, what: str):
    """``path`` (gz, xz, bz2, zstd or plain) decompressed into ``plain``, which is returned."""
    try:
        cr.decompress_file(str(path), str(plain), cr.AUTO_DETECT_COMPRESSION)
    except Exception as exc:  # createrepo_c's own error type
        raise YumMetadataParseError(f"Could not decompress {what}: {exc}") from None
    return plain


def verify(path, kind: str, expected: str, name: str):
    """A ContentValidationError when ``path``'s ``kind`` digest is not ``expected``."""
    actual = file_digest(path, kind)
    if actual != (expected or "").lower():
        return ContentValidationError(
            f"Checksum mismatch for {name}: expected {kind} {expected}, got {actual}",
            expected=expected, actual=actual)
    return None


def file_digest(path, kind: str = "sha256") -> str:
    digest = hashlib.new(kind)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
