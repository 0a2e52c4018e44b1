"""The downloader every importer uses: pooled, concurrent, streaming, verifying.

Built from the standard Pulp importer keys (``feed`` aside): ``max_downloads``, ``max_speed``,
``validate``, ``ssl_validation``, ``ssl_ca_cert``, ``ssl_client_cert``, ``ssl_client_key``,
``proxy_host``, ``proxy_port``, ``proxy_username``, ``proxy_password``,
``basic_auth_username``, ``basic_auth_password``, ``connect_timeout``, ``read_timeout`` and
``retries``. Files stream to disk in 1 MiB chunks while being hashed; a file whose size or
sha256 differs from what the caller expects is deleted and reported, never returned.

Plugins get one from ``conduit.downloader(config)`` and import these names from
``pulp2ng.plugin``. Thread-safety: one Downloader may be shared by the plugin's threads for
:meth:`Downloader.get`, :meth:`~Downloader.open_url`, :meth:`~Downloader.download_one`,
:meth:`~Downloader.retrying` and :meth:`~Downloader.pace` (they share one pooled requests
session, as :meth:`~Downloader.download` does); consume :meth:`~Downloader.download` from one
thread, and :meth:`~Downloader.close` only once every thread is done.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import requests
import urllib3
from requests.adapters import HTTPAdapter

from pulp2ng.errors import ContentValidationError, SyncError, TaskCanceled

CHUNK = 1 << 20
def is_service_error(exc: BaseException) -> bool:
    """A database or broker error (a cancel check reads the database): never a file's
    failure, so it passes the per-file error handling and fails the task as itself. Looked
    up without importing pymongo or kombu: the consumer agent uses this module on hosts
    without the server (an error of theirs means they are loaded)."""
    errors, broker = sys.modules.get("pymongo.errors"), sys.modules.get("kombu.exceptions")
    return bool(errors and isinstance(exc, errors.ConnectionFailure)
                or broker and isinstance(exc, broker.OperationalError))

#: The importer keys the downloader reads; importers count them as known config keys.
STANDARD_KEYS = (
    "max_downloads", "max_speed", "validate", "ssl_validation", "ssl_ca_cert",
    "ssl_client_cert", "ssl_client_key", "proxy_host", "proxy_port", "proxy_username",
    "proxy_password", "basic_auth_username", "basic_auth_password", "connect_timeout",
    "read_timeout", "retries",
)
#: Importer keys whose values the API never echoes.
SECRET_KEYS = ("basic_auth_password", "proxy_password", "ssl_client_key")
_RETRY_STATUSES = {429, 500, 502, 503, 504}
#: What reading a response body raises when the connection breaks (a truncated body too).
_BODY_ERRORS = (requests.exceptions.ChunkedEncodingError, requests.ConnectionError,
                requests.Timeout, urllib3.exceptions.HTTPError, ConnectionError)


@dataclass
class DownloadRequest:
    """One file to fetch. ``sha256``/``size`` are verified when given; ``data`` is the
    caller's own payload, handed back in the result.

    Give both whenever the upstream's metadata has them: a body larger than ``size`` is cut
    off early, and verification is what makes the file safe to ``conduit.store_file``. The
    importer config ``validate: false`` turns both checks off.

    Attributes:
        url (str): ``http(s)://`` or ``file://`` URL.
        sha256 (str | None): expected hex digest.
        size (int | None): expected size in bytes.
        data (object): anything the caller wants back (for example its manifest entry).
    """

    url: str
    sha256: str | None = None
    size: int | None = None
    data: object = None


@dataclass
class DownloadResult:
    """The outcome of one :class:`DownloadRequest`; a failure is a value, never raised.

    On success the file is at ``path`` (in the task's temp dir; the caller stores it with
    ``conduit.store_file`` or deletes it). On failure ``path`` is None and ``error`` is a
    SyncError (fetch failed), a ContentValidationError (size or checksum mismatch) or a
    TaskCanceled; the importer decides whether one failed file fails the sync.

    Attributes:
        request (DownloadRequest): what was asked for.
        path (Path | None): the verified file.
        sha256 (str | None): its sha256, computed while streaming.
        size (int): its size in bytes.
        error (Exception | None): why it failed.
        extra_digests (dict): other digests some callers record (empty by default).
    """

    request: DownloadRequest
    path: Path | None = None
    sha256: str | None = None
    size: int = 0
    error: Exception | None = None
    extra_digests: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the file was fetched and verified."""
        return self.error is None


