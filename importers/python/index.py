"""Client for PyPI-compatible indexes: PEP 691 JSON, PEP 503 HTML and the PyPI JSON API.

The pages come from an upstream that pulp2ng does not control, so every link is checked
before it is handed to the downloader: it must use http(s), stay on an allowed host, stay
under the index root when it is on the index host, and name a plain file. Links to other
hosts are followed as pip follows them (PyPI keeps its files on files.pythonhosted.org),
unless ``allowed_hosts`` narrows them to a list.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit

import requests
from packaging.utils import canonicalize_name

from .errors import IndexFormatError, UnsafeLinkError

__all__ = ["FileInfo", "IndexClient", "PEP691_JSON", "MAX_PAGE_BYTES"]

PEP691_JSON = "application/vnd.pypi.simple.v1+json"
_PEP691_HTML = "application/vnd.pypi.simple.v1+html"
_ACCEPT = {
    "auto": f"{PEP691_JSON}, {_PEP691_HTML};q=0.2, text/html;q=0.1",
    "pep691": PEP691_JSON,
    "pep503": f"{_PEP691_HTML}, text/html;q=0.9",
}
#: Largest index page read; PyPI's biggest project pages are a few MB.
MAX_PAGE_BYTES = 64 * 1024 * 1024
_HEX = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True)
class FileInfo:
    """One downloadable distribution file as an index describes it.

    ``hashes`` maps hash names (``sha256``, ``md5``, ...) to lower-case hex digests;
    ``sha256`` repeats the one pulp2ng verifies. ``has_metadata`` says the index offers PEP 658
    core metadata at ``url + ".metadata"``; ``metadata_sha256`` is its digest when given.
    """

    filename: str
    url: str
    sha256: str | None = None
    requires_python: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None
    size: int | None = None
    has_metadata: bool = False
    metadata_sha256: str | None = None
    hashes: dict = field(default_factory=dict, hash=False)

    @property
    def metadata_url(self) -> str | None:
        """PEP 658 location of the file's core metadata, when the index offers it."""
        return self.url + ".metadata" if self.has_metadata else None


