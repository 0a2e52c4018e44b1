"""``python_distributor``: publish a repository as a static PyPI-compatible index, atomically.

Served at ``/pulp/python/web/<relative_url>/`` (``relative_url`` defaults to the repository
id); pip uses ``…/simple/``. The tree (pages from :mod:`.pages`)::

    simple/index.html|index.json               PEP 503 / PEP 691 project list
    simple/<norm>/index.html|index.json        links with #sha256= and data-requires-python
    pypi/<norm>/json/index.json                the PyPI JSON API (Pulp 2 importers read it)
    packages/source/<n>/<norm>/<file>          hard links to content storage
    packages/source/<n>/<norm>/<file>.metadata PEP 658 core metadata (wheels)

The ``packages/source/...`` layout is Pulp 2's, so Pulp 2 importers (which follow the JSON
``path`` below ``packages/``) and pulp2ng importers (which read the simple pages) both sync
from it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from packaging.utils import canonicalize_name

from pulp2ng.importers.python.types import TYPE
from pulp2ng.plugin import (
    Distributor,
    PublishReport,
    check_publish_path,
    consumer_payload_base,
    safe_relative_path,
)

from . import pages

AREA = "python"
WEB_PREFIX = "/pulp/python/web/"
_FIELDS = (
    "filename", "name", "version", "sha256", "size", "requires_python", "packagetype",
    "md5_digest", "yanked", "metadata_sha256", "_storage_path", "_metadata_storage_path",
    "summary", "author", "author_email", "license", "home_page", "requires_dist",
    "classifiers", "python_version",
)


def relative_url(repo, config) -> str:
    return (config.get("relative_url") or repo["id"]).strip("/")


class PythonDistributor(Distributor):
    web_areas = {WEB_PREFIX: AREA}
    config_keys = ("relative_url",)

    @classmethod
    def metadata(cls):
        return {"id": "python_distributor", "display_name": "Python Distributor",
                "types": [TYPE]}

    def validate_config(self, repo, config, config_conduit):
        ok, why = check_publish_path(repo, config, config_conduit, "relative_url")
        if not ok:
            return ok, why
        return True, None

    def publish_location(self, repo, config):
        return AREA, relative_url(repo, config)

    def publish_repo(self, repo, conduit, config):
        progress = {"state": "in_progress", "num_projects": 0, "num_files": 0,
                    "error_message": None}
        conduit.set_progress(progress, force=True)
        files = [_package(u) for u in conduit.repo_units(TYPE, _FIELDS)]
        projects = pages.group_by_project(files)
        progress.update(num_projects=len(projects), num_files=len(files))
        conduit.set_progress(progress, force=True)
        rel = relative_url(repo, config)
        # Absolute-path URLs in the JSON API: right whether or not a client adds a slash.
        web_root = f"{WEB_PREFIX}{rel}/"
        with conduit.publish_dir(AREA, rel) as tree:
            for i, file in enumerate(files):
                if i % 500 == 0:
                    conduit.check_canceled()
                conduit.link_file(file["_storage_path"], tree / file["path"])
                if file.get("metadata_sha256"):
                    conduit.link_file(file["_metadata_storage_path"],
                                      tree / (file["path"] + ".metadata"))
            _write(tree / "simple/index.html", pages.simple_root_html(projects))
            _write(tree / "simple/index.json", pages.simple_root_json(projects))
            for name, group in projects.items():
                _write(tree / f"simple/{name}/index.html", pages.simple_project_html(name, group))
                _write(tree / f"simple/{name}/index.json", pages.simple_project_json(name, group))
                _write(tree / f"pypi/{name}/json/index.json",
                       pages.pypi_project_json(name, group, web_root))
        progress["state"] = "complete"
        conduit.set_progress(progress, force=True)
        return PublishReport(True, summary={"num_projects": len(projects),
                                            "num_files": len(files)})

    def create_consumer_payload(self, repo, config, binding_config, server):
        """``url`` (the published tree), ``index_url`` (its PEP 503 ``simple/`` page, what
        pip's ``index-url`` takes), ``host`` and ``trusted_host`` (the host pip must be told
        to trust over plain HTTP; None with TLS, where ``ca_cert`` is the ``cert``)."""
        rel = relative_url(repo, config)
        payload = consumer_payload_base(server, binding_config, rel)
        url = f"{payload['server_url']}{WEB_PREFIX}{rel}/"
        host = urlsplit(url).hostname
        return {**payload, "url": url, "index_url": url + "simple/", "host": host,
                "trusted_host": None if payload["tls"] else host}


def _package(unit: dict) -> dict:
    """A unit as :mod:`.pages` wants it, with its place in the tree.

    File names were checked when the unit was created; the check is repeated because the
    name becomes a path in the published tree.
    """
    norm = canonicalize_name(unit["name"])
    path = safe_relative_path(f"packages/source/{norm[0]}/{norm}/{unit['filename']}")
    if path is None:
        raise ValueError(f"unit {unit['_id']} has an unsafe file name {unit['filename']!r}")
    if not unit.get("_metadata_storage_path"):
        unit = {**unit, "metadata_sha256": None}
    return {**unit, "path": path}


def _write(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
