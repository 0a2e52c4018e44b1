"""Package discovery for the four source folders (everything else is in setup.cfg).

Each folder installs under an import name (``package_dir`` below): ``pulp2ng/`` as
``pulp2ng``, ``server/`` as ``pulp2ng.server``, ``importers/`` as ``pulp2ng.importers`` and
``distributors/`` as ``pulp2ng.distributors``. setup.cfg's ``packages = find:`` cannot map
several roots, and a package left off a hand-written list would pass the test suite (an
editable install) yet be missing from ``pip install .``: every folder holding a ``.py`` file
is a package here, with or without an ``__init__.py`` (``pulp2ng/content/`` has none).
"""

from pathlib import Path

from setuptools import setup

PACKAGE_DIR = {
    "pulp2ng": "pulp2ng",
    "pulp2ng.server": "server",
    "pulp2ng.importers": "importers",
    "pulp2ng.distributors": "distributors",
}


def discover(name: str, folder: str) -> list[str]:
    root = Path(__file__).parent / folder
    return sorted({".".join([name, *py.parent.relative_to(root).parts])
                   for py in root.rglob("*.py") if "__pycache__" not in py.parts})


setup(
    package_dir=PACKAGE_DIR,
    packages=[pkg for name, folder in PACKAGE_DIR.items() for pkg in discover(name, folder)],
)
