"""Parse container manifests (Docker schema 1/2, lists, OCI) into small immutable records.

Digests are always computed locally from the exact bytes, never trusted from headers: the
bytes are what pulp2ng stores and serves, and clients verify them against the digest.
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field

from . import mediatypes as mt
from .errors import DigestMismatchError, ManifestError

_GENERIC_CONTENT_TYPES = ("", "application/json", "text/plain", "application/octet-stream")


@dataclass(frozen=True)
class Platform:
    """The platform of a manifest-list entry."""

    os: str | None = None
    architecture: str | None = None
    variant: str | None = None

    def matches(self, wanted: str) -> bool:
        """Tell whether ``wanted`` (``os/arch`` or ``os/arch/variant``) selects this platform.

        Args:
            wanted: platform spec; a missing variant matches any variant.

        Returns:
            True if os, architecture and (when given) variant are equal.
        """
        parts = wanted.split("/")
        if len(parts) < 2 or parts[0] != self.os or parts[1] != self.architecture:
            return False
        return len(parts) < 3 or parts[2] == (self.variant or "")

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class ChildRef:
    """A manifest referenced by a manifest list or OCI index."""

    digest: str
    media_type: str | None
    size: int | None
    platform: Platform | None


@dataclass(frozen=True)
class BlobRef:
    """A blob referenced by an image manifest (config or layer)."""

    digest: str
    media_type: str | None
    size: int | None
    urls: tuple[str, ...] = ()

    @property
    def foreign(self) -> bool:
        """Non-distributable layers live at ``urls``, not in the registry."""
        return mt.is_foreign_layer(self.media_type)


@dataclass(frozen=True)
class Manifest:
    """What the importer needs to know about one manifest."""

    media_type: str
    digest: str
    schema_version: int
    data: bytes = field(repr=False)
    children: tuple[ChildRef, ...] = ()
    config: BlobRef | None = None
    layers: tuple[BlobRef, ...] = ()
    fs_layers: tuple[str, ...] = ()

    @property
    def is_list(self) -> bool:
        """True for a manifest list or OCI index."""
        return mt.is_list(self.media_type)

    @property
    def kind(self) -> str:
        """Pulp 2's ``manifest_type``: ``list`` or ``image``."""
        return "list" if self.is_list else "image"

    @property
    def blobs(self) -> tuple[BlobRef, ...]:
        """Config then layers, each digest once (schema 1 repeats empty layers)."""
        seen: dict[str, BlobRef] = {}
        for blob in ((self.config,) if self.config else ()) + self.layers:
            seen.setdefault(blob.digest, blob)
        return tuple(seen.values())

    @property
    def foreign_layers(self) -> tuple[BlobRef, ...]:
        """Layers that must be fetched from their ``urls`` rather than the registry."""
        return tuple(b for b in self.layers if b.foreign)


def _b64url_decode(text: str) -> bytes:
    """Decode base64url that had its ``=`` padding stripped, as JWS does."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def schema1_payload(data: bytes) -> bytes:
    """Return the signed bytes of a schema 1 manifest (what its digest is computed over).

    A JWS-signed schema 1 manifest embeds a ``signatures`` block; each signature's
    ``protected`` header records ``formatLength`` (bytes of the original JSON kept before the
    block) and ``formatTail`` (base64url of the bytes that close the JSON after it).

    Args:
        data: the manifest bytes as served.

    Returns:
        The payload without signatures, or ``data`` unchanged when it is not signed.

    Raises:
        ManifestError: the protected header is malformed.
    """
    doc = _load_json(data)
    signatures = doc.get("signatures") if isinstance(doc, dict) else None
    if not signatures:
        return data
    try:
        protected = json.loads(_b64url_decode(signatures[0]["protected"]))
        length = int(protected["formatLength"])
        tail = _b64url_decode(protected["formatTail"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ManifestError(f"bad JWS protected header in schema 1 manifest: {exc}") from exc
    if not 0 < length <= len(data):
        raise ManifestError(f"schema 1 formatLength {length} outside the {len(data)} bytes")
    return data[:length] + tail


def _load_json(data: bytes):
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"manifest is not JSON: {exc}") from exc


def sha256_digest(data: bytes) -> str:
    """Return ``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def compute_digest(data: bytes, media_type: str | None = None) -> str:
    """Compute a manifest digest the way registries do.

    Args:
        data: exact manifest bytes.
        media_type: its media type (detected from ``data`` when None); signed schema 1 is
            hashed without its signatures.

    Returns:
        ``sha256:<hex>``.
    """
    if media_type is None:
        doc = _load_json(data)
        media_type = detect_media_type(doc) if isinstance(doc, dict) else None
    return sha256_digest(schema1_payload(data) if media_type in mt.SCHEMA1 else data)


