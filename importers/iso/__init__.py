"""The ISO (plain file) importer: syncs a directory described by a PULP_MANIFEST."""
