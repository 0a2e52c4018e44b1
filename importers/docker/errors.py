"""Exceptions raised by the container registry client.

Every error names the URL or digest involved, because a sync log line is often the only thing
an operator sees.
"""
from __future__ import annotations


class RegistryError(Exception):
    """A registry request failed; ``status`` and ``url`` say which answer and where."""

    def __init__(self, message: str, url: str | None = None, status: int | None = None):
        super().__init__(message)
        self.url = url
        self.status = status


class RegistryAuthError(RegistryError):
    """Credentials or a token were refused (401/403 after authenticating, or by the realm)."""


class NotFoundError(RegistryError):
    """The repository, tag, manifest or blob does not exist upstream (HTTP 404)."""


class ManifestError(RegistryError):
    """Manifest bytes cannot be parsed or have an unknown shape."""


class DigestMismatchError(RegistryError):
    """Downloaded bytes do not hash to the digest they were requested or announced under."""

    def __init__(self, expected: str, actual: str, url: str | None = None):
        where = f" from {url}" if url else ""
        super().__init__(f"digest mismatch{where}: expected {expected}, got {actual}", url=url)
        self.expected = expected
        self.actual = actual


# -- coded sync failures (task errors; Pulp 2's pulp_docker used the ``DKR`` prefix) ----------

from pulp2ng.plugin import SyncError  # noqa: E402  (the registry client above needs no platform)


class DockerFeedError(SyncError):
    """DKR1101: the importer has no feed or no ``upstream_name``, or the feed is not an http
    or https registry URL (checked at sync, as Pulp 2 did)."""

    code = "DKR1101"


class DockerRegistryError(SyncError):
    """DKR1007: the repository could not be fetched from the registry (tags, manifests,
    refused credentials); Pulp 2's "Could not fetch repository from registry"."""

    code = "DKR1007"


class DockerContentError(SyncError):
    """DKR1102: a manifest or blob failed to download or did not match its digest."""

    code = "DKR1102"


class DockerSignatureError(SyncError):
    """DKR1103: image signatures could not be fetched."""

    code = "DKR1103"
