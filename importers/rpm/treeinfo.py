"""A distribution tree's ``.treeinfo`` (an ini file, read with configparser) → a ``distribution``
unit's key and the files it lists.

Both layouts are understood: the classic one (``[general]`` family, variant, version, arch)
and productmd's (``[release]`` name/version, ``[tree]`` arch/variants). The files are those of
``[checksums]`` (``path = type:hex``, verified on download) plus any image named in
``[images-*]`` or ``[stage2]`` (fetched unverified when no checksum lists them). The unit id is
pulp_rpm 2.x's ``ks-<family>-<variant>-<version>-<arch>`` (spaces as underscores).
"""

from __future__ import annotations

import configparser

from pulp2ng.importers.rpm.packages import checksum_type
from pulp2ng.plugin import safe_relative_path

#: The names a tree's ini file is published under (Pulp 2 wrote both).
TREEINFO_NAMES = (".treeinfo", "treeinfo")


class TreeinfoError(ValueError):
    """A ``.treeinfo`` that is not an ini file, lacks a key field, or names an unsafe path."""


def read_treeinfo(text: str) -> tuple[dict, list[dict]]:
    """``(unit, files)``: the unit's key and metadata, and ``{relativepath, checksumtype,
    checksum}`` for each file of the tree (checksum None when none is listed)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # file paths are case sensitive
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise TreeinfoError(f".treeinfo is not a valid ini file: {exc}") from None

    def first(*places):
        for section, option in places:
            value = parser.get(section, option, fallback=None)
            if value:
                return value.strip()
        return None

    variants = (first(("tree", "variants")) or "").split(",")
    unit = {
        "family": first(("general", "family"), ("release", "name")),
        "variant": first(("general", "variant")) or variants[0].strip(),
        "version": first(("general", "version"), ("release", "version")),
        "arch": first(("general", "arch"), ("tree", "arch")),
    }
    missing = [k for k in ("family", "version", "arch") if not unit[k]]
    if missing:
        raise TreeinfoError(f".treeinfo does not name the tree's {', '.join(missing)}")
    unit["id"] = "ks-" + "-".join(unit[k] for k in ("family", "variant", "version", "arch")) \
        .replace(" ", "_")
    timestamp = first(("general", "timestamp"), ("tree", "build_timestamp"))
    try:
        unit["timestamp"] = float(timestamp) if timestamp else None
    except ValueError:
        unit["timestamp"] = None
    unit["packagedir"] = first(("general", "packagedir")) or ""

    files: dict[str, dict] = {}
    if parser.has_section("checksums"):
        for path, value in parser.items("checksums"):
            kind, _, digest = value.strip().partition(":")
            if not digest or checksum_type(kind) is None:
                raise TreeinfoError(f".treeinfo: checksum of {path} is not type:hex "
                                    f"with a supported type: {value!r}")
            files[path] = {"checksumtype": checksum_type(kind), "checksum": digest.lower()}
    for section in parser.sections():
        if section.startswith("images-") or section == "stage2":
            for _, path in parser.items(section):
                files.setdefault(path.strip(), {"checksumtype": None, "checksum": None})
    listed = []
    for path, checksum in sorted(files.items()):
        safe = safe_relative_path(path)
        if safe is None or safe in TREEINFO_NAMES or safe.split("/")[0] == "repodata":
            if safe is None:
                raise TreeinfoError(f".treeinfo names an unsafe path {path!r}")
            continue
        listed.append({"relativepath": safe, **checksum})
    return unit, listed
