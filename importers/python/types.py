"""The ``python_package`` unit type: one distribution file (wheel or sdist), keyed by name.

The file name alone is the key, as in pulp_python 2.x: PyPI never lets a file name be reused
with other bytes, so a second file with the same name and another sha256 is an upstream fault.
"""

from pulp2ng.plugin import UnitType

TYPE = "python_package"

UNIT_TYPES = [
    UnitType(TYPE, "Python Package", ("filename",),
             description="A Python distribution file (wheel or sdist)",
             search_indexes=("name", "version")),
]