def validate_downloader_config(config) -> str | None:
    """Check the standard keys' types; returns a message for the first bad one, or None.

    Call it from ``Importer.validate_config`` of every importer that uses the downloader, so
    a bad ``max_downloads`` is a 400 when the config is saved rather than a failed sync.
    """
    for key in ("max_downloads", "connect_timeout", "read_timeout", "retries", "proxy_port"):
        value = config.get(key)
        if value is not None:
            try:
                number = float(value)
            except (TypeError, ValueError):
                return f"{key} must be a number"
            if number < 0 or (key == "max_downloads" and number < 1):
                return f"{key} must be positive"
    for key in ("validate", "ssl_validation"):
        try:
            config.get_boolean(key)
        except ValueError as exc:
            return str(exc)
    max_speed = config.get("max_speed")
    if max_speed is not None:
        try:
            float(max_speed)
        except (TypeError, ValueError):
            return "max_speed must be a number of bytes per second"
    return None


class Downloader:
    """Concurrent downloads sharing one pooled session. Use as a context manager.

    Plugins do not build one: ``conduit.downloader(config)`` does, with the task's temp dir
    and cancel flag. Every fetch honours ``retries`` (connection errors and HTTP 429/5xx are
    retried with doubling pauses), the TLS, proxy and basic-auth keys, ``max_speed`` and the
    timeouts, so importers with their own protocol should go through :meth:`get`,
    :meth:`open_url` or :meth:`retrying` on :attr:`session` rather than a session of their
    own. A cancel surfaces as TaskCanceled.

    Attributes:
        session (requests.Session): the pooled, configured session (auth, TLS, proxy).
        timeout (tuple): ``(connect_timeout, read_timeout)`` for requests on ``session``.
        max_downloads (int): how many files :meth:`download` fetches at once; also a fair
            size for a plugin's own pool of fetching threads.

    Args:
        config (CallConfig): the importer's call configuration.
        temp_dir (Path): where partial files live (same filesystem as storage).
        canceled (callable): returns True when the task was canceled.
    """

    def __init__(self, config, temp_dir: os.PathLike, canceled=lambda: False):
        self.config = config
        self.temp_dir = Path(temp_dir)
        self.canceled = canceled
        self.max_downloads = int(config.get("max_downloads", 5))  # nectar's default
        self.validate = config.get_boolean("validate", True)
        self.retries = int(config.get("retries", 3))
        speed = config.get("max_speed")
        self.max_speed = float(speed) if speed else None
        self.timeout = (float(config.get("connect_timeout", 10)),
                        float(config.get("read_timeout", 60)))
        self._pem_files: list[Path] = []
        self.session = self._make_session()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        """Close the pooled connections and delete the private PEM files (``__exit__``)."""
        self.session.close()
        for path in self._pem_files:
            path.unlink(missing_ok=True)

    # -- session ------------------------------------------------------------------------------

    def _make_session(self) -> requests.Session:
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=self.max_downloads + 2)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = "pulp2ng"
        session.trust_env = _environment_needs_trust_env()
        cfg = self.config
        if cfg.get("basic_auth_username"):
            session.auth = (cfg.get("basic_auth_username"), cfg.get("basic_auth_password", ""))
        session.verify = cfg.get_boolean("ssl_validation", True)
        if session.verify and cfg.get("ssl_ca_cert"):
            session.verify = str(self._pem("ssl_ca_cert"))
        elif session.verify:  # what requests would take from the environment per request
            session.verify = (os.environ.get("REQUESTS_CA_BUNDLE")
                              or os.environ.get("CURL_CA_BUNDLE") or True)
        if cfg.get("ssl_client_cert"):
            cert = str(self._pem("ssl_client_cert"))
            key = str(self._pem("ssl_client_key")) if cfg.get("ssl_client_key") else None
            session.cert = (cert, key) if key else cert
        if cfg.get("proxy_host"):
            session.proxies = {"http": self._proxy_url(), "https": self._proxy_url()}
        return session

    def _pem(self, key: str) -> Path:
        """Write a PEM config value to a private temp file requests can read."""
        path = self.temp_dir / f"{os.getpid()}-{id(self)}-{key}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.config.get(key))
        self._pem_files.append(path)
        return path

    def _proxy_url(self) -> str:
        cfg = self.config
        host = cfg.get("proxy_host")
        if "://" not in host:
            host = f"http://{host}"
        parts = urllib.parse.urlsplit(host)
        auth = ""
        if cfg.get("proxy_username"):
            auth = (urllib.parse.quote(cfg.get("proxy_username"), safe="") + ":"
                    + urllib.parse.quote(cfg.get("proxy_password", ""), safe="") + "@")
        port = f":{cfg.get('proxy_port')}" if cfg.get("proxy_port") else ""
        return f"{parts.scheme}://{auth}{parts.hostname}{port}"

    # -- small documents ----------------------------------------------------------------------

    def get(self, url: str, headers: dict | None = None, stream: bool = False):
        """GET with retries on connection errors and 5xx; raises SyncError otherwise.

        For small documents (indexes, manifests, JSON APIs); an answer of 400 or more, after
        the retries, raises SyncError with ``http_status``. Returns the requests response
        (close it when ``stream``). ``file://`` URLs go through :meth:`open_url`.
        """
        if url.startswith("file://"):
            raise SyncError(f"use open_url() for file URLs: {url}")
        response = self.retrying(lambda: self.session.get(
            url, headers=headers, stream=stream, timeout=self.timeout), url)
        if response.status_code >= 400:
            response.close()
            raise SyncError(f"Could not fetch {url}: HTTP {response.status_code}",
                            url=url, http_status=response.status_code)
        return response

    def retrying(self, send, url: str):
        """``send()`` (which returns a response) under the ``retries`` policy.

        A connection error or a 429/5xx answer is tried again after a growing pause; the last
        answer is returned whatever its status, and a last connection error is a SyncError.
        Clients with their own protocol on the downloader's session (the registry client)
        use it too, so every importer honours the same keys.
        """
        for last in self._attempts():
            try:
                response = send()
            except (requests.ConnectionError, requests.Timeout) as exc:
                if last:
                    raise SyncError(f"Could not fetch {url}: {exc}", url=url) from None
                continue
            # ``send`` may return what it fetched instead of a response (see fetch_to_file).
            if getattr(response, "status_code", None) not in _RETRY_STATUSES or last:
                return response
            response.close()
        raise AssertionError("unreachable")

    def _attempts(self) -> Iterator[bool]:
        """The ``retries`` policy: one try, then up to ``retries`` more after pauses that
        double from 0.2 s; yields whether a try is the last. A cancel ends the pauses."""
        delay = 0.2
        for attempt in range(self.retries + 1):
            if attempt:
                if self.canceled():
                    raise TaskCanceled()
                time.sleep(delay)
                delay *= 2
            yield attempt == self.retries

    def open_url(self, url: str):
        """A binary file-like object for ``url`` (``file://`` or HTTP), streamed.

        Use it as a context manager for a document too big to hold or a feed that may be a
        local path; errors are SyncError."""
        if url.startswith("file://"):
            path = urllib.request.url2pathname(urllib.parse.urlsplit(url).path)
            try:
                return open(path, "rb")
            except OSError as exc:
                raise SyncError(f"Could not open {url}: {exc.strerror}", url=url) from None
        return _ClosingRaw(self.get(url, stream=True))

    # -- files ----------------------------------------------------------------------------------

    def download(self, requests_: Iterable[DownloadRequest]) -> Iterator[DownloadResult]:
        """Fetch files concurrently (``max_downloads`` at a time), yielding as they finish.

        At most twice ``max_downloads`` requests are in flight, so an iterator over a huge
        manifest is consumed lazily and memory stays bounded.
        """
        pending = set()
        iterator = iter(requests_)
        with ThreadPoolExecutor(self.max_downloads, thread_name_prefix="download") as pool:
            exhausted = False
            while True:
                while not exhausted and len(pending) < self.max_downloads * 2:
                    req = next(iterator, None)
                    if req is None:
                        exhausted = True
                    else:
                        pending.add(pool.submit(self.download_one, req))
                if not pending:
                    return
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
                if self.canceled():
                    for future in pending:
                        future.cancel()
                    for future in pending:
                        if not future.cancelled():
                            _discard(future.result())
                    raise TaskCanceled()

    def download_one(self, req: DownloadRequest) -> DownloadResult:
        """Stream one file into ``temp_dir`` and verify it; never raises for the file."""
        dest = self.temp_dir / f"dl-{os.urandom(12).hex()}"
        try:
            checked = self.validate and req.sha256 is not None
            digest, size = self.fetch_to_file(
                lambda: self.open_url(req.url), dest, url=req.url,
                digest=f"sha256:{req.sha256.lower()}" if checked else None,
                size=req.size if self.validate else None, fresh=True)
            return DownloadResult(req, dest, digest, size)
        except TaskCanceled:
            dest.unlink(missing_ok=True)
            return DownloadResult(req, error=TaskCanceled())
        except Exception as exc:  # reported per file; the importer decides what fails
            dest.unlink(missing_ok=True)
            if is_service_error(exc):  # not this file's failure: fails the task as itself
                raise
            if not isinstance(exc, (SyncError, ContentValidationError)):
                exc = SyncError(f"Could not fetch {req.url}: {exc}", url=req.url)
            return DownloadResult(req, error=exc)

    def fetch_to_file(self, open_body: Callable, dest: os.PathLike, *, url: str,
                      digest: str | None = None, size: int | None = None,
                      decode_content: bool = True, fresh: bool = False) -> tuple[str, int]:
        """:func:`fetch_to_file` under this downloader's ``retries``, ``max_speed`` and cancel.

        The one way a plugin streams an HTTP body into a file: for a client with its own
        protocol on :attr:`session` (``open_body`` makes the request), and for :meth:`download`.
        """
        # Throttled downloads read small chunks so the pace is smooth and cancel is prompt.
        chunk_size = CHUNK if not self.max_speed else max(4096, min(CHUNK, int(self.max_speed / 10)))
        return fetch_to_file(open_body, dest, url=url, digest=digest, size=size,
                             decode_content=decode_content, retrying=self.retrying,
                             pace=self.pace, canceled=self.canceled, chunk_size=chunk_size,
                             fresh=fresh)

    def pace(self, started: float, size: int) -> None:
        """Sleep until ``size`` bytes read since ``started`` fit ``max_speed`` (if set), in
        short naps that notice a cancel."""
        if not self.max_speed:
            return
        while (ahead := size / self.max_speed - (time.monotonic() - started)) > 0:
            if self.canceled():
                raise TaskCanceled()
            time.sleep(min(ahead, 0.1))


