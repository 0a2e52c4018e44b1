"""Published content: static trees under ``/pulp/<area>/…`` built by distributors.

Distributors declare ``web_areas`` (URL prefix → published area). Files are served with
``Content-Length``, ``ETag``, ``Last-Modified`` and ``Range`` (werkzeug's conditional
responses); a path that would leave its area, even through a symlink, is a 404.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path

from flask import Blueprint, request, send_file
from werkzeug.routing import PathConverter

from pulp2ng.errors import NotFound

JSON_SIMPLE = "application/vnd.pypi.simple.v1+json"


class PublishedPathConverter(PathConverter):
    """A path outside ``/pulp/api/`` and the dashboard's ``/pulp/ui/``: their unknown URLs
    are then 404s for every method, not 405s from this GET-only route."""

    regex = r"(?!(?:api|ui)(?:/|$))[^/].*?"


def make_content_blueprint(platform) -> Blueprint:
    areas: dict[str, Path] = {}
    plugins = platform.plugins
    for cls in [*plugins.distributors.values(), *plugins.group_distributors.values()]:
        for prefix, area in cls.web_areas.items():
            key = prefix.strip("/")
            key = key[len("pulp/"):] if key.startswith("pulp/") else key
            areas[key] = platform.storage.published_root(area)
    blp = Blueprint("content", __name__)

    @blp.record_once
    def add_converter(state):
        state.app.url_map.converters["published"] = PublishedPathConverter

    @blp.route("/pulp/<published:subpath>", methods=["GET", "HEAD"])
    def serve(subpath: str):
        for prefix in sorted(areas, key=len, reverse=True):
            if subpath == prefix or subpath.startswith(prefix + "/"):
                rest = subpath[len(prefix):].lstrip("/")
                return _serve_file(areas[prefix], rest, subpath.endswith("/"))
        raise NotFound(f"Resource not found: {request.path}")

    return blp


#: Dot files a published tree may serve, as its last path segment only (a yum distribution
#: tree's ``.treeinfo``, which installers fetch by that name). Every other dot path (``.versions``,
#: the swap links) stays a 404.
PUBLIC_DOT_FILES = frozenset({".treeinfo"})


def _serve_file(root: Path, rest: str, is_dir_request: bool):
    parts = [p for p in rest.split("/") if p]
    if any(p in (".", "..") or (p.startswith(".") and not (
            i == len(parts) - 1 and p in PUBLIC_DOT_FILES)) for i, p in enumerate(parts)):
        raise NotFound(f"Resource not found: {request.path}")
    path = Path(os.path.realpath(root.joinpath(*parts)))
    if root.resolve() not in path.parents and path != root.resolve():
        raise NotFound(f"Resource not found: {request.path}")
    mimetype = None
    if path.is_dir():
        path, mimetype = _directory_index(path)
    if path is None or not path.is_file():
        raise NotFound(f"Resource not found: {request.path}")
    if mimetype is None:
        mimetype = _stored_mimetype(path.name)
    return send_file(path, mimetype=mimetype, conditional=True, etag=True, max_age=0)


#: Compressed files are served as what they are: with werkzeug's default, a ``.gz`` gets
#: ``Content-Encoding: gzip`` and HTTP clients (requests, browsers, curl --compressed) hand
#: back decompressed bytes that no longer match the checksums in repomd.xml or a manifest.
_COMPRESSED = {"gzip": "application/gzip", "bzip2": "application/x-bzip2",
               "xz": "application/x-xz", "compress": "application/x-compress",
               "br": "application/x-brotli"}


def _stored_mimetype(name: str) -> str | None:
    kind, encoding = mimetypes.guess_type(name)
    if encoding is None:
        return kind
    return _COMPRESSED.get(encoding, "application/octet-stream")


def _directory_index(path: Path):
    """``index.json`` for clients preferring the PEP 691 JSON API, else ``index.html``."""
    best = request.accept_mimetypes.best_match([JSON_SIMPLE, "text/html"], default="text/html")
    if best == JSON_SIMPLE and (path / "index.json").is_file():
        return path / "index.json", JSON_SIMPLE
    if (path / "index.html").is_file():
        return path / "index.html", "text/html"
    if (path / "index.json").is_file():  # e.g. the PyPI JSON API: /pypi/<name>/json
        return path / "index.json", "application/json"
    return None, None
