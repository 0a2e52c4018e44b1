"""``yum_importer`` uploads of metadata files and delta RPMs (upload.py dispatches here).

As pulp_rpm 2.x did:

- a ``package_group`` / ``package_category`` / ``package_environment`` / ``package_langpacks``
  upload *with a file* is a whole comps.xml: every group, category, environment and the
  langpacks in it become units of the uploading repository (read with libcomps, comps.py);
- a ``modulemd`` or ``modulemd_defaults`` upload is a modules.yaml: every module stream and
  defaults document in it becomes a unit (modules.py), each stored as its own document file;
- a ``drpm`` upload is a standard delta RPM; its unit comes from the file (the new package's
  header via createrepo_c, the old package, sequence and signing key via drpm.py) with the
  importer's signature policy applied, never from what the client sends.

The client's unit key is a claim: each field it sends must match a unit the file holds (or
the header), else the upload fails with nothing stored. A duplicate upload is harmless:
stored units are associated again; comps and module defaults (this repository's own) are
brought up to date with the file.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from contextlib import contextmanager

import createrepo_c as cr

from pulp2ng.importers.rpm import drpm, signatures
from pulp2ng.importers.rpm.comps import COMPS_TYPES, CompsParseError, parse_comps, units_from_comps
from pulp2ng.importers.rpm.deltas import DRPM_DIR
from pulp2ng.importers.rpm.modules import ModulesParseError, read_modules
from pulp2ng.importers.rpm.packages import checksum_type
from pulp2ng.importers.rpm.types import DRPM, MODULEMD, MODULEMD_DEFAULTS, UNIT_TYPES
from pulp2ng.plugin import UploadError

KEYS = {t.id: t.unit_key for t in UNIT_TYPES}
DRPM_KEY = KEYS[DRPM]
#: A comps.xml or modules.yaml upload is read whole (libcomps has no streaming parser).
MAX_DOCUMENT = 64 * 1024 * 1024


def comps_xml(repo, type_id: str, claimed: dict, file_path, conduit) -> dict:
    """Every comps unit of the uploaded comps.xml, saved for this repository."""
    _check_repo_id(repo, claimed)
    text = _read_text(file_path, "comps.xml", claimed)
    try:
        units = units_from_comps(parse_comps(text), repo["id"])
    except CompsParseError as exc:
        raise UploadError(f"The upload is not a valid comps.xml: {exc}", unit_key=claimed) \
            from None
    _check_claim(type_id, units.get(type_id) or [], claimed, "comps.xml")
    summary = {}
    for unit_type in COMPS_TYPES:
        found = units.get(unit_type) or []
        if found:
            conduit.update_units(unit_type, found)  # this repository's own: the file wins
            conduit.save_units(unit_type, found)
        summary[unit_type] = len(found)
    return {"success_flag": True, "summary": summary, "details": {}}


def modules_yaml(repo, type_id: str, claimed: dict, file_path, conduit) -> dict:
    """Every ``modulemd`` and ``modulemd-defaults`` document of the uploaded modules.yaml."""
    _check_repo_id(repo, claimed)
    if os.path.getsize(file_path) > MAX_DOCUMENT:
        raise UploadError("The modules.yaml upload is too large", unit_key=claimed)
    planned: dict[str, dict[str, tuple]] = {MODULEMD: {}, MODULEMD_DEFAULTS: {}}
    try:
        for unit_type, unit, text in read_modules(file_path, repo["id"]):
            uid = conduit.unit_id(unit_type, {f: unit[f] for f in KEYS[unit_type]})
            planned[unit_type].setdefault(uid, (unit, text))  # listed twice: the first counts
    except ModulesParseError as exc:
        raise UploadError(f"The upload is not a valid modules.yaml: {exc}", unit_key=claimed) \
            from None
    _check_claim(type_id, [u for u, _ in planned[type_id].values()], claimed, "modules.yaml")
    for unit_type, entries in planned.items():
        units = []
        for unit, text in entries.values():
            data = text.encode()
            temp = conduit.storage.temp_path()
            temp.write_bytes(data)
            unit["_storage_path"] = conduit.store_file(temp, unit_type,
                                                       hashlib.sha256(data).hexdigest())
            units.append(unit)
        if units:
            if unit_type == MODULEMD_DEFAULTS:  # keyed by repository: the file wins
                conduit.update_units(unit_type, units)
            conduit.save_units(unit_type, units)
    return {"success_flag": True, "details": {},
            "summary": {t: len(entries) for t, entries in planned.items()}}


def delta_rpm(claimed: dict, metadata: dict, file_path, conduit, config) -> dict:
    """A standard delta RPM, its unit read from the file and checked against the claim."""
    with staged(claimed, file_path, conduit) as (kind, temp, sha256):
        unit = _delta_unit(temp, kind, claimed, metadata)
        refuse(signatures.Screen(config).check_key(unit), unit, claimed)
        unit["_storage_path"] = conduit.store_file(temp, DRPM, sha256)
    conduit.save_units(DRPM, [unit])
    return {"success_flag": True, "details": {},
            "summary": {f: unit[f] for f in (*DRPM_KEY, "new_package", "signing_key")}}


@contextmanager
def staged(claimed: dict, file_path, conduit):
    """An uploaded package copied into a temp file while its sha256 is taken: yields
    ``(checksum kind the client claims, temp path, sha256)``; the temp file is removed when
    the block fails (once stored, it is gone already)."""
    kind = checksum_type(claimed.get("checksumtype") or "sha256")
    if kind is None:
        raise UploadError(f"checksumtype {claimed.get('checksumtype')!r} is not supported",
                          unit_key=claimed)
    temp = conduit.storage.temp_path()
    digest = hashlib.sha256()
    with open(file_path, "rb") as src, open(temp, "wb") as dst:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            dst.write(chunk)
    try:
        yield kind, temp, digest.hexdigest()
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def refuse(refusal: dict | None, unit: dict, claimed: dict) -> None:
    """Raise the signature policy's refusal of ``unit`` (from ``signatures.Screen``), if any."""
    if refusal:
        raise UploadError(f"{unit['filename']} is refused by the importer's signature "
                          f"policy: {refusal['error']}", unit_key=claimed,
                          error_code=refusal["error_code"])


