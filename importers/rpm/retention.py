"""``retain_old_count``: keep only the newest N+1 versions of each package.

As pulp_rpm 2.x: packages are grouped by type, name and arch, and only the newest
``retain_old_count`` + 1 versions (by EVR, rpm's ordering) of each group stay. A sync applies
it twice: :class:`Wanted` screens upstream before anything is downloaded (a version that would
be dropped at once is never fetched), and :func:`prune` unassociates the older versions the
repository already held (from earlier syncs, uploads or copies) once the new ones are in.
Both hold one small EVR tuple per package version kept, never a package's metadata.
"""

from __future__ import annotations

import createrepo_c as cr

from pulp2ng.importers.rpm.errors import YumMetadataParseError
from pulp2ng.importers.rpm.evr import epoch_int, evr_key
from pulp2ng.importers.rpm.packages import type_of


def _evr(epoch, version, release) -> tuple:
    return (epoch_int(epoch), version or "", release or "")


class _Newest:
    """Per group, the newest ``keep`` distinct EVRs seen so far."""

    def __init__(self, keep: int):
        self.keep = keep
        self.groups: dict[tuple, list] = {}

    def add(self, group: tuple, evr: tuple) -> None:
        kept = self.groups.setdefault(group, [])
        if evr in kept:
            return
        kept.append(evr)
        if len(kept) > self.keep:
            kept.sort(key=evr_key, reverse=True)
            del kept[self.keep:]

    def kept(self, group: tuple, evr: tuple) -> bool:
        return evr in self.groups.get(group, ())


class Wanted:
    """The upstream package versions a sync with ``retain_old_count`` = N fetches: one extra
    streaming pass over primary.xml (no file lists) before the real one."""

    def __init__(self, primary_path, retain_old_count: int):
        self.newest = _Newest(retain_old_count + 1)

        def on_package(pkg):
            self.newest.add((type_of(pkg), pkg.name, pkg.arch),
                            _evr(pkg.epoch, pkg.version, pkg.release))
            return True

        try:
            cr.xml_parse_primary(str(primary_path), pkgcb=on_package, do_files=False)
        except Exception as exc:  # createrepo_c's own error types
            raise YumMetadataParseError(
                f"Could not parse repository metadata: primary.xml: {exc}") from None

    def __call__(self, type_id: str, unit: dict) -> bool:
        return self.newest.kept((type_id, unit["name"], unit["arch"]),
                                _evr(unit["epoch"], unit["version"], unit["release"]))


def prune(conduit, types, retain_old_count: int) -> int:
    """Unassociate every package of ``types`` older than its group's newest N+1 versions;
    returns how many were removed."""
    removed = 0
    for type_id in types:
        newest = _Newest(retain_old_count + 1)
        versions: list[tuple] = []
        for unit in conduit.repo_units(type_id, ["name", "arch", "epoch", "version",
                                                 "release"]):
            group = (unit["name"], unit["arch"])
            evr = _evr(unit.get("epoch"), unit.get("version"), unit.get("release"))
            newest.add(group, evr)
            versions.append((unit["_id"], group, evr))
        old = {uid for uid, group, evr in versions if not newest.kept(group, evr)}
        if old:
            conduit.unassociate_units(type_id, old)
            removed += len(old)
    return removed