class BodyBrokenError(requests.ConnectionError):
    """A response body that broke off mid-transfer (reset, or shorter than Content-Length).

    It is a connection error, so the retry policy, which retries those, fetches it again.
    """


def fetch_to_file(open_body: Callable, dest: os.PathLike, *, url: str, digest: str | None = None,
                  size: int | None = None, decode_content: bool = True,
                  retrying: Callable | None = None, pace: Callable | None = None,
                  canceled: Callable[[], bool] | None = None,
                  chunk_size: int = CHUNK, fresh: bool = False) -> tuple[str, int]:
    """Stream the body that ``open_body()`` opens into ``dest``; returns ``(hex digest, size)``.

    ``open_body()`` makes the request (raising for an error answer) and returns a streamed
    :class:`requests.Response` (read as is unless ``decode_content``) or a binary file-like
    object to use in ``with``. The bytes are hashed into a ``.part`` file next to ``dest``
    that becomes ``dest`` only once complete and, where given, of ``size`` bytes and of
    ``digest`` (``algorithm:hex``, sha256 unless told): ``dest`` never holds a partial or wrong
    file, and nothing is left behind (ContentValidationError). A body that breaks off is a
    :class:`BodyBrokenError`, and is fetched again from the start under
    ``retrying(send, url)`` (:meth:`Downloader.retrying`; tried once if None). ``pace(started,
    size)`` keeps to a speed limit (:meth:`Downloader.pace`); ``canceled()`` is asked after
    each chunk. ``fresh`` says ``dest`` is a new, unique name nobody reads before this
    returns: it is then written in place (no ``.part`` and rename), and still removed on
    failure.
    """
    algorithm, _, expected = digest.rpartition(":") if digest else ("sha256", "", None)
    retrying = retrying or (lambda send, url: send())

    def attempt() -> _PartFile:
        part.restart()
        opened = open_body()
        if isinstance(opened, requests.Response):
            opened = _ClosingRaw(opened, decode_content)
        with opened as body:
            _copy(body, part, url, size, chunk_size, pace, canceled)
        return part

    with _PartFile(dest, algorithm or "sha256", fresh) as part:
        retrying(attempt, url)
        if size is not None and part.size != size:
            raise ContentValidationError(
                f"Size mismatch for {url}: expected {size} bytes, got {part.size}",
                url=url, expected=size, actual=part.size,
            )
        actual = part.hasher.hexdigest()
        if expected is not None and actual != expected:
            raise ContentValidationError(
                f"Checksum mismatch for {url}: expected {part.hasher.name} {expected}, "
                f"got {actual}", url=url, expected=expected, actual=actual,
            )
        part.commit()
    return actual, part.size


