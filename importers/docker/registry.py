"""A small client for the Docker Registry HTTP API v2 / OCI distribution API (pull side only).

It knows the auth dance (Basic, and Bearer tokens from the realm named in ``WWW-Authenticate``),
follows ``Link`` pagination, and verifies every manifest and blob against its digest, which
Pulp 2 never did for blobs.
"""
from __future__ import annotations

import base64
import json
import os
import re
import time
from dataclasses import dataclass
from urllib.parse import quote, urljoin

import requests

from pulp2ng.plugin import BodyBrokenError, ContentValidationError, fetch_to_file

from . import mediatypes as mt
from .errors import (
    DigestMismatchError,
    ManifestError,
    NotFoundError,
    RegistryAuthError,
    RegistryError,
)
from .manifests import compute_digest, detect_media_type, verify_digest

MAX_MANIFEST_BYTES = 4 << 20  # registries refuse bigger ones; bounds memory on a hostile feed
DEFAULT_TIMEOUT = (10.0, 60.0)  # (connect, read) seconds, as requests takes it
API_VERSION = "registry/2.0"
_DIGEST = re.compile(r"(sha256|sha384|sha512):[0-9a-f]{32,128}")
_CHALLENGE_PARAM = re.compile(r'([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


@dataclass(frozen=True)
class RegistryInfo:
    """What ``GET /v2/`` told about a registry."""

    api_version: str | None
    auth_scheme: str | None
    supports_signatures: bool


@dataclass
class _Token:
    value: str
    expires_at: float

    def fresh(self) -> bool:
        return time.monotonic() < self.expires_at


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """Split a ``WWW-Authenticate`` value into its scheme and parameters.

    Args:
        header: e.g. ``Bearer realm="https://auth/token",service="reg",scope="repo:x:pull"``.

    Returns:
        ``(scheme in lower case, {param: value})``; ``("", {})`` for an empty header.
    """
    scheme, _, rest = (header or "").strip().partition(" ")
    params = {}
    for match in _CHALLENGE_PARAM.finditer(rest):
        quoted, bare = match.group(2), match.group(3)
        params[match.group(1).lower()] = bare if quoted is None else quoted.replace('\\"', '"')
    return scheme.lower(), params


def _check_digest_format(digest: str) -> str:
    if not _DIGEST.fullmatch(digest or ""):
        raise ValueError(f"not a content digest: {digest!r}")
    return digest


def _error_detail(resp: requests.Response) -> str:
    """Summarise a registry error body (``{"errors": [...]}``) without reading a huge body."""
    try:
        raw = next(resp.iter_content(8192), b"")  # one chunk, whether streamed or not
    except Exception:  # noqa: BLE001 - the status code is the real error, the body is a bonus
        raw = b""
    try:
        errors = json.loads(raw).get("errors") or []
        return "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
    except (ValueError, AttributeError):
        return raw[:200].decode("utf-8", "replace").strip()


class RegistryClient:
    """Pull manifests, tags, blobs and signatures from one registry.

    Args:
        base_url: registry root, e.g. ``https://registry-1.docker.io`` (no ``/v2``).
        session: a shared :class:`requests.Session` (connection pooling, proxies, TLS config).
        username: for Basic auth or for the Bearer token server; None means anonymous.
        password: goes with ``username``.
        timeout: requests timeout, seconds or ``(connect, read)``.
        retrying: ``retrying(send, url)`` runs a request, or a whole blob download, under a
            retry policy (:meth:`Downloader.retrying`); by default each is tried once.
        pace: ``pace(started, size)`` sleeps to keep a body under a speed limit
            (:meth:`Downloader.pace`); by default nothing is throttled.
    """

    def __init__(
        self,
        base_url: str,
        session: requests.Session,
        username: str | None = None,
        password: str | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        retrying=None,
        pace=None,
    ):
        self.retrying = retrying or (lambda send, url: send())
        self.pace = pace or (lambda started, size: None)
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.username = username
        self.password = password
        self.timeout = timeout
        self._tokens: dict[str | None, _Token] = {}
        self._basic = False  # set once the registry asked for Basic auth

    # ------------------------------------------------------------------ auth and transport

    @staticmethod
    def repository_scope(name: str) -> str:
        """Return the token scope to pull ``name``."""
        return f"repository:{name}:pull"

    def _auth_header(self, scope: str | None) -> dict[str, str]:
        token = self._tokens.get(scope)
        if token and token.fresh():
            return {"Authorization": f"Bearer {token.value}"}
        if self._basic and self.username is not None:
            pair = f"{self.username}:{self.password or ''}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        return {}

    def _request(self, method, url, scope, headers=None, stream=False) -> requests.Response:
        """One request with the current credentials, not retried."""
        all_headers = dict(headers or {})
        all_headers.update(self._auth_header(scope))
        return self.session.request(method, url, headers=all_headers, stream=stream,
                                    timeout=self.timeout, allow_redirects=True)

    def _retried(self, send, url: str) -> requests.Response:
        """``send()`` under the retry policy; a connection error left after it is a
        RegistryError (a body that broke off keeps its own message)."""
        try:
            return self.retrying(send, url)
        except BodyBrokenError as exc:
            raise RegistryError(str(exc), url=url) from exc
        except requests.RequestException as exc:
            raise RegistryError(f"cannot reach registry at {url}: {exc}", url=url) from exc

    def _raw(self, method, url, scope, headers=None, stream=False) -> requests.Response:
        return self._retried(lambda: self._request(method, url, scope, headers, stream), url)

    def _send(self, method, url, scope, headers=None, stream=False) -> requests.Response:
        """Send a request, answering one 401 challenge (new token or Basic) and retrying once.

        A second 401/403 means the credentials or token were refused.
        """
        resp = self._raw(method, url, scope, headers, stream)
        if resp.status_code != 401:
            return resp
        challenge = resp.headers.get("WWW-Authenticate", "")
        resp.close()
        self._authenticate(challenge, scope, url)
        resp = self._raw(method, url, scope, headers, stream)
        if resp.status_code in (401, 403):
            detail = _error_detail(resp)
            resp.close()
            raise RegistryAuthError(
                f"access refused after authenticating (HTTP {resp.status_code}) for {url}: "
                f"{detail}", url=url, status=resp.status_code)
        return resp

    def _authenticate(self, challenge: str, scope: str | None, url: str) -> None:
        scheme, params = parse_challenge(challenge)
        if scheme == "bearer":
            self._tokens[scope] = self._fetch_token(params, scope)
        elif scheme == "basic":
            if self.username is None:
                raise RegistryAuthError(f"{url} needs Basic credentials, none configured",
                                        url=url, status=401)
            if self._basic:
                raise RegistryAuthError(f"Basic credentials of {self.username!r} refused by {url}",
                                        url=url, status=401)
            self._basic = True
        else:
            raise RegistryAuthError(f"{url} answered 401 with an unusable challenge "
                                    f"{challenge!r}", url=url, status=401)

    def _fetch_token(self, params: dict[str, str], scope: str | None) -> _Token:
        """Get a Bearer token from the realm; anonymous unless credentials are configured."""
        realm = params.get("realm")
        if not realm:
            raise RegistryAuthError("Bearer challenge without a realm", url=self.base_url)
        query = {k: v for k, v in (("service", params.get("service")),
                                   ("scope", params.get("scope") or scope)) if v}
        auth = (self.username, self.password or "") if self.username is not None else None
        try:
            resp = self.session.get(realm, params=query, auth=auth, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RegistryError(f"cannot reach token server {realm}: {exc}", url=realm) from exc
        with resp:
            who = f"user {self.username!r}" if auth else "anonymous access"
            if resp.status_code in (401, 403):
                raise RegistryAuthError(
                    f"token server {realm} refused {who} for scope {query.get('scope')!r} "
                    f"(HTTP {resp.status_code})", url=realm, status=resp.status_code)
            if not resp.ok:
                raise RegistryError(f"token server {realm} answered HTTP {resp.status_code}",
                                    url=realm, status=resp.status_code)
            try:
                body = resp.json()
                value = body.get("token") or body.get("access_token")
                ttl = float(body.get("expires_in") or 60)
            except (ValueError, AttributeError, TypeError) as exc:
                raise RegistryAuthError(f"token server {realm} sent no usable token: {exc}",
                                        url=realm) from exc
        if not value:
            raise RegistryAuthError(f"token server {realm} sent no token", url=realm)
        return _Token(value, time.monotonic() + max(ttl - 10.0, 1.0))

    def _check(self, resp: requests.Response, what: str) -> None:
        """Turn an error status into the matching exception (and release the connection)."""
        if resp.ok:
            return
        status, url = resp.status_code, resp.url
        detail = _error_detail(resp)
        resp.close()
        message = f"{what}: HTTP {status} from {url}" + (f" ({detail})" if detail else "")
        if status == 404:
            raise NotFoundError(message, url=url, status=status)
        if status in (401, 403):
            raise RegistryAuthError(message, url=url, status=status)
        raise RegistryError(message, url=url, status=status)

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    # ------------------------------------------------------------------ API

    def ping(self, authenticate: bool = False) -> RegistryInfo:
        """Check that ``base_url`` speaks registry API v2 (``GET /v2/``).

        Args:
            authenticate: also answer an auth challenge, so bad credentials fail here.

        Returns:
            The API version header, the auth scheme asked for, and signature support.

        Raises:
            NotFoundError: no v2 API there.
            RegistryError: another answer, or a wrong ``Docker-Distribution-Api-Version``.
            RegistryAuthError: with ``authenticate``, the credentials were refused.
        """
        url = self._url("/v2/")
        resp = (self._send if authenticate else self._raw)("GET", url, None)
        version = resp.headers.get("Docker-Distribution-Api-Version")
        scheme, _ = parse_challenge(resp.headers.get("WWW-Authenticate", ""))
        if resp.status_code != 401 or authenticate:
            self._check(resp, "registry API v2 check")
        resp.close()
        if version is not None and version.strip() != API_VERSION:
            raise RegistryError(f"{url} reports API version {version!r}, not {API_VERSION}",
                                url=url, status=resp.status_code)
        signatures = resp.headers.get("X-Registry-Supports-Signatures") == "1"
        return RegistryInfo(version, scheme or None, signatures)

    def _paginate(self, url: str, scope: str, key: str, what: str) -> list[str]:
        items: list[str] = []
        seen = set()
        while url and url not in seen:
            seen.add(url)
            resp = self._send("GET", url, scope)
            self._check(resp, what)
            with resp:
                try:
                    items.extend(resp.json().get(key) or [])
                except (ValueError, AttributeError) as exc:
                    raise RegistryError(f"{what}: bad JSON from {url}: {exc}", url=url) from exc
                nxt = resp.links.get("next", {}).get("url")
                url = urljoin(resp.url, nxt) if nxt else None
        return items

    def list_tags(self, name: str, page_size: int | None = None) -> list[str]:
        """List every tag of repository ``name``, following ``Link: <…>; rel="next"``.

        Args:
            name: repository name on the registry, e.g. ``library/busybox``.
            page_size: ``n`` for the first request; None lets the registry choose.

        Returns:
            Tag names in the registry's order.

        Raises:
            NotFoundError: the repository is unknown.
        """
        url = self._url(f"/v2/{name}/tags/list") + (f"?n={page_size}" if page_size else "")
        return self._paginate(url, self.repository_scope(name), "tags", f"tags of {name}")

    def catalog(self, page_size: int | None = None) -> list[str]:
        """List repository names (``GET /v2/_catalog``), following pagination.

        Args:
            page_size: ``n`` for the first request.

        Returns:
            Repository names.
        """
        url = self._url("/v2/_catalog") + (f"?n={page_size}" if page_size else "")
        return self._paginate(url, "registry:catalog:*", "repositories", "catalog")

    def get_manifest(
        self, name: str, reference: str, accept: str = mt.ACCEPT
    ) -> tuple[bytes, str, str]:
        """Fetch a manifest by tag or digest and verify its digest.

        Args:
            name: repository name.
            reference: tag, or ``sha256:<hex>``.
            accept: the ``Accept`` header; :data:`mediatypes.ACCEPT_SCHEMA1` asks registry 2.x
                for the schema 1 conversion, an empty string sends none.

        Returns:
            ``(exact bytes, media type, locally computed digest)``.

        Raises:
            NotFoundError: unknown tag or digest (or a type that ``accept`` excludes).
            DigestMismatchError: the bytes do not match the reference or
                ``Docker-Content-Digest``.
            ManifestError: not a manifest, or bigger than :data:`MAX_MANIFEST_BYTES`.
        """
        url = self._url(f"/v2/{name}/manifests/{quote(reference, safe=':')}")
        headers = {"Accept": accept or None}  # None drops requests' default "*/*"
        resp = self._send("GET", url, self.repository_scope(name), headers, stream=True)
        self._check(resp, f"manifest {name}:{reference}")
        with resp:
            data = self._read_bounded(resp, url)
            content_type = resp.headers.get("Content-Type")
            announced = resp.headers.get("Docker-Content-Digest")
        try:
            doc = json.loads(data)
            media_type = detect_media_type(doc if isinstance(doc, dict) else {}, content_type)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ManifestError(f"manifest at {url} is not JSON: {exc}", url=url) from exc
        digest = compute_digest(data, media_type)
        for expected in (reference if _DIGEST.fullmatch(reference) else None, announced):
            if expected and expected != digest:
                try:
                    verify_digest(data, expected, media_type)
                except DigestMismatchError as exc:
                    raise DigestMismatchError(exc.expected, exc.actual, url=url) from None
        return data, media_type, digest

    @staticmethod
    def _read_bounded(resp: requests.Response, url: str) -> bytes:
        data = bytearray()
        for chunk in resp.iter_content(64 * 1024):
            data += chunk
            if len(data) > MAX_MANIFEST_BYTES:
                raise ManifestError(f"manifest at {url} exceeds {MAX_MANIFEST_BYTES} bytes",
                                    url=url)
        return bytes(data)

    def download_blob(self, name: str, digest: str, dest_path: str | os.PathLike) -> int:
        """Stream a blob to ``dest_path``, verifying its digest on the way.

        Bytes go to a temporary file next to ``dest_path`` and are renamed into place only
        when the digest matches, so ``dest_path`` never holds a partial or wrong blob. A body
        that breaks off mid-transfer is fetched again from the start, under the same retry
        policy as a failed request (``retrying``). Redirects (to object storage) are
        followed; ``Authorization`` is not sent to another host.

        Args:
            name: repository name.
            digest: ``sha256:<hex>`` (sha384/sha512 work too).
            dest_path: final file path; its directory is created if needed.

        Returns:
            The number of bytes written.

        Raises:
            NotFoundError: unknown blob.
            DigestMismatchError: the bytes hash to something else (nothing is left behind).
            RegistryError: the body still broke off on the last try.
        """
        _check_digest_format(digest)
        url = self._url(f"/v2/{name}/blobs/{digest}")
        scope = self.repository_scope(name)
        served_from = [url]  # where the last try's body came from (redirects are followed)

        def open_body() -> requests.Response:
            resp = self._send("GET", url, scope, {"Accept-Encoding": "identity"}, stream=True)
            self._check(resp, f"blob {digest} of {name}")
            served_from[0] = resp.url
            return resp

        try:
            # The exact bytes, undecoded: they are what the digest names.
            _, size = fetch_to_file(open_body, dest_path, url=url, digest=digest,
                                    decode_content=False, retrying=self._retried, pace=self.pace)
        except ContentValidationError as exc:
            actual = f"{digest.partition(':')[0]}:{exc.data['actual']}"
            raise DigestMismatchError(digest, actual, url=served_from[0]) from None
        return size

    def get_signatures(self, name: str, digest: str) -> list[dict]:
        """Fetch atomic signatures through the registry signature extension.

        ``GET /extensions/v2/<name>/signatures/<digest>`` (OpenShift/Quay/Pulp 3 registries).

        Args:
            name: repository name.
            digest: manifest digest.

        Returns:
            The ``signatures`` entries (``{schemaVersion, type, name, content}``); [] on a 404
            or when the registry has none.
        """
        url = self._url(f"/extensions/v2/{name}/signatures/{_check_digest_format(digest)}")
        resp = self._send("GET", url, self.repository_scope(name))
        if resp.status_code == 404:
            resp.close()
            return []
        self._check(resp, f"signatures of {name}@{digest}")
        with resp:
            try:
                return list(resp.json().get("signatures") or [])
            except (ValueError, AttributeError) as exc:
                raise RegistryError(f"signatures at {url}: bad JSON: {exc}", url=url) from exc
