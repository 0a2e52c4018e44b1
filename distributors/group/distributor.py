"""``group_catalog_distributor``: publishes a repository group's catalog.

A publish writes ``/pulp/groups/<relative_url>/catalog.json`` (``relative_url`` defaults to
the group id): the group's id, display name, description and notes, and for each member
repository its id, display name, unit counts and distributors (id, type, last publish). A
client that knows only the group finds every member repository and how each is published.
The tree is replaced atomically, and taken down when the distributor is removed.
"""

from __future__ import annotations

import json

from pulp2ng.plugin import GroupDistributor, PublishReport, safe_relative_path

AREA = "groups"
CATALOG = "catalog.json"


class GroupCatalogDistributor(GroupDistributor):
    config_keys = ("relative_url",)
    web_areas = {"/pulp/groups/": AREA}

    @classmethod
    def metadata(cls) -> dict:
        return {"id": "group_catalog_distributor",
                "display_name": "Repository group catalog", "types": []}

    def validate_config(self, group, config) -> tuple[bool, str | None]:
        url = config.get("relative_url")
        if url is not None and (not isinstance(url, str)
                                or safe_relative_path(url.strip("/")) is None):
            return False, "relative_url must be a relative path inside the groups area"
        return True, None

    def publish_location(self, group, config) -> tuple[str, str]:
        return AREA, (config.get("relative_url") or group["id"]).strip("/")

    def publish_group(self, group, conduit, config) -> PublishReport:
        members = [{
            "id": repo["id"],
            "display_name": repo.get("display_name"),
            "content_unit_counts": repo.get("content_unit_counts") or {},
            "distributors": repo.get("distributors") or [],
        } for repo in group["repositories"]]
        catalog = {key: group.get(key) for key in ("id", "display_name", "description", "notes")}
        catalog["repositories"] = members
        area, path = self.publish_location(group, config)
        with conduit.publish_dir(area, path) as tree:
            (tree / CATALOG).write_text(json.dumps(catalog, indent=2, sort_keys=True))
        conduit.set_progress({"repositories": len(members)}, force=True)
        return PublishReport(summary={"repositories": len(members)},
                             details={"catalog": f"/pulp/groups/{path}/{CATALOG}"})
