"""Importing this module registers every platform task function (see registry.lookup)."""

from pulp2ng.controllers import orphans, repositories, sync, units, uploads  # noqa: F401
