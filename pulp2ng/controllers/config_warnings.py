"""Unknown importer and distributor config keys: kept, as Pulp 2 kept them, but named.

A typo such as ``remove_misssing`` would otherwise be stored and silently ignored; the API
logs it and returns it in a ``warnings`` list (in the call report, or in the created object's
body where the call returns no report).
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def unknown_keys(plugin_cls, config, field: str) -> list[str]:
    """One warning per key of ``config`` that ``plugin_cls`` does not read (None values,
    which remove a key, are never warned about)."""
    known = plugin_cls.known_config_keys()
    if known is None or not isinstance(config, dict):
        return []
    type_id = plugin_cls.metadata()["id"]
    found = []
    for key in sorted(k for k, v in config.items() if v is not None and k not in known):
        log.warning("%s: %s does not use the config key %r; it is kept but ignored",
                    field, type_id, key)
        found.append(f"{field}: unknown key {key!r} is kept but {type_id} ignores it")
    return found


def with_warnings(body: dict, warnings: list[str]) -> dict:
    """``body`` plus a ``warnings`` list when there is anything to say."""
    return {**body, "warnings": warnings} if warnings else body
