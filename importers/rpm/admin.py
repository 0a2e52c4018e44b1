"""The ``rpm`` section of ``pulp2ng-admin`` (entry point ``pulp2ng.admin``: ``rpm``).

pulp-admin's ``rpm`` commands with yum_importer's options (``--skip``, ``--remove-missing``,
``--require-signature``, ``--allowed-keys``…) and yum_distributor's (``--relative-url``,
``--serve-http``/``--serve-https``, ``--gpgkey``). ``content upload`` takes ``.rpm`` and
``.src.rpm`` files, whose unit keys the importer reads from their headers. Only
:mod:`pulp2ng.plugin.admin` is imported (it runs client side).
"""

from __future__ import annotations

from pathlib import Path

import click

from pulp2ng.plugin.admin import TypeSection, bool_option, pop_config

SKIPPABLE = ("rpm", "srpm", "drpm", "distribution", "erratum", "package_group",
             "package_category", "package_environment", "package_langpacks", "modulemd",
             "modulemd_defaults", "yum_repo_metadata_file")


def _importer(kwargs: dict) -> dict:
    config = pop_config(kwargs, {"skip": "skip", "remove_missing": "remove_missing",
                                 "require_signature": "require_signature",
                                 "allowed_keys": "allowed_keys",
                                 "retain_old_count": "retain_old_count",
                                 "download_policy": "download_policy"},
                        lists=("skip", "allowed_keys"))
    unknown = [t for t in config.get("skip") or [] if t not in SKIPPABLE]
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)}: not one of {', '.join(SKIPPABLE)}",
                                 param_hint="--skip")
    return config


def _distributor(kwargs: dict) -> dict:
    return pop_config(kwargs, {"relative_url": "relative_url", "serve_http": "http",
                               "serve_https": "https", "gpgkey": "gpgkey",
                               "checksum_type": "checksum_type",
                               "generate_sqlite": "generate_sqlite"}, files=("gpgkey",))


def _upload_unit(file: Path, kwargs: dict) -> tuple[str, dict, dict]:
    return ("srpm" if file.name.endswith(".src.rpm") else "rpm"), {}, {}


SECTION = TypeSection(
    name="rpm",
    help="RPM repositories: yum/dnf repositories with packages, errata, comps and modules.",
    importer_type_id="yum_importer",
    distributor_type_id="yum_distributor",
    distributor_id="yum_distributor",  # pulp-admin's id
    unit_type="rpm",
    repo_type="rpm-repo",
    unit_columns=(("Name", "name"), ("Version", "version"), ("Release", "release"),
                  ("Arch", "arch"), ("Filename", "filename"), ("Signed by", "signing_key")),
    unit_types=("rpm", "srpm", "erratum", "package_group", "package_category",
                "package_environment", "modulemd", "modulemd_defaults", "drpm",
                "distribution"),
    importer_options=(
        click.option("--skip", metavar="TYPE,TYPE", help="unit types not to sync: "
                     + ", ".join(SKIPPABLE)),
        bool_option("--remove-missing", help="drop units no longer in the feed"),
        bool_option("--require-signature", help="refuse unsigned packages"),
        click.option("--allowed-keys", metavar="KEYID,KEYID", help="accept only packages "
                     "signed by these 8-hex-digit key ids"),
        click.option("--retain-old-count", type=click.IntRange(min=0),
                     help="older versions of a package to keep"),
        click.option("--download-policy", type=click.Choice(["immediate"]),
                     help="when packages are downloaded"),
    ),
    importer_extra=_importer,
    distributor_options=(
        click.option("--relative-url", help="publish under /pulp/repos/<relative-url>/ "
                     "(default: the repository id)"),
        bool_option("--serve-http", help="the .repo file points at HTTP (default false)"),
        bool_option("--serve-https", help="the .repo file points at HTTPS (default true)"),
        click.option("--gpgkey", type=click.Path(dir_okay=False),
                     help="file with the armoured public key published as RPM-GPG-KEY"),
        click.option("--checksum-type", type=click.Choice(["sha1", "sha256", "sha512"]),
                     help="checksum of the published metadata"),
        bool_option("--generate-sqlite", help="also publish sqlite metadata"),
    ),
    distributor_extra=_distributor,
    # yum_distributor requires these three; pulp-admin's defaults.
    distributor_defaults=lambda repo_id: {"relative_url": repo_id, "http": False,
                                          "https": True},
    upload_unit=_upload_unit,
)

section = SECTION.build()
