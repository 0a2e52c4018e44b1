"""Unit documents for manifests, lists and tags, and the reference graph between them.

Shared by sync, copy, upload and publish, so the fields Pulp 2 clients read (``fs_layers``,
``config_layer``, ``manifests``, ``amd64_digest``) are built in one place.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import mediatypes as mt
from .manifests import Manifest
from .types import BLOB, MANIFEST, MANIFEST_LIST, SIGNATURE, TAG

MANIFEST_FIELDS = ("digest", "media_type", "schema_version", "fs_layers", "config_layer",
                   "_storage_path")
LIST_FIELDS = ("digest", "media_type", "schema_version", "manifests", "amd64_digest",
               "amd64_schema_version", "_storage_path")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
#: A registry repository name (docker reference grammar), as Pulp 2 validated it (DKR1006).
NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG_FIELDS = ("name", "repo_id", "manifest_digest", "schema_version", "manifest_type")


def manifest_doc(manifest: Manifest, storage_path: str) -> tuple[str, dict]:
    """Return ``(type id, unit dict)`` for a parsed manifest stored at ``storage_path``."""
    base = {"digest": manifest.digest, "media_type": manifest.media_type,
            "schema_version": manifest.schema_version, "size": len(manifest.data),
            "_storage_path": storage_path}
    if manifest.is_list:
        entries = [{"digest": c.digest, "media_type": c.media_type, "size": c.size,
                    "os": c.platform.os if c.platform else None,
                    "arch": c.platform.architecture if c.platform else None,
                    "variant": c.platform.variant if c.platform else None}
                   for c in manifest.children]
        amd64 = next((e for e in entries if (e["os"], e["arch"]) == ("linux", "amd64")), None)
        return MANIFEST_LIST, {
            **base, "manifests": entries,
            "amd64_digest": amd64["digest"] if amd64 else None,
            "amd64_schema_version": (1 if amd64["media_type"] in mt.SCHEMA1 else 2)
            if amd64 else None}
    return MANIFEST, {
        **base,
        "fs_layers": [{"blob_sum": b.digest, "size": b.size, "layer_type": b.media_type}
                      for b in manifest.layers],
        "config_layer": manifest.config.digest if manifest.config else None,
        "config_size": manifest.config.size if manifest.config else None,
    }


def store_manifests(conduit, manifests, graph: "Graph") -> None:
    """Store verified manifests byte-exact, save their units and add them to ``graph``."""
    by_type = {MANIFEST: [], MANIFEST_LIST: []}
    for manifest in manifests:
        temp = conduit.storage.temp_path()
        temp.write_bytes(manifest.data)
        stored = conduit.store_file(temp, MANIFEST_LIST if manifest.is_list else MANIFEST,
                                    manifest.digest[7:])
        type_id, doc = manifest_doc(manifest, stored)
        by_type[type_id].append(doc)
        graph.add(type_id, doc)
    conduit.save_units(MANIFEST, by_type[MANIFEST])
    conduit.save_units(MANIFEST_LIST, by_type[MANIFEST_LIST])


def manifest_blobs(doc: dict) -> list[str]:
    """Blob digests a manifest unit references (config first, each once)."""
    digests = [doc["config_layer"]] if doc.get("config_layer") else []
    digests += [layer["blob_sum"] for layer in doc.get("fs_layers") or ()]
    return list(dict.fromkeys(digests))


def tag_doc(name: str, repo_id: str, target: dict, target_type: str) -> dict:
    """A tag unit pointing at a manifest or list unit."""
    return {"name": name, "repo_id": repo_id, "manifest_digest": target["digest"],
            "schema_version": target.get("schema_version", 2),
            "manifest_type": "list" if target_type == MANIFEST_LIST else "image"}


@dataclass
class Graph:
    """Manifest and list documents by digest, to follow references without queries."""

    lists: dict[str, dict] = field(default_factory=dict)
    manifests: dict[str, dict] = field(default_factory=dict)

    def add(self, type_id: str, doc: dict) -> None:
        (self.lists if type_id == MANIFEST_LIST else self.manifests)[doc["digest"]] = doc

    def closure(self, digests) -> dict[str, set[str]]:
        """Everything reachable from manifest/list ``digests``, by type id.

        Unknown digests are skipped (a list child filtered out by ``platforms``).
        """
        out = {MANIFEST_LIST: set(), MANIFEST: set(), BLOB: set()}
        for digest in digests:
            if digest in self.lists:
                out[MANIFEST_LIST].add(digest)
                children = [e["digest"] for e in self.lists[digest].get("manifests") or ()]
            else:
                children = [digest]
            for child in children:
                if child in self.manifests:
                    out[MANIFEST].add(child)
                    out[BLOB].update(manifest_blobs(self.manifests[child]))
        return out


def merge(*closures: dict[str, set[str]]) -> dict[str, set[str]]:
    """Union of closures, per type id."""
    out: dict[str, set[str]] = {MANIFEST_LIST: set(), MANIFEST: set(), BLOB: set()}
    for closure in closures:
        for type_id, digests in closure.items():
            out[type_id] |= digests
    return out


ALL_TYPES = (BLOB, MANIFEST, MANIFEST_LIST, TAG, SIGNATURE)
