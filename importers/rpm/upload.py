"""``yum_importer`` uploads (``import_upload``): packages, errata and comps metadata units
(comps.xml and modules.yaml files and delta RPMs: upload_files.py).

A package's unit is built from its own header (createrepo_c's ``package_from_rpm``), never
from what the client sends: the client's unit key is a claim that must match the header and
the file's checksum, or the upload fails with nothing stored. The importer's signature
policy applies as it does to a sync. Errata and comps units have no file: their unit key and
metadata are the client's (pulp-admin sent them that way), checked for shape only. A
duplicate upload is harmless: the stored unit is kept and associated again, except an
erratum whose ``updated`` is later than the stored one's, which replaces it (pulp_rpm 2.x's
rule, as for a sync: errata are shared by repositories).
"""

from __future__ import annotations

import os

import createrepo_c as cr

from pulp2ng.importers.rpm import signatures, upload_files
from pulp2ng.importers.rpm.packages import unit_from_package
from pulp2ng.importers.rpm.types import (
    DRPM,
    ERRATUM,
    MODULEMD,
    MODULEMD_DEFAULTS,
    PACKAGE_CATEGORY,
    PACKAGE_ENVIRONMENT,
    PACKAGE_GROUP,
    PACKAGE_KEY,
    PACKAGE_LANGPACKS,
    RPM,
    SRPM,
)
from pulp2ng.plugin import UnsupportedTypes, UploadError

PACKAGES = (RPM, SRPM)
COMPS = (PACKAGE_GROUP, PACKAGE_CATEGORY, PACKAGE_ENVIRONMENT, PACKAGE_LANGPACKS)
# Fields of a unit document the platform owns; a client's metadata never sets them.
RESERVED = ("_id", "_content_type_id", "_storage_path", "_last_updated", "pulp_user_metadata")


def upload_unit(repo, type_id, unit_key, metadata, file_path, conduit, config) -> dict:
    unit_key = unit_key if isinstance(unit_key, dict) else {}
    metadata = metadata if isinstance(metadata, dict) else {}
    if type_id in PACKAGES:
        return _package(type_id, unit_key, file_path, conduit, config)
    if type_id == DRPM:
        return upload_files.delta_rpm(unit_key, metadata, file_path, conduit, config)
    if type_id == ERRATUM:
        return _save_erratum(_erratum(unit_key, metadata), conduit)
    if type_id in COMPS:
        if file_path and os.path.getsize(file_path) > 0:  # a whole comps.xml, as in Pulp 2
            return upload_files.comps_xml(repo, type_id, unit_key, file_path, conduit)
        return _metadata_unit(type_id, _comps(repo, type_id, unit_key, metadata), conduit)
    if type_id in (MODULEMD, MODULEMD_DEFAULTS):
        return upload_files.modules_yaml(repo, type_id, unit_key, file_path, conduit)
    raise UnsupportedTypes(f"yum_importer cannot import uploaded {type_id} units",
                           unsupported_types=[type_id])


def _package(type_id, claimed: dict, file_path, conduit, config) -> dict:
    with upload_files.staged(claimed, file_path, conduit) as (kind, temp, sha256):
        unit = _read_header(temp, kind, claimed)
        _check_claim(type_id, unit, claimed)
        try:
            refusal = signatures.Screen(config).check_file(temp, unit)
        except signatures.SignatureError as exc:
            raise UploadError(f"{unit['filename']}: {exc}", unit_key=claimed) from None
        upload_files.refuse(refusal, unit, claimed)
        unit["_storage_path"] = conduit.store_file(temp, type_id, sha256)
    conduit.save_units(type_id, [unit])
    return {"success_flag": True, "details": {},
            "summary": {f: unit[f] for f in (*PACKAGE_KEY, "filename", "signing_key")}}


def _read_header(path, kind: str, claimed: dict) -> dict:
    """The unit createrepo_c reads from the package header, checksummed with ``kind``."""
    try:
        pkg = cr.package_from_rpm(str(path), checksum_type=cr.checksum_type(kind),
                                  changelog_limit=0)
    except Exception as exc:  # createrepo_c's own error types for a file that is no RPM
        raise UploadError(f"The upload is not a readable RPM: {exc}", unit_key=claimed) from None
    # Pulp 2 named the file from the header, whatever the client called it
    pkg.location_href = f"{pkg.name}-{pkg.version}-{pkg.release}.{pkg.arch}.rpm"
    return unit_from_package(pkg)


def _check_claim(type_id: str, unit: dict, claimed: dict) -> None:
    """Every unit-key field the client sent must be what the header says."""
    actual_type = SRPM if unit["arch"] in ("src", "nosrc") else RPM  # as packages.type_of
    if actual_type != type_id:
        raise UploadError(f"The upload is a {actual_type} ({unit['filename']}), not a {type_id}",
                          unit_key=claimed)
    upload_files.check_claim(claimed, unit, PACKAGE_KEY, "package", "header")


def _erratum(unit_key: dict, metadata: dict) -> dict:
    erratum_id = unit_key.get("id")
    if not isinstance(erratum_id, str) or not erratum_id.strip():
        raise UploadError("An erratum's unit_key needs its advisory id as 'id'",
                          unit_key=unit_key)
    pkglist = metadata.get("pkglist", [])
    if not isinstance(pkglist, list) or not all(
            isinstance(c, dict) and isinstance(c.get("packages", []), list) for c in pkglist):
        raise UploadError("erratum pkglist must be a list of collections, each with a list of "
                          "packages", unit_key=unit_key)
    references = metadata.get("references", [])
    if not isinstance(references, list):
        raise UploadError("erratum references must be a list", unit_key=unit_key)
    return {**_clean(metadata), "pkglist": pkglist, "references": references,
            "id": erratum_id}


def _comps(repo, type_id: str, unit_key: dict, metadata: dict) -> dict:
    """Comps units are per repository: ``repo_id`` is this repository's, whatever is sent."""
    repo_id = unit_key.get("repo_id", repo["id"])
    if repo_id != repo["id"]:
        raise UploadError(f"unit_key repo_id {repo_id!r} is not this repository "
                          f"({repo['id']!r})", unit_key=unit_key)
    unit = {**_clean(metadata), "repo_id": repo["id"]}
    if type_id != PACKAGE_LANGPACKS:
        group_id = unit_key.get("id")
        if not isinstance(group_id, str) or not group_id.strip():
            raise UploadError(f"A {type_id}'s unit_key needs 'id'", unit_key=unit_key)
        unit["id"] = group_id
    return unit


def _clean(metadata: dict) -> dict:
    return {k: v for k, v in metadata.items() if k not in RESERVED and not k.startswith("_")}


def _save_erratum(unit: dict, conduit) -> dict:
    """A stored erratum with this id is replaced when the upload's ``updated`` is later."""
    stored = conduit.find_units(ERRATUM, [{"id": unit["id"]}], ["updated"])
    old = next(iter(stored.values()), None)
    if old is not None and str(unit.get("updated") or "") > str(old.get("updated") or ""):
        conduit.update_units(ERRATUM, [unit])
    return _metadata_unit(ERRATUM, unit, conduit)


def _metadata_unit(type_id: str, unit: dict, conduit) -> dict:
    conduit.save_units(type_id, [unit])
    key = {k: unit[k] for k in ("id", "repo_id") if k in unit}
    return {"success_flag": True, "summary": key, "details": {}}

