"""``yum_distributor``: publish a repository's packages as a yum repository, atomically.

Served at ``/pulp/repos/<relative_url>/`` (Pulp 2's path)::

    Packages/<first letter>/<file>.rpm      hard links to content storage
    repodata/repomd.xml                     + primary, filelists, other (xml.gz, and
                                              sqlite.bz2 with ``generate_sqlite``)
    <repo_id>.repo                          a client configuration pointing here
    RPM-GPG-KEY                             the ``gpgkey`` option's public key (gpgkey.py)

The repodata is written with createrepo_c while the units stream from the database, so a
publish holds one package at a time. Pulp 2 published separate ``http`` and ``https`` trees;
pulp2ng serves one tree on each listener, so the flags only choose the ``.repo`` file's URL.
A publish with no change since the last one is skipped by the platform (unless ``force_full``).
Errata and comps are written by :mod:`errata_comps`; delta RPMs, modules, the distribution
tree and other metadata files by :mod:`extras`; all listed in the same repomd.
"""

from __future__ import annotations

import os
import time

import createrepo_c as cr

from pulp2ng.distributors.rpm import gpgkey
from pulp2ng.distributors.rpm.errata_comps import (
    validate_errata_comps_config,
    write_errata_and_comps,
)
from pulp2ng.distributors.rpm.extras import EXTRA_TYPES, publish_extras
from pulp2ng.importers.rpm.comps import COMPS_TYPES
from pulp2ng.importers.rpm.packages import checksum_type, package_from_unit
from pulp2ng.importers.rpm.types import ERRATUM, RPM, SRPM
from pulp2ng.plugin import (
    Distributor,
    PublishReport,
    check_publish_path,
    consumer_payload_base,
)

AREA = "repos"
WEB_PREFIX = "/pulp/repos/"
REQUIRED = ("relative_url", "http", "https")


def relative_url(repo, config) -> str:
    return (config.get("relative_url") or repo["id"]).strip("/")


class YumDistributor(Distributor):
    web_areas = {WEB_PREFIX: AREA}
    default_config = {"generate_sqlite": False, "checksum_type": "sha256"}
    config_keys = ("relative_url", "http", "https", "force_full", "gpgkey",
                   "skip", "updateinfo_checksum_type")

    @classmethod
    def metadata(cls):
        return {"id": "yum_distributor", "display_name": "Yum Distributor",
                "types": [RPM, SRPM, ERRATUM, *COMPS_TYPES,
                          *(t for t in EXTRA_TYPES if t not in (ERRATUM, *COMPS_TYPES))]}

    def validate_config(self, repo, config, config_conduit):
        missing = [key for key in REQUIRED if config.get(key) is None]
        if missing:
            return False, f"Configuration key(s) are required: {', '.join(missing)}"
        ok, why = check_publish_path(repo, config, config_conduit, "relative_url")
        if not ok:
            return ok, why
        try:
            for key in ("http", "https", "generate_sqlite", "force_full"):
                config.get_boolean(key)
        except ValueError as exc:
            return False, str(exc)
        if config.get("skip") is not None and not isinstance(config.get("skip"), list):
            return False, "skip must be a list of unit type ids"
        # createrepo_c 1.x writes sha224-sha512 repomd checksums only: md5 and sha1, which
        # Pulp 2 accepted, would fail every publish, so they are refused here
        kind = checksum_type(config.get("checksum_type"))
        if kind is None or cr.checksum_type(kind) == cr.UNKNOWN_CHECKSUM:
            return False, (f"checksum_type {config.get('checksum_type')!r} is not supported; "
                           "use sha224, sha256, sha384 or sha512")
        problem = gpgkey.validate(config) or validate_errata_comps_config(config)
        if problem:
            return False, problem
        return True, None

    def publish_location(self, repo, config):
        return AREA, relative_url(repo, config)

    def publish_repo(self, repo, conduit, config):
        progress = {"state": "IN_PROGRESS", "items_total": 0, "num_processed": 0,
                    "error_message": None}
        conduit.set_progress(progress, force=True)
        total = sum(len(conduit.repo_unit_ids(t)) for t in (RPM, SRPM))
        progress["items_total"] = total
        rel = relative_url(repo, config)
        sqlite = config.get_boolean("generate_sqlite", False)
        kind = checksum_type(config.get("checksum_type"))
        with conduit.publish_dir(AREA, rel) as tree:
            repodata = tree / "repodata"
            repodata.mkdir()
            writer = RepodataWriter(repodata, total, sqlite)
            try:
                for type_id in (RPM, SRPM):
                    for unit in conduit.repo_units(type_id):
                        if progress["num_processed"] % 500 == 0:
                            conduit.check_canceled()
                            conduit.set_progress(progress)
                        location = f"Packages/{unit['filename'][0].lower()}/{unit['filename']}"
                        conduit.link_file(unit["_storage_path"], tree / location)
                        writer.add(package_from_unit(unit, location))
                        progress["num_processed"] += 1
            finally:
                writer.close()
            # updateinfo + comps (errata_comps.py); delta RPMs, modules, the distribution
            # tree, other metadata files (extras.py): listed in the same repomd
            writer.extra += write_errata_and_comps(conduit, repodata, config)
            writer.extra += [(mdtype, path, None) for mdtype, path in
                             publish_extras(conduit, tree, set(config.get("skip") or ()))]
            writer.write_repomd(kind)
            (tree / f"{repo['id']}.repo").write_text(
                repo_file(repo, config, conduit.server_info()))
            gpgkey.write(tree, config)
        progress["state"] = "FINISHED"
        conduit.set_progress(progress, force=True)
        return PublishReport(True, summary={"num_units": total})

    def create_consumer_payload(self, repo, config, binding_config, server):
        """``url`` (the published repository, ending in ``/``) and ``repo_file``."""
        rel = relative_url(repo, config)
        payload = consumer_payload_base(server, binding_config, rel)
        url = f"{payload['server_url']}{WEB_PREFIX}{rel}/"
        return {**payload, "url": url, "repo_name": repo.get("display_name") or repo["id"],
                "gpgkey": config.get("gpgkey")}


