"""The ``iso`` section of ``pulp2ng-admin`` (entry point ``pulp2ng.admin``: ``iso``).

pulp-admin's ``iso`` commands: ``repo create|update|list``, ``sync run|schedules``,
``publish run``, ``content search|copy|remove|upload``. Only :mod:`pulp2ng.plugin.admin` is imported: the section runs on an
admin's laptop, with the API as its only way in.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import click

from pulp2ng.plugin.admin import TypeSection, bool_option


def _distributor(kwargs: dict) -> dict:
    config = {}
    for option, key in (("relative_url", "relative_url"), ("serve_http", "serve_http"),
                        ("serve_https", "serve_https")):
        value = kwargs.pop(option, None)
        if value is not None:
            config[key] = None if value == "" else value
    return config


def _importer(kwargs: dict) -> dict:
    config = {}
    for option in ("remove_missing", "download_policy"):
        value = kwargs.pop(option, None)
        if value is not None:
            config[option] = value
    return config


def _upload_unit(file: Path, kwargs: dict) -> tuple[str, dict, dict]:
    """An ISO's unit key is its name, sha256 and size, which the importer checks."""
    digest = hashlib.sha256()
    with open(file, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return "iso", {"name": file.name, "checksum": digest.hexdigest(),
                   "size": file.stat().st_size}, {}


SECTION = TypeSection(
    name="iso",
    help="ISO (plain file) repositories: a directory described by a PULP_MANIFEST.",
    importer_type_id="iso_importer",
    distributor_type_id="iso_distributor",
    distributor_id="iso_distributor",
    unit_type="iso",
    repo_type="iso-repo",
    unit_columns=(("Name", "name"), ("Size", "size"), ("Checksum (sha256)", "checksum")),
    importer_options=(
        bool_option("--remove-missing", help="drop units no longer in the feed's manifest"),
        click.option("--download-policy", type=click.Choice(["immediate", "background",
                                                             "on_demand"]),
                     help="when files are downloaded"),
    ),
    importer_extra=_importer,
    distributor_options=(
        click.option("--relative-url", help="publish under /pulp/isos/<relative-url>/ "
                     "(default: the repository id)"),
        bool_option("--serve-http", help="publish over HTTP"),
        bool_option("--serve-https", help="publish over HTTPS"),
    ),
    distributor_extra=_distributor,
    upload_unit=_upload_unit,
)

section = SECTION.build()
