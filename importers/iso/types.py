"""The ``iso`` unit type: a file identified by its name, sha256 and size."""

from pulp2ng.plugin import UnitType

UNIT_TYPES = [
    UnitType("iso", "ISO", ("name", "checksum", "size"),
             description="A file listed in a PULP_MANIFEST", search_indexes=("name",)),
]
