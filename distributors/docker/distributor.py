"""``docker_distributor_web``: publish a repository as a read-only registry (``/v2/<name>``).

A publish writes ``published/docker/<quoted registry id>/`` atomically: ``blobs/<digest>``,
``manifests/<digest>`` and ``signatures/<digest>`` as hard links to content storage, and
``index.json`` (tags, manifest media types, default list children, signatures per manifest),
written last. The registry API in :mod:`.app` serves those trees, and :mod:`.extensions` the
signature extension API and a sigstore (lookaside) view of them; the registry id is quoted into
one path component so names with ``/`` never nest.
"""
from __future__ import annotations

import json
from urllib.parse import quote, urlsplit

from pulp2ng.importers.docker.types import BLOB, MANIFEST, MANIFEST_LIST, SIGNATURE, TAG
from pulp2ng.importers.docker.units import NAME
from pulp2ng.plugin import Distributor, PublishReport, consumer_payload_base

from .app import AREA, INDEX, make_app
from .extensions import SIGSTORE_PREFIX, make_extensions_app, make_sigstore_app

KEY = "repo-registry-id"


def registry_id(repo, config) -> str:
    return config.get(KEY) or repo["id"]


def tree_name(name: str) -> str:
    """The directory of a registry name under ``published/docker``."""
    return quote(name, safe="")


class DockerDistributor(Distributor):
    web_apps = {"/v2": make_app, "/extensions/v2": make_extensions_app,
                SIGSTORE_PREFIX: make_sigstore_app}
    default_config = {"protected": False}
    config_keys = (KEY,)

    @classmethod
    def metadata(cls):
        return {"id": "docker_distributor_web", "display_name": "Docker Web Distributor",
                "types": [BLOB, MANIFEST, MANIFEST_LIST, TAG, SIGNATURE]}

    def validate_config(self, repo, config, config_conduit):
        name = registry_id(repo, config)
        if not isinstance(name, str) or len(name) > 255 or not NAME.fullmatch(name):
            what = KEY if config.get(KEY) else f"the repository id (no {KEY} given)"
            return False, (f"{what} {name!r} is not a valid registry name: lower-case "
                           "components separated by '.', '_', '__' or '-', joined by '/'")
        try:
            config.get_boolean("protected")
        except ValueError as exc:
            return False, str(exc)
        clashes = config_conduit.get_repo_distributors_by_relative_url(KEY, name, repo["id"])
        for dist in clashes:
            if ((dist.get("config") or {}).get(KEY) or dist["repo_id"]) == name:
                return False, f"{KEY} {name!r} is already used by repository {dist['repo_id']}"
        return True, None

    def publish_location(self, repo, config):
        return AREA, tree_name(registry_id(repo, config))

    def create_consumer_payload(self, repo, config, binding_config, server):
        """``registry`` (``host:port`` of pulp2ng's registry API, served beside the REST API),
        ``repository`` (the name clients pull), ``pull_spec`` (``registry/repository``),
        ``url`` (the repository's ``/v2/<name>/`` root) and ``protected``: a protected
        repository refuses anonymous pulls, and ``credentials`` is still None because
        pulp2ng issues no consumer registry credentials yet. ``tls`` false means a plain-HTTP
        registry, which clients must be told is ``insecure``."""
        name = registry_id(repo, config)
        payload = consumer_payload_base(server, binding_config, name)
        registry = urlsplit(payload["server_url"]).netloc.rsplit("@", 1)[-1]
        return {**payload, "registry": registry, "repository": name,
                "pull_spec": f"{registry}/{name}",
                "url": f"{payload['server_url']}/v2/{name}/",
                "protected": bool(config.get_boolean("protected"))}

    def publish_repo(self, repo, conduit, config):
        progress = {"state": "in_progress", "error_message": None}
        conduit.set_progress(progress, force=True)
        name = registry_id(repo, config)
        lists = list(conduit.repo_units(MANIFEST_LIST, ["digest", "media_type", "manifests",
                                                        "_storage_path"]))
        manifests = list(conduit.repo_units(MANIFEST, ["digest", "media_type", "_storage_path"]))
        blobs = list(conduit.repo_units(BLOB, ["digest", "_storage_path"]))
        tags = sorted(conduit.repo_units(TAG, ["name", "manifest_digest"]),
                      key=lambda t: (t["name"], t["_id"]))
        present = {m["digest"] for m in manifests}
        index = {"name": name, "protected": bool(config.get_boolean("protected")),
                 "tags": {t["name"]: t["manifest_digest"] for t in tags}, "manifests": {}}
        with conduit.publish_dir(AREA, tree_name(name)) as tree:
            for i, unit in enumerate(manifests + lists):
                if i % 500 == 0:
                    conduit.check_canceled()
                conduit.link_file(unit["_storage_path"], tree / "manifests" / unit["digest"])
                index["manifests"][unit["digest"]] = {
                    "media_type": unit["media_type"],
                    "default_child": _default_child(unit.get("manifests"), present)}
            for i, unit in enumerate(blobs):
                if i % 500 == 0:
                    conduit.check_canceled()
                conduit.link_file(unit["_storage_path"], tree / "blobs" / unit["digest"])
            index["signatures"] = _link_signatures(conduit, tree, index["manifests"])
            index["tags"] = {t: d for t, d in index["tags"].items() if d in index["manifests"]}
            (tree / INDEX).write_text(json.dumps(index, sort_keys=True))
        progress["state"] = "complete"
        conduit.set_progress(progress, force=True)
        return PublishReport(True, summary={"tags": len(index["tags"]),
                                            "manifests": len(index["manifests"]),
                                            "blobs": len(blobs),
                                            "signatures": sum(map(len, index["signatures"]
                                                                  .values()))})


def _link_signatures(conduit, tree, manifests: dict) -> dict[str, list[str]]:
    """Link the signatures of published manifests; ``{manifest digest: [digest, ...]}``."""
    out: dict[str, list[str]] = {}
    units = sorted(conduit.repo_units(SIGNATURE, ["manifest_digest", "digest", "_storage_path"]),
                   key=lambda u: (u["manifest_digest"], u["digest"]))
    for unit in units:
        if unit["manifest_digest"] in manifests:
            conduit.link_file(unit["_storage_path"], tree / "signatures" / unit["digest"])
            out.setdefault(unit["manifest_digest"], []).append(unit["digest"])
    return out


def _default_child(entries, present: set[str]) -> str | None:
    """The linux/amd64 image of a list (Pulp 2's ``amd64_digest``), if it was synced."""
    for entry in entries or ():
        if (entry.get("os"), entry.get("arch")) == ("linux", "amd64") and \
                entry["digest"] in present:
            return entry["digest"]
    return None