class IndexClient:
    """Read project lists and file lists from one PyPI-compatible index.

    Args:
        base_url: the index root (``https://pypi.org/``, a Pulp 2 published repo) or its
            simple root (a URL whose path ends in ``simple/``, as devpi's ``+simple/``).
        session: the ``requests.Session`` to use (auth, proxies, TLS are the caller's).
        allowed_hosts: None to follow links to any host, as pip does; or the only other
            hosts file links may point to (``files.pythonhosted.org``): ``host`` allows any
            port, ``host:port`` only that one. The index host is always allowed.
        timeout: per-request timeout in seconds.
    """

    def __init__(self, base_url: str, session: requests.Session, allowed_hosts=None,
                 timeout: float = 60.0):
        base = base_url if base_url.endswith("/") else base_url + "/"
        parts = urlsplit(base)
        local = parts.scheme == "file" and not parts.netloc and parts.path.startswith("/")
        if not local and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError(f"index URL must be http(s) with a host, or a file:// path: "
                             f"{base_url!r}")
        # A local tree's pages may only link to files in that tree; a remote index's pages
        # never to local files.
        self._schemes = ("file",) if local else ("http", "https")
        if re.search(r"(^|/)[+]?simple/$", parts.path):
            self.simple_url = base
            self.root_url = urljoin(base, "../")
        else:
            self.simple_url = urljoin(base, "simple/")
            self.root_url = base
        self._root_path = urlsplit(self.root_url).path
        self._index_netloc = _netloc(parts)
        self._allowed = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}
        self.session = session
        self.timeout = timeout

    # -- public API -------------------------------------------------------------------------

    def list_projects(self, api: str = "auto") -> list[str]:
        """List every project of the index from its simple root page.

        Args:
            api: ``auto`` (PEP 691 JSON if the server offers it, else HTML), ``pep691`` or
                ``pep503`` (sent as the Accept header; the server's answer decides the parser).

        Returns:
            Project names as the index spells them, one per normalised name, sorted by it.

        Raises:
            IndexFormatError: the page is malformed. requests.HTTPError: HTTP failure.
        """
        response, body = self._get(self.simple_url, _ACCEPT[api])
        if _is_json(response):
            data = _load_json(body, response.url)
            _check_api_version(data, response.url)
            projects = data.get("projects")
            if not isinstance(projects, list):
                raise IndexFormatError(f"{response.url}: 'projects' is not a list")
            names = [_str_field(p, "name", response.url) for p in projects]
        else:
            names = [text.strip() for _href, _attrs, text in _parse_html(body, response)[1]]
        unique = {}
        for name in names:
            if name:
                unique.setdefault(canonicalize_name(name), name)
        return [unique[key] for key in sorted(unique)]

    def project_files(self, name: str, api: str = "auto") -> list[FileInfo]:
        """List the files of one project.

        With ``api="auto"`` the simple page is asked for PEP 691 JSON and parsed as whatever
        the server sends; when the index has no simple page for it (404), the PyPI JSON API
        ``/pypi/<name>/json`` is read instead (Pulp 2 published repos and old mirrors).

        Args:
            name: project name, in any spelling.
            api: ``auto``, ``pep691``, ``pep503`` or ``pypi-json``.

        Returns:
            The files in index order; an empty list if the project does not exist.

        Raises:
            IndexFormatError: malformed page. UnsafeLinkError: a link fails the safety checks.
            requests.HTTPError: any HTTP failure other than 404.
        """
        if api == "pypi-json":
            return self._pypi_json_files(name)
        url = urljoin(self.simple_url, canonicalize_name(name) + "/")
        try:
            response, body = self._get(url, _ACCEPT[api])
        except requests.HTTPError as exc:
            if exc.response is None or exc.response.status_code != 404 or api != "auto":
                raise
            return self._pypi_json_files(name)
        if _is_json(response):
            return self._pep691_files(_load_json(body, response.url), response.url)
        return self._pep503_files(body, response)

    def pypi_json_files(self, name: str) -> list[FileInfo]:
        """List a project's files from the PyPI JSON API only (``md5`` included when given).

        Args:
            name: project name, in any spelling.

        Returns:
            The files of every release; an empty list when the API answers 404.
        """
        return self._pypi_json_files(name)

    # -- fetching ---------------------------------------------------------------------------

    def _get(self, url: str, accept: str) -> tuple[requests.Response, bytes]:
        """GET a page with a size cap; the final URL (after redirects) must also be safe."""
        response = self.session.get(url, headers={"Accept": accept}, timeout=self.timeout,
                                    stream=True)
        with response:
            response.raise_for_status()
            self._check_url(response.url, response.url)
            body = response.raw.read(MAX_PAGE_BYTES + 1, decode_content=True)
        if len(body) > MAX_PAGE_BYTES:
            raise IndexFormatError(f"{url}: page larger than {MAX_PAGE_BYTES} bytes")
        return response, body

    # -- parsers ----------------------------------------------------------------------------

    def _pep691_files(self, data, page_url: str) -> list[FileInfo]:
        """Build FileInfo objects from a PEP 691 project document."""
        _check_api_version(data, page_url)
        files = data.get("files")
        if not isinstance(files, list):
            raise IndexFormatError(f"{page_url}: 'files' is not a list")
        result = []
        for entry in files:
            filename = _str_field(entry, "filename", page_url)
            url = self._resolve(page_url, _str_field(entry, "url", page_url))
            hashes = _hashes(entry.get("hashes", {}), page_url)
            meta = entry.get("core-metadata", entry.get("dist-info-metadata", False))
            yanked = entry.get("yanked", False)
            result.append(self._file_info(
                filename, url, hashes,
                requires_python=_opt_str(entry, "requires-python", page_url),
                yanked=bool(yanked),
                yanked_reason=yanked if isinstance(yanked, str) and yanked else None,
                size=_opt_int(entry, "size", page_url),
                metadata=_pep691_metadata(meta, page_url),
            ))
        return result

    def _pep503_files(self, body: bytes, response: requests.Response) -> list[FileInfo]:
        """Build FileInfo objects from the anchors of a PEP 503 project page."""
        base, anchors = _parse_html(body, response)
        result = []
        for href, attrs, _text in anchors:
            url, fragment = _split_fragment(self._resolve(base, href))
            filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
            hashes = _fragment_hash(fragment, response.url)
            meta = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
            yanked = "data-yanked" in attrs
            result.append(self._file_info(
                filename, url, hashes,
                requires_python=attrs.get("data-requires-python") or None,
                yanked=yanked,
                yanked_reason=(attrs.get("data-yanked") or None) if yanked else None,
                size=None,
                metadata=_pep503_metadata(meta, response.url),
            ))
        return result

    def _pypi_json_files(self, name: str) -> list[FileInfo]:
        """Read ``/pypi/<name>/json``: PyPI's API, or Pulp 2's published ``index.json``."""
        url = urljoin(self.root_url, f"pypi/{canonicalize_name(name)}/json")
        try:
            response, body = self._get(url, "application/json")
        except requests.HTTPError as exc:
            if exc.response is not None and exc.response.status_code == 404:
                return []
            raise
        data = _load_json(body, response.url)
        releases = data.get("releases") if isinstance(data, dict) else None
        if not isinstance(releases, dict):
            raise IndexFormatError(f"{response.url}: 'releases' is not an object")
        result = []
        for version in sorted(releases):
            entries = releases[version]
            if not isinstance(entries, list):
                raise IndexFormatError(f"{response.url}: release {version!r} is not a list")
            result.extend(self._json_api_file(e, response.url) for e in entries)
        return result

    def _json_api_file(self, entry, page_url: str) -> FileInfo:
        """One ``releases`` entry; Pulp 2 entries carry ``path`` below ``packages/``."""
        filename = _str_field(entry, "filename", page_url)
        link = entry.get("url") or entry.get("path")
        if not isinstance(link, str) or not link:
            raise IndexFormatError(f"{page_url}: {filename!r} has neither url nor path")
        if "url" not in entry and not link.startswith(("http://", "https://")):
            url = self._resolve(urljoin(self.root_url, "packages/"), link)
        else:
            url = self._resolve(page_url, link)
        hashes = _hashes(entry.get("digests") or {}, page_url)
        if isinstance(entry.get("md5_digest"), str) and entry["md5_digest"]:
            hashes.setdefault("md5", entry["md5_digest"].lower())
        if isinstance(entry.get("checksum_type"), str) and isinstance(entry.get("checksum"), str):
            hashes.update(_hashes({entry["checksum_type"]: entry["checksum"]}, page_url))
        return self._file_info(
            filename, url, hashes,
            requires_python=_opt_str(entry, "requires_python", page_url),
            yanked=bool(entry.get("yanked", False)),
            yanked_reason=_opt_str(entry, "yanked_reason", page_url),
            size=_opt_int(entry, "size", page_url),
            metadata=(False, None),
        )

    def _file_info(self, filename, url, hashes, *, metadata, **fields) -> FileInfo:
        """Check the file name and assemble a FileInfo."""
        _check_filename(filename, url)
        has_metadata, metadata_sha256 = metadata
        return FileInfo(filename=filename, url=url, sha256=hashes.get("sha256"), hashes=hashes,
                        has_metadata=has_metadata, metadata_sha256=metadata_sha256, **fields)

    # -- link safety ------------------------------------------------------------------------

    def _resolve(self, page_url: str, href: str) -> str:
        """Resolve a link against its page and apply every safety rule to it."""
        try:
            if _climbs_above_root(page_url, href):
                raise UnsafeLinkError(f"link {href!r} on {page_url} climbs above the site root")
            absolute = urljoin(page_url, href.strip())
        except ValueError as exc:
            raise IndexFormatError(f"{page_url}: unparsable link {href!r}") from exc
        self._check_url(absolute, href)
        return absolute

    def _check_url(self, url: str, shown: str) -> None:
        """Scheme, host and containment checks for an absolute URL."""
        try:
            parts = urlsplit(url)
            netloc = _netloc(parts)
        except ValueError as exc:
            raise IndexFormatError(f"unparsable link {shown!r}") from exc
        if parts.scheme not in self._schemes:
            raise UnsafeLinkError(f"link {shown!r} does not use {' or '.join(self._schemes)}")
        segments = unquote(parts.path).split("/")
        if ".." in segments or any("\\" in s for s in segments):
            raise UnsafeLinkError(f"link {shown!r} has '..' path segments")
        if netloc == self._index_netloc:
            if not parts.path.startswith(self._root_path):
                raise UnsafeLinkError(f"link {shown!r} points outside the index {self.root_url}")
        elif self._allowed is not None and netloc not in self._allowed and \
                parts.hostname not in self._allowed:
            raise UnsafeLinkError(f"link {shown!r} points to host {netloc!r}, which is not in "
                                  f"allowed_hosts {sorted(self._allowed)}")