def repo_file(repo, config, server: dict) -> str:
    """A dnf/yum ``.repo`` section for this repository (HTTPS when ``http`` is off)."""
    use_https = not config.get_boolean("http") and config.get_boolean("https")
    root = (server.get("https_url") if use_https else None) or server["base_url"]
    name = (repo.get("display_name") or repo["id"]).replace("\n", " ")
    baseurl = f"{root.rstrip('/')}{WEB_PREFIX}{relative_url(repo, config)}/"
    return (f"[{repo['id']}]\nname={name}\nbaseurl={baseurl}\nenabled=1\n"
            + gpgkey.repo_file_lines(config, baseurl))


class RepodataWriter:
    """primary/filelists/other (and their sqlite databases) for one publish."""

    def __init__(self, repodata, count: int, sqlite: bool):
        self.repodata = repodata
        self.xml = {
            "primary": cr.PrimaryXmlFile(str(repodata / "primary.xml.gz")),
            "filelists": cr.FilelistsXmlFile(str(repodata / "filelists.xml.gz")),
            "other": cr.OtherXmlFile(str(repodata / "other.xml.gz")),
        }
        for file in self.xml.values():
            file.set_num_of_pkgs(count)
        self.db = {
            "primary": cr.PrimarySqlite(str(repodata / "primary.sqlite")),
            "filelists": cr.FilelistsSqlite(str(repodata / "filelists.sqlite")),
            "other": cr.OtherSqlite(str(repodata / "other.sqlite")),
        } if sqlite else {}
        #: more files for repomd, ``(data_type, path, checksum type or None for the
        #: repository's)``, written by the publish steps of other content types
        self.extra: list[tuple] = []
        self.closed = False

    def add(self, pkg) -> None:
        for file in self.xml.values():
            file.add_pkg(pkg)
        for db in self.db.values():
            db.add_pkg(pkg)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            for file in self.xml.values():
                file.close()

    def write_repomd(self, kind: str) -> None:
        """Checksum every file, name it by its checksum, and write repomd.xml last."""
        ctype = cr.checksum_type(kind)
        repomd = cr.Repomd()
        repomd.set_revision(str(int(time.time())))
        for name in ("primary", "filelists", "other"):
            record = cr.RepomdRecord(name, str(self.repodata / f"{name}.xml.gz"))
            record.fill(ctype)
            if name in self.db:
                db = self.db[name]
                db.dbinfo_update(record.checksum)
                db.close()
                plain = self.repodata / f"{name}.sqlite"
                cr.compress_file(str(plain), None, cr.BZ2)
                os.unlink(plain)
                db_record = cr.RepomdRecord(f"{name}_db", f"{plain}.bz2")
                db_record.fill(ctype)
                db_record.rename_file()
                repomd.set_record(db_record)
            record.rename_file()
            repomd.set_record(record)
        for data_type, path, extra_kind in self.extra:  # (repomd type, file, checksum type)
            record = cr.RepomdRecord(data_type, str(path))
            record.fill(cr.checksum_type(extra_kind) if extra_kind else ctype)
            record.rename_file()
            repomd.set_record(record)
        (self.repodata / "repomd.xml").write_text(repomd.xml_dump())