def _copy(body, part: _PartFile, url: str, limit: int | None, chunk_size: int, pace, canceled):
    """Copy ``body`` into ``part``; a body that breaks off is a BodyBrokenError."""
    started = time.monotonic()
    while True:
        try:
            chunk = body.read(chunk_size)
        except _BODY_ERRORS as exc:
            announced = getattr(body, "announced", None)
            of = f" of {announced}" if announced else ""
            raise BodyBrokenError(f"download of {getattr(body, 'url', url)} broke off after "
                                  f"{part.size}{of} bytes: {exc}") from exc
        if not chunk:
            return
        if limit is not None and part.size + len(chunk) > limit:
            raise ContentValidationError(
                f"{url} is larger than the expected {limit} bytes", url=url
            )
        part.write(chunk)
        if pace:
            pace(started, part.size)
        if canceled and canceled():
            raise TaskCanceled()


class _PartFile:
    """A hashed temporary file next to ``dest`` that becomes ``dest`` only on :meth:`commit`.

    :meth:`restart` empties it for another try; leaving the ``with`` block removes it unless
    it was committed, so ``dest`` never holds a partial file. With ``fresh`` the file is
    ``dest`` itself (see :func:`fetch_to_file`).

    Opening costs one ``open`` (the directory is created only if that fails, and the name is
    a random token rather than ``tempfile.mkstemp``'s): a sync of thousands of small files
    opens one per file, and ``makedirs`` + ``mkstemp`` + a second rename cost ~0.05 ms of
    CPU a file more (measured on 1 KiB files).
    """

    _FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL

    def __init__(self, dest: os.PathLike, algorithm: str, fresh: bool = False):
        self.dest = os.fspath(dest)
        self.algorithm = algorithm
        directory, name = os.path.split(self.dest)
        self.fresh = fresh
        self.path = self.dest if fresh else os.path.join(
            directory, f".{name}-{os.urandom(6).hex()}.part")
        try:
            fd = os.open(self.path, self._FLAGS, 0o600)
        except FileNotFoundError:
            os.makedirs(directory or ".", exist_ok=True)
            fd = os.open(self.path, self._FLAGS, 0o600)
        self.file = open(fd, "wb")
        self.hasher, self.size = hashlib.new(self.algorithm), 0

    def restart(self) -> None:
        """Empty the file for another try (a new file is empty already: no syscalls, which
        count when a sync stores thousands of small files)."""
        if self.size:
            self.file.seek(0)
            self.file.truncate()
            self.hasher, self.size = hashlib.new(self.algorithm), 0

    def write(self, chunk: bytes) -> None:
        self.hasher.update(chunk)
        self.file.write(chunk)
        self.size += len(chunk)

    def commit(self) -> None:
        self.file.close()
        if not self.fresh:
            os.replace(self.path, self.dest)
        self.path = None

    def __enter__(self) -> "_PartFile":
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()
        if self.path is not None:
            os.unlink(self.path)


