"""Tag selection for a sync: Pulp 2 ``tags`` plus Pulp 3 style include/exclude wildcards."""
from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Iterable

COSIGN_SUFFIXES = ("sig", "att", "sbom")
_SIGNATURE_TAG = re.compile(r"sha256-[0-9a-f]{64}\.(?:sig|att|sbom)")


def _matches_any(tag: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(tag, pattern) for pattern in patterns)


def filter_tags(
    tags: Iterable[str],
    tags_exact: Iterable[str] | None = None,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
) -> list[str]:
    """Select the upstream tags to sync.

    A tag is kept when it is named in ``tags_exact`` (Pulp 2 ``tags``) or matches an
    ``include`` pattern; with neither given every tag is kept. ``exclude`` patterns are applied
    afterwards and always win. Patterns use ``*`` and ``?`` with case-sensitive
    :func:`fnmatch.fnmatchcase` semantics (``[...]`` classes work too).

    Args:
        tags: upstream tag names, e.g. from ``tags/list``.
        tags_exact: exact names to keep; names absent upstream are ignored.
        include: wildcard patterns to keep.
        exclude: wildcard patterns to drop.

    Returns:
        The kept tags, upstream order, each once.
    """
    exact = set(tags_exact or ())
    include = list(include or ())
    exclude = list(exclude or ())
    select_all = not exact and not include
    kept: dict[str, None] = {}
    for tag in tags:
        if not (select_all or tag in exact or _matches_any(tag, include)):
            continue
        if not _matches_any(tag, exclude):
            kept.setdefault(tag)
    return list(kept)


def is_signature_tag(tag: str) -> bool:
    """Tell whether ``tag`` is a cosign companion (``sha256-<hex>.sig``, ``.att``, ``.sbom``).

    Args:
        tag: a tag name.

    Returns:
        True for cosign signature, attestation and SBOM tags.
    """
    return _SIGNATURE_TAG.fullmatch(tag) is not None


def companion_tags(manifest_digest: str) -> list[str]:
    """Return the cosign companion tag names that would point at ``manifest_digest``.

    Args:
        manifest_digest: ``sha256:<hex>`` of a manifest or index.

    Returns:
        ``sha256-<hex>.sig``, ``.att`` and ``.sbom``; empty for non-sha256 digests.
    """
    algorithm, _, hexdigest = manifest_digest.partition(":")
    if algorithm != "sha256" or not hexdigest:
        return []
    return [f"sha256-{hexdigest}.{suffix}" for suffix in COSIGN_SUFFIXES]


def filter_kwargs_from_config(config: dict) -> dict:
    """Map importer config keys onto :func:`filter_tags` keyword arguments.

    Args:
        config: importer config with Pulp 2 ``tags`` and/or ``include_tags``/``exclude_tags``
            (lists, or CSV strings as the Pulp 2 CLI accepted).

    Returns:
        ``{"tags_exact": ..., "include": ..., "exclude": ...}`` with lists or None.
    """
    def as_list(value):
        if value is None or value == "":
            return None
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return list(value)

    return {
        "tags_exact": as_list(config.get("tags")),
        "include": as_list(config.get("include_tags")),
        "exclude": as_list(config.get("exclude_tags")),
    }
