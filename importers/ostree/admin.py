"""The ``ostree`` section of ``pulp2ng-admin`` (entry point ``pulp2ng.admin``: ``ostree``).

pulp-admin's ``ostree`` commands with the importer's ref selection (``--branches``,
``--include-refs``, ``--depth``…) and the distributor's publish options. ``content upload``
takes a tarball of an archive repository (``--ref`` appends to one existing ref). Only
:mod:`pulp2ng.plugin.admin` is imported (it runs client side).
"""

from __future__ import annotations

from pathlib import Path

import click

from pulp2ng.plugin.admin import TypeSection, bool_option, pop_config


def _importer(kwargs: dict) -> dict:
    config = pop_config(kwargs, {"branches": "branches", "include_refs": "include_refs",
                                 "exclude_refs": "exclude_refs", "depth": "depth",
                                 "remove_missing": "remove_missing", "gpg_verify": "gpg_verify"},
                        lists=("branches", "include_refs", "exclude_refs"))
    keys = kwargs.pop("gpg_key", ())
    if keys:
        texts = [Path(k).read_text() for k in keys if k]
        config["gpg_keys"] = texts or None
    return config


def _distributor(kwargs: dict) -> dict:
    return pop_config(kwargs, {"relative_path": "relative_path", "publish_depth": "depth",
                               "compute_delta": "compute_delta"})


def _upload_unit(file: Path, kwargs: dict) -> tuple[str, dict, dict]:
    key = {k: v for k, v in (("ref", kwargs.get("ref")),
                             ("repository_name", kwargs.get("repository_name"))) if v}
    return "ostree", key, {}


SECTION = TypeSection(
    name="ostree",
    help="OSTree repositories: refs and their commits mirrored from an archive repository.",
    importer_type_id="ostree_web_importer",
    distributor_type_id="ostree_web_distributor",
    distributor_id="ostree_web_distributor_name_cli",  # pulp-admin's id
    unit_type="ostree",
    repo_type="OSTREE",
    unit_columns=(("Branch", "branch"), ("Commit", "commit"), ("Version", "version")),
    importer_options=(
        click.option("--branches", metavar="REF,REF", help="sync only these refs (exact; "
                     "'' unsets: every ref)"),
        click.option("--include-refs", metavar="GLOB,GLOB", help="sync refs matching these "
                     "patterns (*, ?)"),
        click.option("--exclude-refs", metavar="GLOB,GLOB", help="leave out refs matching "
                     "these patterns"),
        click.option("--depth", type=click.IntRange(min=-1), help="parents synced per ref "
                     "(0: the head only, -1: the whole history)"),
        bool_option("--remove-missing", help="drop commits no longer upstream"),
        bool_option("--gpg-verify", help="verify commit signatures (needs --gpg-key)"),
        click.option("--gpg-key", multiple=True, type=click.Path(exists=True, dir_okay=False),
                     help="file with an ASCII-armoured public key (repeatable)"),
    ),
    importer_extra=_importer,
    distributor_options=(
        click.option("--relative-path", help="publish under /pulp/ostree/web/<path>/ "
                     "(default: the repository id)"),
        click.option("--publish-depth", type=click.IntRange(min=-1), help="history published "
                     "per ref (default 0: the head only)"),
        bool_option("--compute-delta", help="publish a static delta per ref"),
    ),
    distributor_extra=_distributor,
    upload_options=(
        click.option("--ref", help="append the tarball's commits to this existing ref only"),
        click.option("--repository-name", help="the repository inside the tarball, when it "
                     "holds several"),
    ),
    upload_unit=_upload_unit,
    upload_help="Each file is a tarball (plain or compressed) of an archive-mode OSTree "
                "repository; every ref in it is imported unless --ref names one.",
)

section = SECTION.build()
