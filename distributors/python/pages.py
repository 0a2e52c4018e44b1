"""Render the pages of a published Python repository.

The distributor writes a static tree that pip and other pulp2ng (or Pulp 2) importers read::

    simple/index.html, simple/index.json               PEP 503 / PEP 691 project list
    simple/<norm>/index.html, simple/<norm>/index.json PEP 503 / PEP 691 file list
    pypi/<norm>/json                                    PyPI JSON API (Pulp 2 importers read it)
    <path of each file>, <path>.metadata                the files and PEP 658 core metadata

Every function here is pure: it takes package dicts and returns text, sorted so that two
publishes of the same content give the same bytes. A package dict has ``filename``, ``name``,
``version``, ``sha256``, ``path`` (the file's path relative to the publish root) and
optionally ``requires_python``, ``size``, ``metadata_sha256`` (a ``.metadata`` file exists),
``yanked`` (True or a reason), ``packagetype``, ``md5_digest`` and the metadata fields
:func:`pulp2ng.importers.python.metadata.read_metadata` returns (used for the JSON API
``info``).
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from urllib.parse import quote

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

__all__ = [
    "API_VERSION",
    "group_by_project",
    "pypi_project_json",
    "simple_project_html",
    "simple_project_json",
    "simple_root_html",
    "simple_root_json",
]

#: PEP 691 / PEP 700 api-version; 1.1 makes ``size`` and ``versions`` mandatory.
API_VERSION = "1.1"
_INFO_FIELDS = (
    "summary", "author", "author_email", "license", "home_page", "requires_python",
    "requires_dist", "classifiers",
)


def group_by_project(files: Iterable[Mapping]) -> dict[str, list[Mapping]]:
    """Group package dicts by normalised project name, the key of every page path.

    Args:
        files: package dicts of a whole repository.

    Returns:
        ``{normalised name: [package dicts]}`` with the names in sorted order.
    """
    grouped: dict[str, list[Mapping]] = {}
    for file in files:
        grouped.setdefault(canonicalize_name(file["name"]), []).append(file)
    return {name: grouped[name] for name in sorted(grouped)}


def simple_root_html(project_names: Iterable[str]) -> str:
    """PEP 503 root page: one link per project to ``<normalised name>/``.

    Args:
        project_names: names in any spelling; duplicates after normalisation collapse.

    Returns:
        The HTML document.
    """
    links = "".join(
        f'    <a href="{quote(n)}/">{html.escape(n)}</a><br>\n' for n in _normalised(project_names)
    )
    return _document("Simple index", links)


def simple_project_html(name: str, files: Iterable[Mapping], base_path: str = "../../") -> str:
    """PEP 503 project page with ``#sha256=`` links and the PEP 503/592/658/714 attributes.

    Args:
        name: the project name, in any spelling.
        files: the project's package dicts.
        base_path: prefix that turns a file's ``path`` into a link from this page; the
            default suits ``simple/<norm>/index.html`` with paths relative to the root.

    Returns:
        The HTML document.

    Raises:
        ValueError: a package dict belongs to another project.
    """
    norm = canonicalize_name(name)
    links = []
    for file in _project_files(name, files):
        attrs = [("href", f"{base_path}{quote(file['path'])}#sha256={file['sha256']}")]
        if file.get("requires_python"):
            attrs.append(("data-requires-python", file["requires_python"]))
        if file.get("metadata_sha256"):
            value = f"sha256={file['metadata_sha256']}"
            attrs += [("data-dist-info-metadata", value), ("data-core-metadata", value)]
        if file.get("yanked"):
            reason = file["yanked"] if isinstance(file["yanked"], str) else ""
            attrs.append(("data-yanked", reason))
        rendered = " ".join(f'{k}="{html.escape(v, quote=True)}"' for k, v in attrs)
        links.append(f"    <a {rendered}>{html.escape(file['filename'])}</a><br>\n")
    body = f"    <h1>Links for {html.escape(norm)}</h1>\n" + "".join(links)
    return _document(f"Links for {norm}", body)


def simple_root_json(project_names: Iterable[str]) -> str:
    """PEP 691 JSON project list.

    Args:
        project_names: names in any spelling.

    Returns:
        The JSON text.
    """
    projects = [{"name": n} for n in _normalised(project_names)]
    return _dumps({"meta": {"api-version": API_VERSION}, "projects": projects})


def simple_project_json(name: str, files: Iterable[Mapping], base_path: str = "../../") -> str:
    """PEP 691 JSON project page (api-version 1.1: ``size`` per file and ``versions``).

    Args:
        name: the project name, in any spelling.
        files: the project's package dicts; each needs ``size``.
        base_path: as for :func:`simple_project_html`.

    Returns:
        The JSON text.

    Raises:
        ValueError: a package dict has no ``size`` (api-version 1.1 requires it) or belongs to
            another project.
    """
    entries = []
    files = _project_files(name, files)
    for file in files:
        if file.get("size") is None:
            raise ValueError(f"{file['filename']}: size is required for PEP 691 1.1 pages")
        core = {"sha256": file["metadata_sha256"]} if file.get("metadata_sha256") else False
        entries.append({
            "filename": file["filename"],
            "url": f"{base_path}{quote(file['path'])}",
            "hashes": {"sha256": file["sha256"]},
            "requires-python": file.get("requires_python") or None,
            "core-metadata": core,
            "dist-info-metadata": core,
            "yanked": _yanked(file),
            "size": file["size"],
        })
    return _dumps({
        "meta": {"api-version": API_VERSION},
        "name": canonicalize_name(name),
        "files": entries,
        "versions": _versions(files),
    })


def pypi_project_json(name: str, files: Iterable[Mapping], base_url: str = "../../") -> str:
    """The PyPI JSON API document for ``pypi/<norm>/json``.

    ``info`` describes the newest final release (the newest pre-release when there is no
    final one), as PyPI does. Each release entry also carries ``path`` (relative to
    ``packages/`` when the file lives there) and ``checksum``/``checksum_type``, which is what
    a Pulp 2 importer needs to sync from a pulp2ng repository.

    Args:
        name: the project name, in any spelling.
        files: the project's package dicts.
        base_url: prefix that turns a ``path`` into the entry's ``url``: an absolute URL of
            the publish root, or the default, relative to ``pypi/<norm>/json``.

    Returns:
        The JSON text.

    Raises:
        ValueError: a package dict belongs to another project.
    """
    files = _project_files(name, files)
    releases: dict[str, list] = {}
    for file in files:
        releases.setdefault(file["version"], []).append(_release_entry(file, base_url))
    versions = _versions(files)
    latest = _latest(versions)
    info_file = next((f for f in files if f["version"] == latest), None)
    info = {"name": info_file["name"], "version": latest} if info_file else {
        "name": name, "version": None}
    for key in _INFO_FIELDS:
        info[key] = info_file.get(key) if info_file else None
    return _dumps({"info": info, "releases": {v: releases[v] for v in versions},
                   "urls": releases.get(latest, []) if latest else []})


def _release_entry(file: Mapping, base_url: str) -> dict:
    """One ``releases[version][]`` entry."""
    path = file["path"]
    digests = {"sha256": file["sha256"]}
    if file.get("md5_digest"):
        digests["md5"] = file["md5_digest"]
    return {
        "filename": file["filename"],
        "url": f"{base_url}{quote(path)}",
        "path": path[len("packages/"):] if path.startswith("packages/") else path,
        "packagetype": file.get("packagetype") or _packagetype(file["filename"]),
        "python_version": file.get("python_version"),
        "requires_python": file.get("requires_python") or None,
        "md5_digest": file.get("md5_digest"),
        "digests": digests,
        "checksum": file["sha256"],
        "checksum_type": "sha256",
        "size": file.get("size"),
        "yanked": bool(file.get("yanked")),
        "yanked_reason": file["yanked"] if isinstance(file.get("yanked"), str) else None,
    }


def _packagetype(filename: str) -> str:
    """Fallback when the dict lacks packagetype; the distributor only holds wheels/sdists."""
    return "bdist_wheel" if filename.endswith(".whl") else "sdist"


def _yanked(file: Mapping):
    """PEP 592 in JSON: False, True, or the reason string."""
    value = file.get("yanked")
    if isinstance(value, str) and value:
        return value
    return bool(value)


def _version_key(version: str):
    """Sort by PEP 440, with unparsable legacy versions first and by text."""
    try:
        return (1, Version(version), version)
    except InvalidVersion:
        return (0, Version("0"), version)


def _sorted_files(files: Iterable[Mapping]) -> list[Mapping]:
    """Files by version, then file name: the order pages list them in."""
    return sorted(files, key=lambda f: (_version_key(f["version"]), f["filename"]))


def _project_files(name: str, files: Iterable[Mapping]) -> list[Mapping]:
    """Sorted files, refusing any of another project: a page must not list foreign files."""
    norm = canonicalize_name(name)
    files = _sorted_files(files)
    for file in files:
        if canonicalize_name(file["name"]) != norm:
            raise ValueError(f"{file['filename']} belongs to {file['name']!r}, not {name!r}")
    return files


def _versions(files: list[Mapping]) -> list[str]:
    """Distinct version strings in PEP 440 order."""
    return sorted({f["version"] for f in files}, key=_version_key)


def _latest(versions: list[str]) -> str | None:
    """Newest final release, else newest version at all."""
    final = [v for v in versions if not _version_key(v)[1].is_prerelease]
    return (final or versions or [None])[-1]


def _normalised(names: Iterable[str]) -> list[str]:
    """Distinct normalised names, sorted."""
    return sorted({canonicalize_name(n) for n in names})


def _dumps(data) -> str:
    """Deterministic JSON text."""
    return json.dumps(data, sort_keys=True, indent=1) + "\n"


def _document(title: str, body: str) -> str:
    """The HTML skeleton shared by the root and project pages."""
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        f"    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n"
        f"{body}  </body>\n</html>\n"
    )
