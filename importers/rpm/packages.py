"""Package units ↔ createrepo_c ``Package`` objects (shared by the importer and distributor).

A unit keeps what primary.xml says about its package, in pulp_rpm 2.x's field names
(``filename``, ``sourcerpm``, ``buildhost``, ``build_time``, ``header_range``…), with every
dependency list (requires, provides, conflicts, obsoletes and the weak ones) as a list of
``{name, flags, epoch, version, release, pre}``, so a publish can write the same primary.xml
back and unit search can match on any of them.
"""

from __future__ import annotations

import posixpath

import createrepo_c as cr

from pulp2ng.importers.rpm.types import RPM, SRPM

DEPENDENCIES = ("requires", "provides", "conflicts", "obsoletes",
                "recommends", "suggests", "supplements", "enhances")

#: Checksum names a repository may use, as Pulp 2 sanitised them (``sha`` is sha1).
CHECKSUM_TYPES = {"sha": "sha1", "sha1": "sha1", "sha224": "sha224", "sha256": "sha256",
                  "sha384": "sha384", "sha512": "sha512", "md5": "md5"}


def checksum_type(name) -> str | None:
    """The sanitised checksum type, or None for one Pulp 2 did not support."""
    return CHECKSUM_TYPES.get(str(name or "").lower())


def type_of(pkg) -> str:
    """``srpm`` for a source package (arch ``src``/``nosrc``), else ``rpm``."""
    return SRPM if pkg.arch in ("src", "nosrc") else RPM


def unit_from_package(pkg) -> dict:
    """A unit document (key + metadata) from a package read out of primary.xml."""
    files = {"file": [], "dir": [], "ghost": []}
    for kind, directory, name, *_ in pkg.files or ():  # a header's entries add a digest
        files.get(kind or "file", files["file"]).append(directory + name)
    return {
        "name": pkg.name,
        "epoch": pkg.epoch or "0",
        "version": pkg.version,
        "release": pkg.release,
        "arch": pkg.arch,
        "checksumtype": checksum_type(pkg.checksum_type) or pkg.checksum_type,
        "checksum": pkg.pkgId,
        "filename": posixpath.basename(pkg.location_href),
        "summary": pkg.summary,
        "description": pkg.description,
        "url": pkg.url,
        "license": pkg.rpm_license,
        "vendor": pkg.rpm_vendor,
        "group": pkg.rpm_group,
        "packager": pkg.rpm_packager,
        "buildhost": pkg.rpm_buildhost,
        "sourcerpm": pkg.rpm_sourcerpm,
        "size": pkg.size_package,
        "installed_size": pkg.size_installed,
        "archive_size": pkg.size_archive,
        "time": pkg.time_file,
        "build_time": pkg.time_build,
        "header_range": {"start": pkg.rpm_header_start, "end": pkg.rpm_header_end},
        "files": {k: v for k, v in files.items() if v},
        # other.xml's entries, when read (main_metadata.py), in its order (oldest first)
        "changelog": [{"author": author, "date": date, "text": text}
                      for author, date, text in pkg.changelogs or ()],
        **{dep: [_dep_dict(d) for d in getattr(pkg, dep) or ()] for dep in DEPENDENCIES},
    }


def _dep_dict(dep) -> dict:
    name, flags, epoch, version, release, pre = dep
    return {"name": name, "flags": flags, "epoch": epoch, "version": version,
            "release": release, "pre": bool(pre)}


def package_from_unit(unit: dict, location: str) -> "cr.Package":
    """A createrepo_c package for publishing ``unit`` at ``location`` (relative href)."""
    pkg = cr.Package()
    pkg.name, pkg.epoch, pkg.version = unit["name"], unit["epoch"], unit["version"]
    pkg.release, pkg.arch = unit["release"], unit["arch"]
    pkg.checksum_type, pkg.pkgId = unit["checksumtype"], unit["checksum"]
    pkg.location_href = location
    pkg.summary, pkg.description = unit.get("summary"), unit.get("description")
    pkg.url, pkg.rpm_license = unit.get("url"), unit.get("license")
    pkg.rpm_vendor, pkg.rpm_group = unit.get("vendor"), unit.get("group")
    pkg.rpm_packager, pkg.rpm_buildhost = unit.get("packager"), unit.get("buildhost")
    pkg.rpm_sourcerpm = unit.get("sourcerpm")
    pkg.size_package = unit.get("size") or 0
    pkg.size_installed = unit.get("installed_size") or 0
    pkg.size_archive = unit.get("archive_size") or 0
    pkg.time_file, pkg.time_build = unit.get("time") or 0, unit.get("build_time") or 0
    header = unit.get("header_range") or {}
    pkg.rpm_header_start = header.get("start") or 0
    pkg.rpm_header_end = header.get("end") or 0
    files = unit.get("files") or {}
    pkg.files = [(kind if kind != "file" else "", *_split(path))
                 for kind in ("file", "dir", "ghost") for path in files.get(kind, ())]
    # createrepo_c dumps other.xml's changelogs in the reverse of this list's order
    pkg.changelogs = [(c.get("author"), c.get("date") or 0, c.get("text"))
                      for c in reversed(unit.get("changelog") or ())]
    for dep in DEPENDENCIES:
        setattr(pkg, dep, [(d["name"], d.get("flags"), d.get("epoch"), d.get("version"),
                            d.get("release"), bool(d.get("pre")))
                           for d in unit.get(dep) or ()])
    return pkg


def _split(path: str) -> tuple[str, str]:
    directory, name = posixpath.split(path)
    return (directory + "/" if directory != "/" else "/"), name
