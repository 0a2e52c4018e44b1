"""Erratum units ↔ createrepo_c updateinfo records (shared by the importer and distributor).

An ``erratum`` unit keeps pulp_rpm 2.x's fields as its REST API showed them: ``id``,
``from`` (the model's ``errata_from``), dates as ``YYYY-MM-DD HH:MM:SS`` strings,
``references`` as ``{href, id, title, type}`` and ``pkglist`` as one entry per collection,
``{name, short, packages, module?}``, each package ``{name, epoch, version, release, arch,
src, filename, sum, reboot_suggested}`` with ``sum`` the ``[type, digest]`` pair pulp_rpm 2.x
stored (``sum_type`` is also kept on its own, for searching).
"""

from __future__ import annotations

import datetime as dt

import createrepo_c as cr

from pulp2ng.importers.rpm.packages import checksum_type

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
TEXT_FIELDS = ("title", "description", "type", "status", "severity", "version", "release",
               "rights", "solution", "summary", "pushcount")


def parse_updateinfo(path) -> list:
    """The update records of an updateinfo file (any compression createrepo_c reads)."""
    info = cr.UpdateInfo()
    cr.xml_parse_updateinfo(str(path), info)
    return info.updates


def unit_from_record(record) -> dict:
    """An ``erratum`` unit document (key + metadata) from a createrepo_c UpdateRecord."""
    unit = {"id": record.id, **{f: getattr(record, f) or "" for f in TEXT_FIELDS}}
    unit.update({
        "from": record.fromstr or "",
        "issued": _date_text(record.issued_date),
        "updated": _date_text(record.updated_date),
        "reboot_suggested": bool(record.reboot_suggested),
        "references": [{"href": r.href, "id": r.id, "title": r.title, "type": r.type}
                       for r in record.references],
        "pkglist": [_collection(c) for c in record.collections],
    })
    return unit


def _collection(collection) -> dict:
    entry = {"name": collection.name, "short": collection.shortname,
             "packages": [_package(p) for p in collection.packages]}
    module = collection.module
    if module is not None and module.name:
        entry["module"] = {"name": module.name, "stream": module.stream,
                           "version": str(module.version), "context": module.context,
                           "arch": module.arch}
    return entry


def _package(package) -> dict:
    kind = cr.checksum_name_str(package.sum_type) if package.sum else None
    kind = checksum_type(kind) or kind
    return {"name": package.name, "epoch": package.epoch or "0", "version": package.version,
            "release": package.release, "arch": package.arch, "src": package.src,
            "filename": package.filename, "sum": [kind, package.sum] if package.sum else None,
            "sum_type": kind, "reboot_suggested": bool(package.reboot_suggested)}


def _date_text(value) -> str:
    return value.strftime(DATE_FORMAT) if value else ""


def _date(text):
    """A datetime from the date strings errata carry (Pulp 2 accepted several forms)."""
    text = str(text or "").strip()
    for form in (DATE_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"):
        try:
            return dt.datetime.strptime(text, form)
        except ValueError:
            continue
    if text.isdigit():  # some upstreams write epoch seconds
        return dt.datetime.fromtimestamp(int(text), dt.timezone.utc).replace(tzinfo=None)
    return None


def record_from_unit(unit: dict):
    """A createrepo_c UpdateRecord for publishing ``unit``."""
    record = cr.UpdateRecord()
    record.id = unit["id"]
    for field in TEXT_FIELDS:
        value = unit.get(field)
        if value not in (None, ""):
            setattr(record, field, str(value))
    record.fromstr = unit.get("from") or None
    record.issued_date = _date(unit.get("issued"))
    record.updated_date = _date(unit.get("updated"))
    record.reboot_suggested = bool(unit.get("reboot_suggested"))
    for ref in unit.get("references") or ():
        reference = cr.UpdateReference()
        reference.href, reference.id = ref.get("href"), ref.get("id")
        reference.title, reference.type = ref.get("title"), ref.get("type")
        record.append_reference(reference)
    for entry in unit.get("pkglist") or ():
        collection = cr.UpdateCollection()
        collection.name, collection.shortname = entry.get("name"), entry.get("short")
        module = entry.get("module")
        if module:
            cmod = cr.UpdateCollectionModule()
            cmod.name, cmod.stream = module.get("name"), module.get("stream")
            cmod.version = int(module.get("version") or 0)
            cmod.context, cmod.arch = module.get("context"), module.get("arch")
            collection.module = cmod
        for pkg in entry.get("packages") or ():
            collection.append(_collection_package(pkg))
        record.append_collection(collection)
    return record


def _collection_package(pkg: dict):
    package = cr.UpdateCollectionPackage()
    package.name, package.epoch = pkg.get("name"), pkg.get("epoch") or "0"
    package.version, package.release = pkg.get("version"), pkg.get("release")
    package.arch, package.src, package.filename = pkg.get("arch"), pkg.get("src"), pkg.get("filename")
    package.reboot_suggested = bool(pkg.get("reboot_suggested"))
    digest = pkg.get("sum")
    if isinstance(digest, (list, tuple)) and len(digest) == 2 and digest[1]:
        kind = cr.checksum_type(str(digest[0]))
        if kind != cr.UNKNOWN_CHECKSUM:
            package.sum, package.sum_type = digest[1], kind
    return package