def _netloc(parts) -> str:
    """``host[:port]`` in lower case, without credentials; default ports dropped."""
    host = (parts.hostname or "").lower()
    port = parts.port
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return host if port in (None, default) else f"{host}:{port}"


def _climbs_above_root(page_url: str, href: str) -> bool:
    """True when a relative link has more ``..`` than the page has folders (urljoin hides it)."""
    ref = urlsplit(href.strip())
    if ref.scheme or ref.netloc:
        return False
    base = [] if ref.path.startswith("/") else urlsplit(page_url).path.split("/")[1:-1]
    depth = len(base)
    for segment in unquote(ref.path).split("/"):
        if segment == "..":
            depth -= 1
            if depth < 0:
                return True
        elif segment not in ("", "."):
            depth += 1
    return False


def _check_filename(filename: str, url: str) -> None:
    """The file name becomes a unit key and a path on disk: no folders, no traversal."""
    if (not filename or "/" in filename or "\\" in filename or ".." in filename
            or filename.startswith(".") or any(ord(c) < 32 for c in filename)):
        raise UnsafeLinkError(f"unsafe file name {filename!r} for link {url!r}")


# -- format helpers -------------------------------------------------------------------------


def _is_json(response: requests.Response) -> bool:
    """Whether the server answered with a JSON variant (PEP 691 or plain JSON)."""
    ctype = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    return ctype == PEP691_JSON or ctype.endswith("+json") or ctype == "application/json"