def verify_digest(data: bytes, expected: str, media_type: str | None = None) -> str:
    """Check that ``data`` hashes to ``expected``.

    Args:
        data: exact bytes (a manifest or a small blob).
        expected: ``<algorithm>:<hex>``; sha256, sha384 and sha512 are understood.
        media_type: set for manifests so signed schema 1 is hashed over its payload.

    Returns:
        ``expected``, for chaining.

    Raises:
        DigestMismatchError: the bytes hash to something else.
    """
    algorithm, _, _ = expected.partition(":")
    if algorithm not in ("sha256", "sha384", "sha512"):
        raise DigestMismatchError(expected, f"unsupported algorithm {algorithm!r}")
    payload = schema1_payload(data) if media_type in mt.SCHEMA1 else data
    actual = f"{algorithm}:{hashlib.new(algorithm, payload).hexdigest()}"
    if actual != expected:
        raise DigestMismatchError(expected, actual)
    return expected


def detect_media_type(doc: dict, content_type: str | None = None) -> str:
    """Pick the media type: the body's ``mediaType``, else Content-Type, else by shape.

    Args:
        doc: the decoded manifest JSON.
        content_type: the HTTP Content-Type, parameters allowed.

    Returns:
        One of the manifest media types in :mod:`mediatypes`.

    Raises:
        ManifestError: the shape matches no known manifest kind.
    """
    if isinstance(doc.get("mediaType"), str) and doc["mediaType"]:
        return doc["mediaType"]
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype not in _GENERIC_CONTENT_TYPES:
        return ctype
    version = doc.get("schemaVersion")
    if version == 1:
        return mt.DOCKER_MANIFEST_V1_SIGNED if doc.get("signatures") else mt.DOCKER_MANIFEST_V1
    if version == 2 and "manifests" in doc:
        return mt.OCI_INDEX  # mediaType is optional only in OCI documents
    if version == 2 and "config" in doc:
        return mt.OCI_MANIFEST
    raise ManifestError(f"cannot tell the manifest type (schemaVersion={version!r})")


def _blob(desc: dict) -> BlobRef:
    try:
        return BlobRef(
            digest=desc["digest"],
            media_type=desc.get("mediaType"),
            size=desc.get("size"),
            urls=tuple(desc.get("urls") or ()),
        )
    except (KeyError, TypeError) as exc:
        raise ManifestError(f"descriptor without a digest: {desc!r}") from exc


def _child(desc: dict) -> ChildRef:
    plat = desc.get("platform") or None
    platform = None
    if isinstance(plat, dict):
        platform = Platform(plat.get("os"), plat.get("architecture"), plat.get("variant"))
    if not isinstance(desc.get("digest"), str):
        raise ManifestError(f"list entry without a digest: {desc!r}")
    return ChildRef(desc["digest"], desc.get("mediaType"), desc.get("size"), platform)


def _schema1_fields(doc: dict) -> dict:
    sums = tuple(layer["blobSum"] for layer in doc.get("fsLayers") or () if "blobSum" in layer)
    if not sums:
        raise ManifestError("schema 1 manifest without fsLayers")
    # fsLayers lists the top layer first; layers is base-first like schema 2.
    layers = tuple(BlobRef(s, mt.DOCKER_LAYER, None) for s in reversed(sums))
    return {"fs_layers": sums, "layers": layers}


def _schema2_fields(doc: dict, media_type: str) -> dict:
    if mt.is_list(media_type):
        return {"children": tuple(_child(d) for d in doc.get("manifests") or ())}
    if not isinstance(doc.get("config"), dict):
        raise ManifestError(f"{media_type} manifest without a config descriptor")
    return {
        "config": _blob(doc["config"]),
        "layers": tuple(_blob(d) for d in doc.get("layers") or ()),
    }


def parse_manifest(data: bytes, content_type: str | None = None) -> Manifest:
    """Parse manifest bytes.

    Args:
        data: exact bytes as served by the registry.
        content_type: the HTTP Content-Type, used when the body has no ``mediaType``.

    Returns:
        A :class:`Manifest` whose digest is computed from ``data``.

    Raises:
        ManifestError: not JSON or not a known manifest shape.
    """
    doc = _load_json(data)
    if not isinstance(doc, dict):
        raise ManifestError("manifest JSON is not an object")
    media_type = detect_media_type(doc, content_type)
    version = doc.get("schemaVersion")
    if media_type in mt.SCHEMA1 or version == 1:
        fields = _schema1_fields(doc)
    else:
        fields = _schema2_fields(doc, media_type)
    return Manifest(
        media_type=media_type,
        digest=compute_digest(data, media_type),
        schema_version=version if isinstance(version, int) else 0,
        data=data,
        **fields,
    )
