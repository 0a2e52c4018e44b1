"""``iso_distributor``: publishes a repository's files and a PULP_MANIFEST atomically.

Published at ``/pulp/isos/<relative_url>/`` (``relative_url`` defaults to the repository id).
Files are hard links to content storage, so a publish copies no bytes.
"""

from __future__ import annotations

from pulp2ng.importers.iso.manifest import MANIFEST, Entry, write_manifest
from pulp2ng.plugin import (
    Distributor,
    PublishReport,
    check_publish_path,
    consumer_payload_base,
    safe_relative_path,
)

AREA = "isos"


def relative_url(repo, config) -> str:
    return (config.get("relative_url") or repo["id"]).strip("/")


class IsoDistributor(Distributor):
    web_areas = {"/pulp/isos/": AREA}
    default_config = {"manifest_name": MANIFEST}
    config_keys = ("relative_url",)

    @classmethod
    def metadata(cls):
        return {"id": "iso_distributor", "display_name": "ISO Distributor", "types": ["iso"]}

    def validate_config(self, repo, config, config_conduit):
        ok, why = check_publish_path(repo, config, config_conduit, "relative_url")
        if not ok:
            return ok, why
        if safe_relative_path(config.get("manifest_name")) is None:
            return False, "manifest_name must be a relative file name"
        return True, None

    def publish_location(self, repo, config):
        return AREA, relative_url(repo, config)

    def publish_repo(self, repo, conduit, config):
        progress = {"state": "in_progress", "error_message": None, "traceback": None}
        conduit.set_progress(progress, force=True)
        units = sorted(conduit.repo_units("iso", ["name", "checksum", "size", "_storage_path"]),
                       key=lambda u: u["name"])
        with conduit.publish_dir(AREA, relative_url(repo, config)) as tree:
            for i, unit in enumerate(units):
                if i % 500 == 0:
                    conduit.check_canceled()
                conduit.link_file(unit["_storage_path"], tree / unit["name"])
            write_manifest(tree / config.get("manifest_name"),
                           (Entry(u["name"], u["checksum"], u["size"]) for u in units))
        progress["state"] = "complete"
        conduit.set_progress(progress, force=True)
        return PublishReport(True, summary={"num_units": len(units)})

    def create_consumer_payload(self, repo, config, binding_config, server):
        """``url`` (the published tree, ending in ``/``), ``manifest_url`` and
        ``manifest_name``: a consumer reads the manifest to learn names, sizes and
        checksums, then fetches ``url + name``."""
        rel = relative_url(repo, config)
        payload = consumer_payload_base(server, binding_config, rel)
        url = f"{payload['server_url']}/pulp/isos/{rel}/"
        manifest = config.get("manifest_name")
        return {**payload, "url": url, "manifest_name": manifest, "manifest_url": url + manifest}
