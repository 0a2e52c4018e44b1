"""Plugins see only the plugin API (``pulp2ng/plugin/__init__.py`` points here).

Every module under ``importers/`` and ``distributors/`` may import from pulp2ng only
``pulp2ng.plugin``, the type plugins (``pulp2ng.importers.*``, ``pulp2ng.distributors.*``),
and a distributor never imports an importer's class module (``pulp2ng.importers.<type>.importer``):
a type's format libraries (types, units, manifest, archive…) are shared, its importer is not.
Imports inside functions count; relative imports resolve within the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Source folder → the import name it is installed as (setup.cfg package_dir).
PLUGIN_ROOTS = {"importers": "pulp2ng.importers", "distributors": "pulp2ng.distributors"}
ALLOWED = ("pulp2ng.plugin", "pulp2ng.importers", "pulp2ng.distributors")


def _modules():
    for folder, package in PLUGIN_ROOTS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            yield path, ".".join([package, *parts]), is_package


def _imported_names(tree: ast.AST, module: str, is_package: bool):
    """``(line, absolute name)`` of everything the module imports, at any depth."""
    here = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - (node.level - 1)] if node.level > 1 else here
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module
            # ``from pkg import mod`` may name a submodule: check pkg.mod too. ``pkg`` itself
            # is checked unless it is above the allowed packages (``from pulp2ng import x``).
            if not any(ok.startswith(base + ".") for ok in ALLOWED):
                yield node.lineno, base
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{base}.{alias.name}"


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _violations(module: str, names):
    out = []
    for line, name in names:
        if _within(name, "pulp2ng") and not any(_within(name, ok) for ok in ALLOWED):
            out.append(f"{module}:{line} imports {name} (plugins import only pulp2ng.plugin)")
        parts = name.split(".")
        if (_within(module, "pulp2ng.distributors") and len(parts) == 4
                and parts[:2] == ["pulp2ng", "importers"] and parts[3] == "importer"):
            out.append(f"{module}:{line} imports {name} (a distributor never imports an "
                       f"importer's class module)")
    return out


MODULES = list(_modules())


def test_plugins_are_found():
    names = {module for _, module, _ in MODULES}
    assert "pulp2ng.importers.iso.importer" in names
    assert "pulp2ng.distributors.docker.distributor" in names


@pytest.mark.parametrize("path,module,is_package", MODULES, ids=[m for _, m, _ in MODULES])
def test_plugin_imports_only_the_plugin_api(path, module, is_package):
    tree = ast.parse(path.read_text(), filename=str(path))
    assert _violations(module, _imported_names(tree, module, is_package)) == []


def test_the_checker_catches_what_it_should():
    source = (
        "import pulp2ng.db.store\n"
        "from pulp2ng.plugin import Distributor\n"
        "from pulp2ng import plugin\n"
        "from pulp2ng.importers.docker import importer\n"
        "from pulp2ng.importers.docker.types import BLOB\n"
        "from . import app\n"
        "from ...importers.iso.importer import IsoImporter\n"
        "def f():\n"
        "    from pulp2ng import errors\n"
        "    from pulp2ng.controllers.repositories import ConfigConduit\n"
    )
    module = "pulp2ng.distributors.docker.distributor"
    found = _violations(module, _imported_names(ast.parse(source), module, False))
    assert sorted(v.split(" imports ")[1].split(" (")[0] for v in found) == sorted([
        "pulp2ng.db.store",
        "pulp2ng.importers.docker.importer",
        "pulp2ng.importers.iso.importer",
        "pulp2ng.errors",
        "pulp2ng.controllers.repositories",
        "pulp2ng.controllers.repositories.ConfigConduit",
    ])
    # An importer may import its own class module; only distributors may not.
    module = "pulp2ng.importers.iso.upload"
    assert _violations(module, _imported_names(
        ast.parse("from .importer import IsoImporter\n"), module, False)) == []
