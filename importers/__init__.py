"""pulp2ng.importers."""
