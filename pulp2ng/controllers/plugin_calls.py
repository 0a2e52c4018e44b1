"""What a plugin is handed: its class by type id, the repository as a plain dict, and its
configuration with stored secrets opened. Every controller that calls a plugin uses these,
so this module sits below all of them (no controller imports)."""

from __future__ import annotations

from pulp2ng.errors import UnknownPluginType
from pulp2ng.plugin.config import CallConfig


def transfer_repo(platform, repo: dict, working_dir=None) -> dict:
    """The repository as plugins see it: a plain dict, never the stored document."""
    return {
        "id": repo["_id"],
        "display_name": repo.get("display_name"),
        "description": repo.get("description"),
        "notes": dict(repo.get("notes") or {}),
        "content_unit_counts": dict(repo.get("content_unit_counts") or {}),
        "last_unit_added": repo.get("last_unit_added"),
        "last_unit_removed": repo.get("last_unit_removed"),
        "working_dir": str(working_dir) if working_dir else None,
    }


def call_config(platform, plugin_cls, stored: dict, override=None) -> CallConfig:
    """The plugin's view of a config: the only place stored secrets are opened."""
    return CallConfig(plugin_cls.default_config, {}, platform.secrets.open(stored or {}),
                      platform.secrets.open(override) if override else override)


def importer_class(platform, type_id):
    if not isinstance(type_id, str) or type_id not in platform.plugins.importers:
        raise UnknownPluginType(["importer_type_id"], f"Unknown importer type: {type_id}")
    return platform.plugins.importers[type_id]


def distributor_class(platform, type_id):
    if not isinstance(type_id, str) or type_id not in platform.plugins.distributors:
        raise UnknownPluginType(["distributor_type_id"], f"Unknown distributor type: {type_id}")
    return platform.plugins.distributors[type_id]
