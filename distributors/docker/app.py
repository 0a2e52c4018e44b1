"""The read-only registry API v2 over published trees, mounted at ``/v2`` (no auth, like crane).

Inside the app ``PATH_INFO`` is relative to ``/v2``. A repository name is everything before the
last ``/tags/list``, ``/manifests/<ref>`` or ``/blobs/<digest>``, so names may contain ``/``.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import quote, unquote

from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

from pulp2ng.importers.docker.units import NAME

from . import negotiation

AREA = "docker"
INDEX = "index.json"
API_HEADERS = {"Docker-Distribution-API-Version": "registry/2.0"}
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
TAG = re.compile(r"[\w][\w.-]{0,127}")
ROUTE = re.compile(r"/(?P<name>.+)/(?:(?P<tags>tags/list)|manifests/(?P<ref>[^/]+)"
                   r"|blobs/(?P<digest>[^/]+))")


def _error(code: str, message: str | None = None, detail=None) -> Response:
    status, body, headers = negotiation.error_response(code, message, detail)
    return Response(body, status=status, headers=headers)


def _json(doc: dict, link: str | None = None) -> Response:
    response = Response(json.dumps(doc), content_type="application/json", headers=API_HEADERS)
    if link:
        response.headers["Link"] = link
    return response


class RegistryApp:
    """WSGI app answering GET/HEAD of the registry API from ``published/docker``."""

    #: Headers that every response carries unless :meth:`dispatch` set them itself.
    default_headers: dict[str, str] = API_HEADERS

    def __init__(self, storage):
        self.root = Path(storage.published_root(AREA))
        self._indexes: dict[str, tuple[str, dict]] = {}

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.method not in ("GET", "HEAD"):
            response = _error("UNSUPPORTED")
        else:
            response = self.dispatch(request)
        for header, value in self.default_headers.items():
            response.headers.setdefault(header, value)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path in ("", "/"):
            response = _json({})
            response.headers["X-Registry-Supports-Signatures"] = "1"
            return response
        try:
            if path.rstrip("/") == "/_catalog":
                return self.catalog(request)
            match = ROUTE.fullmatch(path)
            if not match:
                return _error("NAME_UNKNOWN", detail={"path": path})
            tree, index = self._load(match["name"])
            if index is None:
                return _error("NAME_UNKNOWN", detail={"name": match["name"]})
            if match["tags"]:
                body, link = negotiation.tags_page(match["name"], index["tags"],
                                                   request.args.get("n"),
                                                   request.args.get("last"))
                return _json(body, link)
            if match["ref"]:
                return self.manifest(request, tree, index, match["ref"])
            return self.blob(request, tree, match["digest"])
        except ValueError as exc:  # bad ``n``
            return Response(json.dumps({"errors": [{"code": "PAGINATION_NUMBER_INVALID",
                                                    "message": str(exc)}]}),
                            status=400, content_type="application/json")

    # -- trees ----------------------------------------------------------------------------

    def _load(self, name: str) -> tuple[Path | None, dict | None]:
        """The published tree and index of ``name``; None for unknown or protected names."""
        if not NAME.fullmatch(name):
            return None, None
        link = self.root / quote(name, safe="")
        try:
            target = os.path.realpath(link)
            cached = self._indexes.get(name)
            if cached and cached[0] == target:
                index = cached[1]
            else:
                index = json.loads((Path(target) / INDEX).read_text())
                self._indexes[name] = (target, index)
        except (OSError, ValueError):
            return None, None
        if index.get("protected"):
            return None, None  # no entitlement certificates here: hide it as crane did (404)
        return Path(target), index

    def catalog(self, request: Request) -> Response:
        names = []
        for entry in os.listdir(self.root):
            if entry.startswith("."):
                continue
            name = unquote(entry)
            if self._load(name)[1] is not None:
                names.append(name)
        body, link = negotiation.catalog_page(names, request.args.get("n"),
                                              request.args.get("last"))
        return _json(body, link)

    # -- content --------------------------------------------------------------------------

    def manifest(self, request: Request, tree: Path, index: dict, ref: str) -> Response:
        by_digest = DIGEST.fullmatch(ref) is not None
        digest = ref if by_digest else index["tags"].get(ref)
        info = index["manifests"].get(digest) if digest else None
        if info is None:
            return _error("MANIFEST_UNKNOWN", detail={"Tag" if not by_digest else "Digest": ref})
        is_list = info.get("default_child") is not None or info["media_type"] in (
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.oci.image.index.v1+json")
        choice = negotiation.choose_manifest(request.headers.getlist("Accept"),
                                             info["media_type"], is_list,
                                             None if by_digest else info.get("default_child"))
        if choice.action == negotiation.SERVE_CHILD:
            digest = choice.child
            info = index["manifests"][digest]
        elif choice.action == negotiation.NOT_ACCEPTABLE:
            return _error("MANIFEST_UNKNOWN", "manifest type not accepted by the client",
                          {"Reference": ref, "MediaType": info["media_type"]})
        data = (tree / "manifests" / digest).read_bytes()
        return Response(data, content_type=info["media_type"],
                        headers={"Docker-Content-Digest": digest, "ETag": f'"{digest}"',
                                 "Content-Length": str(len(data))})

    def blob(self, request: Request, tree: Path, digest: str) -> Response:
        path = tree / "blobs" / digest
        if not DIGEST.fullmatch(digest) or not path.is_file():
            return _error("BLOB_UNKNOWN", detail={"Digest": digest})
        response = send_file(str(path), request.environ, mimetype="application/octet-stream",
                             conditional=True, etag=digest, max_age=31536000)
        response.headers["Docker-Content-Digest"] = digest
        return response


def make_app(storage) -> RegistryApp:
    """The ``web_apps`` factory."""
    return RegistryApp(storage)
