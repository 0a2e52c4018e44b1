"""The ``python`` section of ``pulp2ng-admin`` (entry point ``pulp2ng.admin``: ``python``).

pulp-admin's ``python`` commands (``repo create|update|list``, ``sync run``, ``publish run``,
``content search|copy|remove|upload``) with the selection options of this importer:
pulp-admin's ``--package-names`` and the Pulp 3 style ``--include``/``--exclude``
requirements. ``content upload`` takes wheels and sdists. Only :mod:`pulp2ng.plugin.admin` is
imported (the section runs where the server is not).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import click

from pulp2ng.plugin.admin import TypeSection, bool_option


def _importer(kwargs: dict) -> dict:
    config = {}
    names = kwargs.pop("package_names", None)
    if names is not None:
        config["package_names"] = names or None
    for option, key in (("include", "includes"), ("exclude", "excludes")):
        values = kwargs.pop(option, ())
        if values:
            config[key] = [v for v in values if v] or None
    types = kwargs.pop("package_types", None)
    if types is not None:
        config["package_types"] = [t.strip() for t in types.split(",") if t.strip()] or None
    for option in ("prereleases", "remove_missing"):
        value = kwargs.pop(option, None)
        if value is not None:
            config[option] = value
    return config


def _upload_unit(file: Path, kwargs: dict) -> tuple[str, dict, dict]:
    """python_importer needs the distribution's file name (its metadata comes from the file);
    the sha256 lets it refuse a file damaged on the way."""
    digest = hashlib.sha256()
    with open(file, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return "python_package", {"filename": file.name, "sha256": digest.hexdigest()}, {}


SECTION = TypeSection(
    name="python",
    help="Python repositories: projects mirrored from a PyPI-compatible index.",
    importer_type_id="python_importer",
    distributor_type_id="python_distributor",
    distributor_id="cli_python_distributor",  # pulp-admin's id for the repos it created
    unit_type="python_package",
    repo_type="PYTHON",
    unit_columns=(("Filename", "filename"), ("Name", "name"), ("Version", "version"),
                  ("Type", "packagetype")),
    importer_options=(
        click.option("--package-names", metavar="NAME,NAME",
                     help="comma-separated projects to sync, every release of each"),
        click.option("--include", multiple=True, metavar="REQUIREMENT",
                     help="a PEP 508 requirement to sync, e.g. 'django~=4.2' (repeatable; "
                     "'' unsets)"),
        click.option("--exclude", multiple=True, metavar="REQUIREMENT",
                     help="a PEP 508 requirement to leave out (repeatable; '' unsets)"),
        click.option("--package-types", metavar="TYPE,TYPE",
                     help="only these package types, e.g. sdist,bdist_wheel"),
        bool_option("--prereleases", help="sync pre-releases too"),
        bool_option("--remove-missing", help="drop packages no longer selected upstream"),
    ),
    importer_extra=_importer,
    upload_unit=_upload_unit,
)

section = SECTION.build()
