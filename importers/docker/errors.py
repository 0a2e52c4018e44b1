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
