"""``prestodelta.xml`` ↔ ``drpm`` units.

createrepo_c writes prestodelta (``createrepo_c --deltas``) but its Python bindings have no
reader or writer for it, so both go through the standard library's XML parser and serializer
(streamed: one ``<newpackage>`` element in memory at a time). A unit keeps pulp_rpm 2.x's
fields: the new package's ``epoch, version, release`` (key, with ``filename`` and the
checksum), ``new_package`` (its name), ``arch``, the old package's ``oldepoch, oldversion,
oldrelease``, ``sequence``, ``size`` and ``relativepath`` (where upstream had the file).
"""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET

from pulp2ng.importers.rpm.packages import checksum_type

DRPM_KEY = ("epoch", "version", "release", "filename", "checksumtype", "checksum")
#: Where a publish puts delta RPMs, relative to the repository root.
DRPM_DIR = "drpms"


class DeltaParseError(ValueError):
    """prestodelta.xml is not XML, or a delta lacks its file name or checksum."""


def read_deltas(path):
    """Yield a unit (without ``_storage_path``) per ``<delta>`` of the prestodelta file."""
    try:
        for _, element in ET.iterparse(path, events=("end",)):
            if element.tag != "newpackage":
                continue
            new = element.attrib
            for delta in element.findall("delta"):
                yield _unit(new, delta)
            element.clear()
    except ET.ParseError as exc:
        raise DeltaParseError(f"prestodelta.xml is not valid XML: {exc}") from None


def _unit(new: dict, delta) -> dict:
    href = (delta.findtext("filename") or "").strip()
    checksum = delta.find("checksum")
    if not href or checksum is None or not (checksum.text or "").strip():
        raise DeltaParseError(f"prestodelta.xml: a delta of {new.get('name')} has no "
                              "filename or checksum")
    kind = checksum_type(checksum.get("type"))
    try:
        size = int(delta.findtext("size") or 0)
    except ValueError:
        raise DeltaParseError(f"prestodelta.xml: {href} has a size that is not a number") \
            from None
    return {
        "epoch": new.get("epoch") or "0",
        "version": new.get("version") or "",
        "release": new.get("release") or "",
        "filename": posixpath.basename(href),
        "checksumtype": kind or checksum.get("type"),
        "checksum": checksum.text.strip().lower(),
        "new_package": new.get("name") or "",
        "arch": new.get("arch") or "",
        "oldepoch": delta.get("oldepoch") or "0",
        "oldversion": delta.get("oldversion") or "",
        "oldrelease": delta.get("oldrelease") or "",
        "sequence": (delta.findtext("sequence") or "").strip(),
        "size": size or None,
        "relativepath": href,
    }


class DeltaWriter:
    """Write prestodelta.xml one delta at a time (a ``<newpackage>`` each: dnf merges the
    deltas of elements naming the same package)."""

    def __init__(self, out):
        self.out = out
        self.count = 0
        out.write(b'<?xml version="1.0" encoding="UTF-8"?>\n<prestodelta>\n')

    def add(self, unit: dict, location: str) -> None:
        new = ET.Element("newpackage", {
            "name": unit.get("new_package") or "", "epoch": unit["epoch"],
            "version": unit["version"], "release": unit["release"],
            "arch": unit.get("arch") or ""})
        delta = ET.SubElement(new, "delta", {
            "oldepoch": unit.get("oldepoch") or "0", "oldversion": unit.get("oldversion") or "",
            "oldrelease": unit.get("oldrelease") or ""})
        ET.SubElement(delta, "filename").text = location
        ET.SubElement(delta, "sequence").text = unit.get("sequence") or ""
        ET.SubElement(delta, "size").text = str(unit.get("size") or 0)
        ET.SubElement(delta, "checksum", {"type": unit["checksumtype"]}).text = \
            unit["checksum"]
        ET.indent(new, space="  ", level=1)
        self.out.write(("  " + ET.tostring(new, encoding="unicode").rstrip() + "\n").encode())
        self.count += 1

    def close(self) -> None:
        self.out.write(b"</prestodelta>\n")
