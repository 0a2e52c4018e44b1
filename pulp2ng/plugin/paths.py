"""Path checks shared by plugins: names from upstreams and clients are never trusted."""

from __future__ import annotations

import posixpath


def safe_relative_path(name: str) -> str | None:
    """Return ``name`` normalised if it is a safe relative path, else None.

    Rejected: empty names, absolute paths, ``..`` segments, backslashes, NUL and control
    characters, and names that normalise to something else (``a//b``, ``./a``).

    Use it on every name that comes from an upstream, an upload or a config before it
    becomes part of a path in storage or a published tree.
    """
    if not isinstance(name, str) or not name or name.startswith("/"):
        return None
    if "\\" in name or any(ord(c) < 32 for c in name):
        return None
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return None
    normalised = posixpath.normpath(name)
    return normalised if normalised == name else None


def check_publish_path(repo, config, config_conduit, key: str = "relative_url"):
    """Validate a distributor's publish path (``key``, default the repository id).

    It must be a safe relative path and must not overlap the path another repository's
    distributor of the same type publishes to. Returns ``(True, None)`` or ``(False, why)``,
    the shape ``validate_config`` returns.

    Call it from ``Distributor.validate_config`` with the ``config_conduit`` it receives.
    """
    value = config.get(key)
    if value is not None and (not isinstance(value, str) or value.startswith("/")
                              or safe_relative_path(value.strip("/")) is None):
        return False, f"{key} must be a relative path without '..'"
    wanted = (value or repo["id"]).strip("/")
    if safe_relative_path(wanted) is None:  # the repository id as default, e.g. ``..``
        return False, f"{key} {wanted!r} is not a safe relative path"
    clash = config_conduit.get_repo_distributors_by_relative_url(key, wanted, repo["id"])
    if clash:
        return False, f"{key} {wanted!r} conflicts with repository {clash[0]['repo_id']}"
    return True, None
