"""The ``docker`` section of ``pulp2ng-admin`` (entry point ``pulp2ng.admin``: ``docker``).

pulp-admin's ``docker`` commands with the registry importer's selection options
(``--upstream-name``, ``--tags``, ``--include-tags``…) and the web distributor's
``--repo-registry-id``. ``content upload`` takes an image archive: a ``docker save`` tarball
or an OCI image-layout archive (its tags come from the archive). Only
:mod:`pulp2ng.plugin.admin` is imported (it runs client side).
"""

from __future__ import annotations

from pathlib import Path

import click

from pulp2ng.plugin.admin import TypeSection, bool_option, pop_config

_LISTS = ("tags", "include_tags", "exclude_tags", "platforms")


def _importer(kwargs: dict) -> dict:
    return pop_config(kwargs, {"upstream_name": "upstream_name", "tags": "tags",
                               "include_tags": "include_tags", "exclude_tags": "exclude_tags",
                               "platforms": "platforms", "remove_missing": "remove_missing",
                               "include_foreign_layers": "include_foreign_layers",
                               "sync_cosign": "sync_cosign", "sigstore": "sigstore",
                               "signature_source": "signature_source"}, lists=_LISTS)


def _distributor(kwargs: dict) -> dict:
    return pop_config(kwargs, {"repo_registry_id": "repo-registry-id",
                               "protected": "protected"})


def _upload_unit(file: Path, kwargs: dict) -> tuple[str, dict, dict]:
    # The importer reads everything (manifests, blobs, tags) from the archive itself.
    return "docker_manifest", {}, {}


SECTION = TypeSection(
    name="docker",
    help="Container repositories mirrored from a registry (API v2) and served as one; "
         "images are also uploaded as docker save or OCI image-layout archives.",
    importer_type_id="docker_importer",
    distributor_type_id="docker_distributor_web",
    distributor_id="docker_web_distributor_name_cli",  # pulp-admin's id
    unit_type="docker_manifest",
    repo_type="docker-repo",
    unit_columns=(("Digest", "digest"), ("Schema", "schema_version"),
                  ("Media type", "media_type")),
    unit_types=("docker_manifest", "docker_tag", "docker_manifest_list", "docker_blob"),
    importer_options=(
        click.option("--upstream-name", help="the repository on the registry, e.g. "
                     "library/busybox"),
        click.option("--tags", metavar="TAG,TAG", help="sync only these tags (exact)"),
        click.option("--include-tags", metavar="GLOB,GLOB", help="sync tags matching these "
                     "patterns (*, ?)"),
        click.option("--exclude-tags", metavar="GLOB,GLOB", help="leave out tags matching "
                     "these patterns (they win over includes)"),
        click.option("--platforms", metavar="OS/ARCH,…", help="keep only these platforms of "
                     "manifest lists, e.g. linux/amd64"),
        bool_option("--remove-missing", help="drop tags no longer upstream"),
        bool_option("--include-foreign-layers", help="fetch non-distributable layers too"),
        bool_option("--sync-cosign", help="sync cosign signature/attestation tags "
                    "(default true)"),
        click.option("--sigstore", metavar="URL", help="lookaside of atomic signatures"),
        click.option("--signature-source", type=click.Choice(["auto", "sigstore",
                                                              "extension", "none"]),
                     help="where signatures come from"),
    ),
    importer_extra=_importer,
    distributor_options=(
        click.option("--repo-registry-id", help="the name served by the registry API "
                     "(default: the repository id)"),
        bool_option("--protected", help="hide it from the anonymous registry API"),
    ),
    distributor_extra=_distributor,
    upload_unit=_upload_unit,
    upload_help="Each file is an image archive: a 'docker save' tarball or an OCI "
                "image-layout archive (tar of oci-layout, index.json and blobs/); its tags "
                "come from the archive, and nothing is stored unless all of it verifies.",
)

section = SECTION.build()
