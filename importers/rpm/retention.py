"""``retain_old_count``: keep only the newest N+1 versions of each package.

As pulp_rpm 2.x: packages are grouped by type, name and arch, and only the newest
``retain_old_count`` + 1 versions (by EVR, rpm's ordering) of each group stay. A sync applies
it twice: :class:`Wanted` screens upstream before anything is downloaded (a version that would
be dropped at once is never fetched), and :func:`prune` unassociates the older versions the
repository already held (from earlier syncs, uploads or copies) once the new ones are in.
Both hold one small EVR tuple per package version kept, never a package's metadata.
"""

from __future__ import annotations

import functools

import createrepo_c as cr

from pulp2ng.importers.rpm.errors import YumMetadataParseError
from pulp2ng.importers.rpm.packages import type_of


def rpmvercmp(a: str, b: str) -> int:
    """rpm's version segment comparison (``rpmvercmp``): -1, 0 or 1.

    Alphanumeric segments compare numerically (digits) or as strings (letters), a numeric
    segment is newer than an alphabetic one, ``~`` sorts before anything (even the end) and
    ``^`` after the end but before anything else."""
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        while i < len(a) and not _alnum(a[i]) and a[i] not in "~^":
            i += 1
        while j < len(b) and not _alnum(b[j]) and b[j] not in "~^":
            j += 1
        ca = a[i] if i < len(a) else ""
        cb = b[j] if j < len(b) else ""
        if ca == "~" or cb == "~":
            if ca != "~":
                return 1
            if cb != "~":
                return -1
            i, j = i + 1, j + 1
            continue
        if ca == "^" or cb == "^":
            if not ca:
                return -1
            if not cb:
                return 1
            if ca != "^":
                return 1
            if cb != "^":
                return -1
            i, j = i + 1, j + 1
            continue
        if not ca or not cb:
            break
        numeric = ca.isdigit()
        same_kind = str.isdigit if numeric else _alpha
        ii, jj = i, j
        while ii < len(a) and same_kind(a[ii]):
            ii += 1
        while jj < len(b) and same_kind(b[jj]):
            jj += 1
        one, two = a[i:ii], b[j:jj]
        if not two:
            return 1 if numeric else -1
        if numeric:
            one, two = one.lstrip("0"), two.lstrip("0")
            if len(one) != len(two):
                return 1 if len(one) > len(two) else -1
        if one != two:
            return 1 if one > two else -1
        i, j = ii, jj
    if i >= len(a) and j >= len(b):
        return 0
    return -1 if i >= len(a) else 1


def _alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


def _alpha(c: str) -> bool:
    return c.isascii() and c.isalpha()


def evr_compare(x: tuple, y: tuple) -> int:
    """Compare ``(epoch, version, release)`` tuples as rpm does."""
    ex, ey = int(x[0] or 0), int(y[0] or 0)
    if ex != ey:
        return 1 if ex > ey else -1
    return rpmvercmp(x[1] or "", y[1] or "") or rpmvercmp(x[2] or "", y[2] or "")


_EVR_KEY = functools.cmp_to_key(evr_compare)


def _evr(epoch, version, release) -> tuple:
    try:
        epoch = int(epoch or 0)
    except (TypeError, ValueError):
        epoch = 0
    return (epoch, version or "", release or "")


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
            kept.sort(key=_EVR_KEY, reverse=True)
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
