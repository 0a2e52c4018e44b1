"""Atomic (simple signing) signatures of manifests: fetch them from a sigstore lookaside server
or through the registry signature extension API, and turn them into units.

A sigstore holds ``<sigstore>/<name>@sha256=<hex>/signature-1``, ``-2``, … until a 404
(containers/image "lookaside" layout). The extension API is
``GET /extensions/v2/<name>/signatures/<digest>`` → ``{"signatures": [{"content": b64}]}``.
Signatures are opaque here (not verified, like Pulp 3); each is keyed by its manifest digest
and its own sha256, and its bytes are stored as the unit's file.
"""
from __future__ import annotations

import base64
import binascii
from concurrent.futures import ThreadPoolExecutor

import requests

from .errors import RegistryError
from .manifests import sha256_digest
from .types import SIGNATURE

MAX_SIGNATURE_BYTES = 1 << 20
MAX_PER_MANIFEST = 64  # a lookaside answering 200 for every index must not loop forever
SOURCES = ("auto", "sigstore", "extension", "none")


def choose_source(config, client) -> str:
    """``sigstore`` when a sigstore URL is set, ``extension`` when asked or advertised
    (``X-Registry-Supports-Signatures: 1`` on ``GET /v2/``), else ``none``."""
    source = config.get("signature_source") or "auto"
    if source != "auto":
        return source
    if config.get("sigstore"):
        return "sigstore"
    try:
        return "extension" if client.ping().supports_signatures else "none"
    except RegistryError:
        return "none"  # the sync itself already talked to the registry; no signatures then


def sigstore_url(base: str, name: str, digest: str, index: int) -> str:
    return f"{base.rstrip('/')}/{name}@{digest.replace(':', '=', 1)}/signature-{index}"


def _read_bounded(resp, url: str) -> bytes:
    data = bytearray()
    for chunk in resp.iter_content(64 * 1024):
        data += chunk
        if len(data) > MAX_SIGNATURE_BYTES:
            raise RegistryError(f"signature at {url} exceeds {MAX_SIGNATURE_BYTES} bytes", url=url)
    return bytes(data)


def from_sigstore(session, base: str, name: str, digest: str, timeout) -> list[bytes]:
    """Every ``signature-N`` of ``name@digest`` until the first 404."""
    found = []
    for index in range(1, MAX_PER_MANIFEST + 1):
        url = sigstore_url(base, name, digest, index)
        try:
            resp = session.get(url, stream=True, timeout=timeout)
        except requests.RequestException as exc:
            raise RegistryError(f"cannot reach sigstore at {url}: {exc}", url=url) from None
        with resp:
            if resp.status_code == 404:
                return found
            if not resp.ok:
                raise RegistryError(f"sigstore answered HTTP {resp.status_code} for {url}",
                                    url=url, status=resp.status_code)
            found.append(_read_bounded(resp, url))
    raise RegistryError(f"sigstore serves more than {MAX_PER_MANIFEST} signatures for "
                        f"{name}@{digest}")


def from_extension(client, name: str, digest: str) -> list[bytes]:
    """Atomic signatures the registry's extension API lists for ``name@digest``."""
    found = []
    for entry in client.get_signatures(name, digest):
        if not isinstance(entry, dict) or entry.get("type", "atomic") != "atomic":
            continue
        label = entry.get("name")
        if isinstance(label, str) and "@" in label and label.split("@", 1)[0] != digest:
            continue  # another manifest's signature
        try:
            data = base64.b64decode(entry.get("content") or "", validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise RegistryError(f"signature {label!r} of {name}@{digest}: content is not "
                                "base64") from None
        if data and len(data) <= MAX_SIGNATURE_BYTES:
            found.append(data)
    return found


def fetch_all(source: str, client, config, name: str, digests, workers: int) -> dict:
    """``{manifest digest: [signature bytes, ...]}`` for ``digests``; RegistryError on failure."""
    if source == "none":
        return {}
    base, session, timeout = config.get("sigstore"), client.session, client.timeout
    if source == "sigstore" and not base:
        raise RegistryError("signature_source is sigstore but no sigstore URL is configured")

    def fetch(digest):
        if source == "sigstore":
            return digest, from_sigstore(session, base, name, digest, timeout)
        return digest, from_extension(client, name, digest)

    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="docker-sig") as pool:
        return dict(pool.map(fetch, sorted(set(digests))))


def signature_doc(manifest_digest: str, data: bytes, storage_path: str) -> dict:
    """A ``docker_manifest_signature`` unit; ``name`` is the extension API's
    ``<manifest digest>@<id>`` with a stable id."""
    digest = sha256_digest(data)
    return {"manifest_digest": manifest_digest, "digest": digest, "type": "atomic",
            "name": f"{manifest_digest}@{digest[7:39]}", "size": len(data),
            "_storage_path": storage_path}


def save(conduit, found: dict) -> list[str]:
    """Store and save the fetched signatures; returns their unit ids."""
    docs = {}
    for manifest_digest, blobs in found.items():
        for data in blobs:
            digest = sha256_digest(data)
            temp = conduit.storage.temp_path()
            temp.write_bytes(data)
            doc = signature_doc(manifest_digest, data,
                                conduit.store_file(temp, SIGNATURE, digest[7:]))
            docs[(manifest_digest, digest)] = doc
    return conduit.save_units(SIGNATURE, list(docs.values())) if docs else []
