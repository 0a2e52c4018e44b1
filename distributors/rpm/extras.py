"""Publish what a yum repository holds besides packages, into a tree ``yum_distributor`` builds.

- ``drpm``: files under ``drpms/``, listed in ``repodata/prestodelta.xml.gz``;
- ``modulemd`` + ``modulemd_defaults``: their stored documents concatenated into
  ``repodata/modules.yaml.gz`` (repomd type ``modules``, what dnf reads);
- ``distribution``: its files at the paths the tree's ``.treeinfo`` names, and the ``.treeinfo``
  itself at the root (also as ``treeinfo``, as Pulp 2 published it); one tree per repository;
- ``yum_repo_metadata_file``: each file in ``repodata/`` under its repomd type.

A type in the distributor's ``skip`` is left out. Returns the repomd records to add, so the
caller writes ``repomd.xml`` last, once, with everything in it.
"""

from __future__ import annotations

import gzip
import os

import createrepo_c as cr

from pulp2ng.importers.rpm.deltas import DRPM_DIR, DeltaWriter
from pulp2ng.importers.rpm.modules import write_modules
from pulp2ng.importers.rpm.treeinfo import TREEINFO_NAMES
from pulp2ng.importers.rpm.types import (
    DISTRIBUTION,
    DRPM,
    MODULEMD,
    MODULEMD_DEFAULTS,
    YUM_METADATA_FILE,
)
from pulp2ng.plugin import safe_relative_path

EXTRA_TYPES = (DRPM, MODULEMD, MODULEMD_DEFAULTS, DISTRIBUTION, YUM_METADATA_FILE)


def publish_extras(conduit, tree, skip) -> list[tuple[str, os.PathLike]]:
    """Write the extra types into ``tree``; returns ``(repomd type, file)`` records."""
    repodata = tree / "repodata"
    records = []
    if DRPM not in skip:
        records += _deltas(conduit, tree, repodata)
    records += _modules(conduit, repodata, skip)
    if DISTRIBUTION not in skip:
        _distribution(conduit, tree)
    if YUM_METADATA_FILE not in skip:
        for unit in conduit.repo_units(YUM_METADATA_FILE):
            name = safe_relative_path(unit.get("relativepath") or "")
            if name is None or "/" in name or (repodata / name).exists():
                name = f"{unit['data_type']}-{unit['_id'][:8]}"  # never over another file
            conduit.link_file(unit["_storage_path"], repodata / name)
            records.append((unit["data_type"], repodata / name))
    return records


def _deltas(conduit, tree, repodata) -> list:
    path = repodata / "prestodelta.xml.gz"
    with gzip.open(path, "wb") as out:
        writer = DeltaWriter(out)
        for unit in conduit.repo_units(DRPM):
            if writer.count % 500 == 0:
                conduit.check_canceled()
            location = f"{DRPM_DIR}/{unit['filename']}"
            conduit.link_file(unit["_storage_path"], tree / location)
            writer.add(unit, location)
        writer.close()
    if not writer.count:
        path.unlink()
        return []
    return [("prestodelta", path)]


def _modules(conduit, repodata, skip) -> list:
    types = [t for t in (MODULEMD, MODULEMD_DEFAULTS) if t not in skip]
    if not types:
        return []
    plain = repodata / "modules.yaml"

    def texts():
        for type_id in types:
            for unit in conduit.repo_units(type_id, ["_storage_path"]):
                yield conduit.content_path(unit["_storage_path"]).read_text()

    with open(plain, "w") as out:
        count = write_modules(out, texts())
    if not count:
        plain.unlink()
        return []
    cr.compress_file(str(plain), None, cr.GZ)
    plain.unlink()
    return [("modules", repodata / "modules.yaml.gz")]


def _distribution(conduit, tree) -> None:
    """The repository's tree (the first by id when there are several): its files where
    ``.treeinfo`` says, unless a package or repodata file is already there."""
    units = sorted(conduit.repo_units(DISTRIBUTION), key=lambda u: u["_id"])
    if not units:
        return
    unit = units[0]
    for name in TREEINFO_NAMES:
        conduit.link_file(unit["_storage_path"], tree / name)
    for entry in unit.get("files") or ():
        rel = safe_relative_path(entry.get("relativepath") or "")
        if rel is None or not entry.get("_storage_path"):
            continue
        dest = tree / rel
        try:
            if not dest.exists():
                conduit.link_file(entry["_storage_path"], dest)
        except OSError:  # a path under one of the tree's files: not placeable, left out
            continue
