"""Rewrite every stored copy of a secret: the upgrade migration and key rotation.

Secrets live in importer and distributor configs and stored overrides, schedule overrides,
task arguments and event listeners' notifier configs. A document is rewritten only if its value changed, and only if nobody wrote
the field meanwhile (the old value is part of the filter), so running this next to live
processes, or twice, is harmless.
"""

from __future__ import annotations

import logging

from pulp2ng.secrets import NOTIFIER_SECRET_KEYS

log = logging.getLogger(__name__)

#: (collection attribute on Store, fields that may hold secrets[, the secret keys when not
#: the plugin-config ones])
SEALED_FIELDS = (
    ("importers", ("config", "last_override_config")),
    ("distributors", ("config", "last_override_config")),
    ("schedules", ("override_config",)),
    ("tasks", ("kwargs",)),
    ("event_listeners", ("notifier_config",), NOTIFIER_SECRET_KEYS),
)
MIGRATION_ID = "migration:secrets_sealed"


def rewrite_secrets(store, transform) -> int:
    """Apply ``transform`` (a Secrets.seal or .reseal) to every secret-holding field;
    returns how many documents changed."""
    changed = 0
    for attr, fields, *keys in SEALED_FIELDS:
        collection = getattr(store, attr)
        projection = {f: 1 for f in fields}
        for doc in collection.find({}, projection):
            for field in fields:
                old = doc.get(field)
                if not old:
                    continue
                new = transform(old, *keys)
                if new != old:
                    result = collection.update_one({"_id": doc["_id"], field: old},
                                                   {"$set": {field: new}})
                    changed += result.modified_count
    return changed


def seal_clear_secrets_once(store, secrets) -> None:
    """The upgrade step: seal secrets written in clear by older versions, once per database."""
    if store.counters.find_one({"_id": MIGRATION_ID}):
        return
    changed = rewrite_secrets(store, secrets.seal)
    if changed:
        log.warning("encrypted the secrets of %d stored document(s)", changed)
    store.counters.update_one({"_id": MIGRATION_ID}, {"$set": {"done": True}}, upsert=True)