def _load_json(body: bytes, url: str):
    """Decode a JSON body; anything else is a format error naming the page."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise IndexFormatError(f"{url}: invalid JSON: {exc}") from exc


def _check_api_version(data, url: str) -> None:
    """PEP 691: clients must refuse a major api-version they do not know."""
    meta = data.get("meta") if isinstance(data, dict) else None
    version = meta.get("api-version") if isinstance(meta, dict) else None
    if not isinstance(version, str) or version.split(".")[0] != "1":
        raise IndexFormatError(f"{url}: unsupported or missing meta.api-version {version!r}")


def _str_field(entry, key: str, url: str) -> str:
    """A required string member of a JSON object."""
    value = entry.get(key) if isinstance(entry, dict) else None
    if not isinstance(value, str):
        raise IndexFormatError(f"{url}: entry without a string {key!r}: {entry!r:.200}")
    return value


def _opt_str(entry: dict, key: str, url: str) -> str | None:
    """An optional string member (null or absent gives None)."""
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise IndexFormatError(f"{url}: {key!r} is not a string")
    return value or None


def _opt_int(entry: dict, key: str, url: str) -> int | None:
    """An optional non-negative integer member."""
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise IndexFormatError(f"{url}: {key!r} is not a non-negative integer")
    return value


def _hashes(raw, url: str) -> dict:
    """Validate a ``{name: hexdigest}`` mapping; unknown hash names are kept but checked hex."""
    if not isinstance(raw, dict):
        raise IndexFormatError(f"{url}: hashes is not an object")
    result = {}
    for name, digest in raw.items():
        if not isinstance(name, str) or not isinstance(digest, str):
            raise IndexFormatError(f"{url}: bad hash entry {name!r}")
        digest = digest.lower()
        if not _HEX.fullmatch(digest):
            raise IndexFormatError(f"{url}: {name} digest {digest!r} is not hex")
        expected = _digest_size(name)
        if expected and len(digest) != 2 * expected:
            raise IndexFormatError(f"{url}: {name} digest has the wrong length")
        result[name.lower()] = digest
    return result


def _digest_size(name: str) -> int | None:
    """Digest size in bytes for a hashlib name (blake2b_256 is PyPI's spelling)."""
    if name == "blake2b_256":
        return 32
    try:
        return hashlib.new(name).digest_size
    except (ValueError, TypeError):
        return None


def _pep691_metadata(meta, url: str) -> tuple[bool, str | None]:
    """``core-metadata``: false, true, or a hashes object."""
    if isinstance(meta, bool):
        return meta, None
    if isinstance(meta, dict):
        return True, _hashes(meta, url).get("sha256")
    raise IndexFormatError(f"{url}: core-metadata must be a boolean or an object")


def _pep503_metadata(value: str | None, url: str) -> tuple[bool, str | None]:
    """``data-core-metadata``: absent, ``true``, or ``<hashname>=<hex>``."""
    if value is None or value.strip().lower() == "false":
        return False, None
    name, sep, digest = value.strip().partition("=")
    if not sep:
        return True, None
    return True, _hashes({name: digest}, url).get("sha256")


def _split_fragment(url: str) -> tuple[str, str]:
    """Separate ``#sha256=...`` from the download URL."""
    head, _, fragment = url.partition("#")
    return head, fragment


def _fragment_hash(fragment: str, url: str) -> dict:
    """PEP 503 allows one ``#<hashname>=<hex>`` fragment; other fragments are ignored."""
    name, sep, digest = fragment.partition("=")
    if not sep or name.lower() not in hashlib.algorithms_guaranteed:
        return {}
    return _hashes({name: digest}, url)


class _AnchorParser(HTMLParser):
    """Collect ``<a>`` tags (href, attributes, text) and an optional ``<base href>``."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[str, dict, str]] = []
        self.base: str | None = None
        self._current: tuple[str, dict, list] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "base" and self.base is None and attrs.get("href"):
            self.base = attrs["href"]
        elif tag == "a" and attrs.get("href"):
            self._close()
            self._current = (attrs["href"], attrs, [])

    def handle_data(self, data):
        if self._current is not None:
            self._current[2].append(data)

    def handle_endtag(self, tag):
        if tag == "a":
            self._close()

    def _close(self):
        if self._current is not None:
            href, attrs, text = self._current
            self.anchors.append((href, attrs, "".join(text)))
            self._current = None


def _charset(response: requests.Response) -> str:
    """The declared charset, else UTF-8 (requests would guess ISO-8859-1 for text/html)."""
    match = re.search(r"charset=([\w.:-]+)", response.headers.get("Content-Type", ""), re.I)
    return match.group(1) if match else "utf-8"


def _parse_html(body: bytes, response: requests.Response):
    """Parse a PEP 503 page into ``(base_url, anchors)``.

    HTML is forgiving, so "malformed" here means: not decodable, served as neither HTML nor
    JSON, or not looking like an HTML document at all.
    """
    ctype = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype and ctype not in ("text/html", _PEP691_HTML, "application/xhtml+xml"):
        raise IndexFormatError(f"{response.url}: unexpected content type {ctype!r}")
    try:
        text = body.decode(_charset(response))
    except (UnicodeDecodeError, LookupError) as exc:
        raise IndexFormatError(f"{response.url}: page is not valid text: {exc}") from exc
    if text.strip() and "<" not in text:
        raise IndexFormatError(f"{response.url}: page is not HTML")
    parser = _AnchorParser()
    try:
        parser.feed(text)
        parser.close()
    except (AssertionError, ValueError) as exc:  # html.parser's own failure modes
        raise IndexFormatError(f"{response.url}: cannot parse HTML: {exc}") from exc
    parser._close()
    base = urljoin(response.url, parser.base) if parser.base else response.url
    return base, parser.anchors
