"""The metadata units of a yum sync: errata (updateinfo) and comps.

Runs in two phases around the package sync so a sync stays all or nothing: ``fetch`` (while
the downloader is open, before anything is stored) downloads the files repomd.xml lists,
verifies them against repomd and parses them, spooling erratum units to a JSON-lines file in
the task's temp dir; ``apply`` (after the packages are stored) saves and associates the units
in batches and, with ``remove_missing``, drops the repository's units no longer upstream.

Comps are small (one document per repository) and kept in memory; updateinfo is parsed by
createrepo_c into memory once (its parser has no per-record callback), then spooled.
"""

from __future__ import annotations

import json

import createrepo_c as cr

from pulp2ng.importers.rpm.comps import COMPS_TYPES, CompsParseError, parse_comps, units_from_comps
from pulp2ng.importers.rpm.errata import parse_updateinfo, unit_from_record
from pulp2ng.importers.rpm.errors import YumMetadataParseError
from pulp2ng.importers.rpm.feeds import fetch_record
from pulp2ng.importers.rpm.types import ERRATUM, UNIT_TYPES

BATCH = 500
KEYS = {t.id: t.unit_key for t in UNIT_TYPES}
#: repomd data types of comps, best first (plain before compressed, as yum preferred).
COMPS_DATA_TYPES = ("group", "group_gz", "group_xz", "group_zck")


class MetadataUnits:
    """Errata and comps of one sync (``skip`` honoured per unit type)."""

    def __init__(self, conduit, repo_id: str, skip: set):
        self.conduit = conduit
        self.repo_id = repo_id
        self.errata = ERRATUM not in skip
        self.comps_types = [t for t in COMPS_TYPES if t not in skip]
        self.errata_spool = None
        self.comps_units: dict[str, list[dict]] = {}
        self.errata_seen = False
        self.comps_seen = False

    def fetch(self, downloader, feed: str, progress) -> None:
        if not self.errata and not self.comps_types:
            return
        repomd = cr.Repomd(str(self.conduit.temp_dir / "repomd.xml"))
        records = {r.type: r for r in repomd.records}
        if self.errata:
            progress.step("errata", "IN_PROGRESS")
            record = records.get("updateinfo")
            if record is not None:
                self.errata_seen = True
                path = fetch_record(downloader, feed, record)
                self._spool_errata(path)
            progress.step("errata", "FINISHED")
        if self.comps_types:
            progress.step("comps", "IN_PROGRESS")
            record = next((records[t] for t in COMPS_DATA_TYPES if t in records), None)
            if record is not None:
                self.comps_seen = True
                path = fetch_record(downloader, feed, record)
                self._read_comps(path)
            progress.step("comps", "FINISHED")

    def _spool_errata(self, path) -> None:
        try:
            updates = parse_updateinfo(path)
        except Exception as exc:  # createrepo_c's own error types
            raise YumMetadataParseError(
                f"Could not parse repository metadata: updateinfo: {exc}") from None
        self.errata_spool = self.conduit.temp_dir / "errata.jsonl"
        with open(self.errata_spool, "w") as out:
            for record in updates:
                if not record.id:
                    raise YumMetadataParseError("updateinfo: an update has no id")
                out.write(json.dumps(unit_from_record(record)) + "\n")

    def _read_comps(self, path) -> None:
        plain = self.conduit.temp_dir / "comps.xml"
        try:
            cr.decompress_file(str(path), str(plain), cr.AUTO_DETECT_COMPRESSION)
            comps = parse_comps(plain.read_text())
        except (CompsParseError, cr.CreaterepoCError, UnicodeDecodeError) as exc:
            raise YumMetadataParseError(
                f"Could not parse repository metadata: comps: {exc}") from None
        units = units_from_comps(comps, self.repo_id)
        self.comps_units = {t: units[t] for t in self.comps_types}

    def apply(self, remove_missing: bool) -> None:
        """Save and associate; with ``remove_missing`` unassociate what left upstream (a
        repository whose upstream stopped listing updateinfo or comps loses those units)."""
        conduit = self.conduit
        if self.errata:
            before = conduit.repo_unit_ids(ERRATUM) if remove_missing else set()
            upstream: set[str] = set()
            batch: list[dict] = []
            for unit in _read_lines(self.errata_spool):
                batch.append(unit)
                if len(batch) >= BATCH:
                    upstream.update(self._save(ERRATUM, batch))
                    batch = []
            if batch:
                upstream.update(self._save(ERRATUM, batch))
            if remove_missing:
                conduit.unassociate_units(ERRATUM, before - upstream)
        for type_id in self.comps_types:
            before = conduit.repo_unit_ids(type_id) if remove_missing else set()
            units = self.comps_units.get(type_id) or []
            upstream = set(self._save(type_id, units)) if units else set()
            if remove_missing:
                conduit.unassociate_units(type_id, before - upstream)

    def _save(self, type_id: str, units: list[dict]) -> list[str]:
        """Save new units, associate all, and bring stored ones up to date: an erratum
        when upstream's ``updated`` is later (pulp_rpm 2.x's rule; errata are shared by
        repositories), a comps unit (this repository's own) whenever it differs."""
        conduit = self.conduit
        conduit.check_canceled()
        stored = conduit.find_units(type_id, ({f: u[f] for f in KEYS[type_id]} for u in units))
        revised = []
        for unit in units:
            old = stored.get(conduit.unit_id(type_id, {f: unit[f] for f in KEYS[type_id]}))
            if old is None:
                continue
            if type_id == ERRATUM:
                if (unit.get("updated") or "") > (old.get("updated") or ""):
                    revised.append(unit)
            elif any(old.get(k) != v for k, v in unit.items()):
                revised.append(unit)
        if revised:
            conduit.update_units(type_id, revised)
        return conduit.save_units(type_id, units)


def _read_lines(path):
    if path is None:
        return
    with open(path) as spool:
        for line in spool:
            yield json.loads(line)


