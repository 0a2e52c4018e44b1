"""The ISO (plain file) distributor: publishes files with a PULP_MANIFEST under /pulp/isos/."""
