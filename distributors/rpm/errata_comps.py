"""Publish a repository's errata (updateinfo.xml.gz) and comps (comps.xml) into repodata.

Called by ``yum_distributor`` while it builds the new tree, before repomd.xml is written, so
the files appear together with the packages (the tree is swapped in whole). Returns the
repomd records to add as ``(data_type, path, checksum_type or None)``. Errata stream from the
database into createrepo_c's updateinfo writer one at a time; comps (a handful of units per
repository) are assembled with libcomps. Nothing is written for a type the repository has no
units of, or that the distributor's ``skip`` lists.
"""

from __future__ import annotations

import createrepo_c as cr

from pulp2ng.importers.rpm.comps import COMPS_TYPES, CompsBuilder
from pulp2ng.importers.rpm.errata import record_from_unit
from pulp2ng.importers.rpm.packages import checksum_type
from pulp2ng.importers.rpm.types import ERRATUM


def validate_errata_comps_config(config) -> str | None:
    """Why ``skip`` or ``updateinfo_checksum_type`` is unusable, or None."""
    skip = config.get("skip")
    if skip is not None and not isinstance(skip, list):
        return "skip must be a list of unit type ids"
    kind = config.get("updateinfo_checksum_type")
    # createrepo_c 1.x writes sha224-sha512 only (no md5/sha1 repomd checksums)
    if kind is not None and cr.checksum_type(checksum_type(kind) or "") == cr.UNKNOWN_CHECKSUM:
        return f"updateinfo_checksum_type {kind!r} is not supported"
    return None


def write_errata_and_comps(conduit, repodata, config) -> list[tuple]:
    skip = set(config.get("skip") or ())
    records = []
    if ERRATUM not in skip:
        records += _write_updateinfo(conduit, repodata, config)
    comps = CompsBuilder()
    for type_id in COMPS_TYPES:
        if type_id not in skip:
            for unit in conduit.repo_units(type_id):
                comps.add(type_id, unit)
    if comps.count:
        plain = repodata / "comps.xml"
        plain.write_text(comps.xml())
        gz = repodata / "comps.xml.gz"
        cr.compress_file(str(plain), str(gz), cr.GZ)
        records += [("group", plain, None), ("group_gz", gz, None)]
    return records


def _write_updateinfo(conduit, repodata, config) -> list[tuple]:
    if not conduit.repo_unit_ids(ERRATUM):
        return []
    path = repodata / "updateinfo.xml.gz"
    out = cr.UpdateInfoXmlFile(str(path))
    try:
        for count, unit in enumerate(conduit.repo_units(ERRATUM)):
            if count % 500 == 0:
                conduit.check_canceled()
            out.add_chunk(cr.xml_dump_updaterecord(record_from_unit(unit)))
    finally:
        out.close()
    return [("updateinfo", path, checksum_type(config.get("updateinfo_checksum_type")))]
