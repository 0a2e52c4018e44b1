"""pulp2ng.server."""
