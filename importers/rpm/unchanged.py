"""No-op re-sync: skip the whole metadata parse and download when nothing changed.

Pulp 2's yum importer kept the last synced repomd.xml revision in the repository's scratchpad
and skipped the sync when it was unchanged (unless ``force_full``). A revision is only what the
upstream tool wrote, so here the stamp is stronger: the sha256 of repomd.xml's bytes (every
metadata file's checksum is in it), the config keys that shape a sync's result, and a digest of
the repository's association ids as the last successful sync left them, so a unit removed or
added by hand since, or a changed ``skip``/``retain_old_count``/signature policy, makes the next
sync a full one. Not seen: a per-repository unit replaced in place under the same key by an
upload (``modulemd_defaults``); ``force_full`` covers it.
"""

from __future__ import annotations

import hashlib
import json

from pulp2ng.importers.rpm.types import UNIT_TYPES

SCRATCHPAD_KEY = "yum_importer_last_sync"
#: Config keys whose value changes what a sync stores (``force_full`` itself is not one).
CONFIG_KEYS = ("feed", "skip", "remove_missing", "retain_old_count", "require_signature",
               "allowed_keys", "checksum_type", "validate", "download_policy")


class SyncStamp:
    """What the last successful sync saw; compared before parsing, saved after applying."""

    def __init__(self, conduit, config, repomd_path):
        self.conduit = conduit
        self.force = config.get_boolean("force_full", False)
        with open(repomd_path, "rb") as f:
            self.repomd = hashlib.sha256(f.read()).hexdigest()
        shaping = {key: config.get(key) for key in CONFIG_KEYS}
        self.config = hashlib.sha256(
            json.dumps(shaping, sort_keys=True, default=str).encode()).hexdigest()

    def unchanged(self) -> bool:
        """True when repomd, config and the repository's content are as the last successful
        sync left them (never with ``force_full``)."""
        if self.force:
            return False
        last = self.conduit.get_repo_scratchpad().get(SCRATCHPAD_KEY)
        if not isinstance(last, dict) or last.get("repomd") != self.repomd \
                or last.get("config") != self.config:
            return False
        return last.get("content") == self._content()

    def remember(self) -> None:
        """Record this sync (call only once everything it changed is saved)."""
        self.conduit.update_repo_scratchpad({SCRATCHPAD_KEY: {
            "repomd": self.repomd, "config": self.config, "content": self._content()}})

    def _content(self) -> str:
        """A digest of the repository's association ids: one projected scan per type."""
        digest = hashlib.sha256()
        for unit_type in UNIT_TYPES:
            digest.update(unit_type.id.encode() + b"\0")
            for uid in sorted(self.conduit.repo_unit_ids(unit_type.id)):
                digest.update(uid.encode() + b"\n")
        return digest.hexdigest()
