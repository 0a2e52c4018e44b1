"""Container registry client library for the docker_importer (no web framework or DB)."""