class _ClosingRaw:
    """Adapts a streamed requests response to ``with ... as fh: fh.read(n)``; a body read to
    the end hands its connection back to the pool instead of closing it."""

    def __init__(self, response, decode_content: bool = True):
        self.response = response
        self.decode_content = decode_content
        self.eof = False
        self.url = response.url
        self.announced = response.headers.get("Content-Length")

    def read(self, n: int = -1) -> bytes:
        data = self.response.raw.read(n, decode_content=self.decode_content)
        self.eof = self.eof or not data
        return data

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.eof and exc[0] is None:
            self.response.raw.release_conn()
        else:
            self.response.close()


def _environment_needs_trust_env() -> bool:
    """Whether proxy or netrc settings outside the config apply to downloads.

    With ``trust_env`` requests reads them again on every request, scanning the whole
    environment twice: a quarter of the CPU of a small-file download. Most hosts set none,
    and then the scan is skipped (the CA bundle variables are read once instead, see
    ``_make_session``); a host that sets any keeps requests' usual behaviour.
    """
    names = {name.lower() for name in os.environ}
    if "netrc" in names or any(name.endswith("_proxy") for name in names):
        return True
    return any(os.path.exists(os.path.expanduser(f"~/{n}")) for n in (".netrc", "_netrc"))


def _discard(result: DownloadResult) -> None:
    if result.path:
        result.path.unlink(missing_ok=True)