def _delta_unit(path, kind: str, claimed: dict, metadata: dict) -> dict:
    try:
        delta = drpm.read_delta(path)
        old_name, old_epoch, old_version, old_release = drpm.split_nevr(delta["old_nevr"])
    except drpm.DeltaError as exc:
        raise UploadError(f"The upload is not a readable delta RPM: {exc}",
                          unit_key=claimed) from None
    try:  # a standard delta carries the new package's main header
        new = cr.package_from_rpm(str(path), checksum_type=cr.checksum_type(kind),
                                  changelog_limit=0)
    except Exception as exc:  # createrepo_c's own error types
        raise UploadError(f"The delta RPM's package header cannot be read: {exc}",
                          unit_key=claimed) from None
    if old_name != new.name:
        raise UploadError(f"The delta RPM turns {old_name} into {new.name}: not one package",
                          unit_key=claimed)
    default_name = (f"{new.name}-{old_version}-{old_release}_{new.version}-{new.release}."
                    f"{new.arch}.drpm")
    name = claimed.get("filename") or metadata.get("filename") or default_name
    if not isinstance(name, str) or posixpath.basename(name) != name or name in (".", ".."):
        raise UploadError(f"filename {name!r} must be a plain file name", unit_key=claimed)
    unit = {
        "epoch": str(new.epoch or "0"), "version": new.version, "release": new.release,
        "filename": name, "checksumtype": kind, "checksum": new.pkgId.lower(),
        "new_package": new.name, "arch": new.arch,
        "oldepoch": old_epoch, "oldversion": old_version, "oldrelease": old_release,
        "sequence": delta["sequence"], "size": os.path.getsize(path),
        "relativepath": f"{DRPM_DIR}/{name}", "signing_key": delta["signing_key"],
    }
    check_claim(claimed, unit, DRPM_KEY, "delta RPM", "file")
    return unit


def check_claim(claimed: dict, unit: dict, fields, what: str, source: str) -> None:
    """Every unit-key field the client sent must be what the file says (``source``: where
    the value was read, named in the error)."""
    wrong = {f: {"claimed": claimed[f], source: unit[f]} for f in fields
             if claimed.get(f) is not None and str(claimed[f]).lower() != str(unit[f]).lower()}
    if wrong:
        listed = ", ".join(f"{f} {v['claimed']!r} ({source}: {v[source]!r})"
                           for f, v in wrong.items())
        raise UploadError(f"The uploaded {what} does not match its unit key: {listed}",
                          unit_key=claimed, mismatches=wrong)


def _check_repo_id(repo, claimed: dict) -> None:
    repo_id = claimed.get("repo_id", repo["id"])
    if repo_id != repo["id"]:
        raise UploadError(f"unit_key repo_id {repo_id!r} is not this repository "
                          f"({repo['id']!r})", unit_key=claimed)


def _check_claim(type_id: str, units: list[dict], claimed: dict, what: str) -> None:
    """The claimed key (fields besides ``repo_id``) must name a unit of ``type_id`` in the
    file; an empty claim asks for none, but the file must hold one of the type then."""
    fields = {f: v for f, v in claimed.items() if f in KEYS[type_id] and f != "repo_id"}
    if not units:
        raise UploadError(f"The uploaded {what} holds no {type_id}", unit_key=claimed)
    if fields and not any(all(str(u.get(f)) == str(v) for f, v in fields.items())
                          for u in units):
        raise UploadError(f"The uploaded {what} holds no {type_id} with the unit key "
                          f"{fields}", unit_key=claimed)


def _read_text(path, what: str, claimed: dict) -> str:
    if os.path.getsize(path) > MAX_DOCUMENT:
        raise UploadError(f"The {what} upload is too large", unit_key=claimed)
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError:
        raise UploadError(f"The upload is not a UTF-8 {what}", unit_key=claimed) from None
