"""Signatures of published repositories, read from the trees :mod:`.app` serves.

* ``/extensions/v2/<name>/signatures/<digest>``: the registry signature extension API
  (OpenShift, Quay, Pulp 3) that containers/image queries when ``GET /v2/`` answers
  ``X-Registry-Supports-Signatures: 1``;
* ``/pulp/docker-sigstore/<name>@sha256=<hex>/signature-<n>``: the same signatures laid out as
  a sigstore (lookaside) server, usable as another importer's ``sigstore`` or as a client's
  ``lookaside`` URL.
"""
from __future__ import annotations

import base64
import json
import re

from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

from .app import DIGEST, RegistryApp, _error

SIGSTORE_PREFIX = "/pulp/docker-sigstore"
EXTENSION_ROUTE = re.compile(r"/(?P<name>.+)/signatures/(?P<digest>[^/]+)")
SIGSTORE_ROUTE = re.compile(
    r"/(?P<name>.+)@sha256=(?P<hex>[0-9a-f]{64})/signature-(?P<n>[1-9][0-9]{0,3})")


class _SignatureApp(RegistryApp):
    """Shares the published trees (and their index cache) with the registry API, and its
    GET/HEAD-only ``__call__``; these answers are no registry API's, so bear none of its headers."""

    default_headers: dict[str, str] = {}

    def _signatures(self, name: str, digest: str):
        tree, index = self._load(name)
        if index is None:
            return None, None
        return tree, (index.get("signatures") or {}).get(digest, [])


class ExtensionsApp(_SignatureApp):
    def dispatch(self, request: Request) -> Response:
        match = EXTENSION_ROUTE.fullmatch(request.path)
        if not match or not DIGEST.fullmatch(match["digest"]):
            return _error("NAME_UNKNOWN", detail={"path": request.path})
        digest = match["digest"]
        tree, found = self._signatures(match["name"], digest)
        if tree is None:
            return _error("NAME_UNKNOWN", detail={"name": match["name"]})
        entries = []
        for sig in found:
            content = (tree / "signatures" / sig).read_bytes()
            # containers/image reads ``schemaVersion``; ``version`` for older readers.
            entries.append({"schemaVersion": 2, "version": 2, "type": "atomic",
                            "name": f"{digest}@{sig[7:39]}",
                            "content": base64.b64encode(content).decode()})
        return Response(json.dumps({"signatures": entries}), content_type="application/json")


class SigstoreApp(_SignatureApp):
    def dispatch(self, request: Request) -> Response:
        match = SIGSTORE_ROUTE.fullmatch(request.path)
        tree, found = self._signatures(match["name"], f"sha256:{match['hex']}") if match else \
            (None, None)
        if not found or int(match["n"]) > len(found):
            return _error("NAME_UNKNOWN", "no such signature", {"path": request.path})
        path = tree / "signatures" / found[int(match["n"]) - 1]
        return send_file(str(path), request.environ, mimetype="application/octet-stream",
                         conditional=True)


def make_extensions_app(storage) -> ExtensionsApp:
    return ExtensionsApp(storage)


def make_sigstore_app(storage) -> SigstoreApp:
    return SigstoreApp(storage)
