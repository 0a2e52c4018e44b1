"""Pure helpers for the read-only registry API (``/v2/``) that pulp2ng serves.

No web framework here: views pass header values and stored facts in, and get back what to
serve, error bodies and pagination ``Link`` headers, following Docker distribution's behaviour.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import quote

SERVE_STORED = "stored"
SERVE_CHILD = "child"
NOT_ACCEPTABLE = "not_acceptable"

# Media types a client must name explicitly to get them; old clients cannot handle them.
_EXPLICIT_ONLY = frozenset({
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
})

ERRORS = {
    "MANIFEST_UNKNOWN": (404, "manifest unknown"),
    "BLOB_UNKNOWN": (404, "blob unknown to registry"),
    "NAME_UNKNOWN": (404, "repository name not known to registry"),
    "UNAUTHORIZED": (401, "authentication required"),
    "UNSUPPORTED": (405, "The operation is unsupported."),
}


@dataclass(frozen=True)
class ManifestChoice:
    """What to answer a manifest GET with: the stored manifest, ``child``, or a 404."""

    action: str
    child: Any = None


def parse_accept(accept_header_values: str | Iterable[str] | None) -> list[str]:
    """Flatten ``Accept`` header values into media types (parameters dropped, ``q=0`` skipped).

    Args:
        accept_header_values: one header value, several (repeated headers), or None.

    Returns:
        Lower-case media types in the order given.
    """
    if accept_header_values is None:
        return []
    if isinstance(accept_header_values, str):
        accept_header_values = [accept_header_values]
    types = []
    for value in accept_header_values:
        for item in value.split(","):
            media_type, *params = (p.strip() for p in item.split(";"))
            if media_type and not any(p.replace(" ", "") in ("q=0", "q=0.0") for p in params):
                types.append(media_type.lower())
    return types


def accepts(accepted: list[str], media_type: str) -> bool:
    """Tell whether a client accepting ``accepted`` may be sent ``media_type``.

    Lists, indexes and OCI manifests need an exact entry (as in Docker distribution: ``*/*``
    comes from clients that cannot read them); other types are served to anyone.

    Args:
        accepted: output of :func:`parse_accept`.
        media_type: the type of the candidate manifest.

    Returns:
        True if it may be served.
    """
    return media_type not in _EXPLICIT_ONLY or media_type.lower() in accepted


def choose_manifest(
    accept_header_values: str | Iterable[str] | None,
    stored_manifest_media_type: str,
    is_list: bool,
    default_child: Any = None,
) -> ManifestChoice:
    """Decide which manifest answers a ``GET /v2/<name>/manifests/<ref>``.

    A list goes to clients naming its type; others get ``default_child`` (the linux/amd64
    image, Pulp 2's ``amd64_digest``) unconverted. An OCI manifest goes only to clients naming
    the OCI type. A request by digest should not be redirected to a child: pass None then.

    Args:
        accept_header_values: the request's ``Accept`` header value(s).
        stored_manifest_media_type: media type of the stored manifest or list.
        is_list: whether the stored manifest is a list or index.
        default_child: what to serve instead of a list (any object), or None.

    Returns:
        A :class:`ManifestChoice`; ``NOT_ACCEPTABLE`` maps to 404 MANIFEST_UNKNOWN.
    """
    accepted = parse_accept(accept_header_values)
    if accepts(accepted, stored_manifest_media_type):
        return ManifestChoice(SERVE_STORED)
    if is_list and default_child is not None:
        return ManifestChoice(SERVE_CHILD, default_child)
    return ManifestChoice(NOT_ACCEPTABLE)


def error_body(code: str, message: str | None = None, detail: Any = None) -> dict:
    """Build a registry error document ``{"errors": [{"code", "message", "detail"}]}``.

    Args:
        code: one of :data:`ERRORS`.
        message: human text; the standard one for ``code`` when None.
        detail: extra JSON-serialisable detail (e.g. ``{"Tag": "v1"}``).

    Returns:
        The error document.
    """
    if code not in ERRORS:
        raise ValueError(f"unknown registry error code {code!r}")
    entry = {"code": code, "message": message or ERRORS[code][1]}
    if detail is not None:
        entry["detail"] = detail
    return {"errors": [entry]}


def error_response(
    code: str, message: str | None = None, detail: Any = None
) -> tuple[int, bytes, dict[str, str]]:
    """Build a complete error answer for a view to send.

    Args:
        code: one of :data:`ERRORS`.
        message: human text.
        detail: extra detail.

    Returns:
        ``(HTTP status, JSON body bytes, headers)``.
    """
    body = json.dumps(error_body(code, message, detail)).encode()
    headers = {"Content-Type": "application/json",
               "Docker-Distribution-Api-Version": "registry/2.0"}
    return ERRORS[code][0], body, headers


def _page_size(n: int | str | None) -> int | None:
    if n is None or n == "":
        return None
    try:
        size = int(n)
    except (TypeError, ValueError):
        raise ValueError(f"invalid page size n={n!r}") from None
    if size < 0:
        raise ValueError(f"invalid page size n={n!r}")
    return size


def paginate(
    items: Iterable[str], n: int | str | None = None, last: str | None = None
) -> tuple[list[str], bool]:
    """Take one page of names in lexical order, after ``last``, at most ``n``.

    Args:
        items: all names (any order, duplicates allowed).
        n: page size from the query string; None means everything.
        last: the last name of the previous page.

    Returns:
        ``(page, more)`` where ``more`` says names remain after the page.

    Raises:
        ValueError: ``n`` is not a non-negative integer (answer 400 PAGINATION_NUMBER_INVALID).
    """
    size = _page_size(n)
    names = sorted(set(items))
    if last:
        names = [name for name in names if name > last]
    if size is None:
        return names, False
    return names[:size], len(names) > size


def _link(path: str, n: int | str | None, page: list[str], more: bool) -> str | None:
    if not more or not page:
        return None
    return f'<{path}?last={quote(page[-1], safe="")}&n={_page_size(n)}>; rel="next"'


def tags_page(
    name: str, tags: Iterable[str], n: int | str | None = None, last: str | None = None
) -> tuple[dict, str | None]:
    """Answer ``GET /v2/<name>/tags/list?n=&last=``.

    Args:
        name: repository name as the client addressed it.
        tags: every tag of the repository.
        n: page size.
        last: last tag of the previous page.

    Returns:
        ``({"name", "tags"}, Link header value or None)``.
    """
    page, more = paginate(tags, n, last)
    return {"name": name, "tags": page}, _link(f"/v2/{name}/tags/list", n, page, more)


def catalog_page(
    repositories: Iterable[str], n: int | str | None = None, last: str | None = None
) -> tuple[dict, str | None]:
    """Answer ``GET /v2/_catalog?n=&last=``.

    Args:
        repositories: every repository name served.
        n: page size.
        last: last name of the previous page.

    Returns:
        ``({"repositories"}, Link header value or None)``.
    """
    page, more = paginate(repositories, n, last)
    return {"repositories": page}, _link("/v2/_catalog", n, page, more)
