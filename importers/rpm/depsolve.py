"""Dependency solving for copies (``recursive`` / ``recursive_conservative``) with libsolv.

A :class:`SourcePool` holds the source repository's binary packages as libsolv solvables,
built from the units' stored requires/provides (and primary.xml's file list, for file
requires) read one projected unit at a time: libsolv keeps them compactly, Python keeps only
each solvable's unit id and key. The destination's packages join as libsolv's *installed*
repository when the copy is conservative, so a requirement the destination already satisfies
pulls nothing (not even a newer version); otherwise they join as a low-priority repository
that is used only when the source has no provider, and the newest satisfying provider of the
source is chosen.

The solve installs the wanted packages with weak jobs (a package whose dependencies cannot be
met is reported, not fatal: it is still copied itself, as Pulp 2 did) and every package
multiversion (so two versions of one name, both selected, do not conflict). Only Requires
count; weak dependencies (Recommends…) are not followed, as in pulp_rpm 2.x.
"""

from __future__ import annotations

from collections import Counter

import solv

from pulp2ng.importers.rpm.types import PACKAGE_KEY

#: What the pool needs of a unit: its key, dependencies and primary file list.
SOLVER_FIELDS = (*PACKAGE_KEY, "provides", "requires", "files")
_FLAGS = {"EQ": solv.REL_EQ, "LT": solv.REL_LT, "GT": solv.REL_GT,
          "LE": solv.REL_LT | solv.REL_EQ, "GE": solv.REL_GT | solv.REL_EQ}
_SKIP_ARCHES = {"noarch", "src", "nosrc"}


def evr(epoch, version, release) -> str:
    """libsolv's ``[epoch:]version[-release]`` text (an epoch of 0 is left out, as rpm)."""
    text = f"{epoch}:{version}" if epoch not in (None, "", "0", 0) else str(version)
    return f"{text}-{release}" if release else text


class SourcePool:
    """The source's packages (and the destination's) in one libsolv pool."""

    def __init__(self, with_deps: bool):
        self.pool = solv.Pool()
        self.pool.setdisttype(solv.Pool.DISTTYPE_RPM)
        self.source = self.pool.add_repo("source")
        self.source.priority = 99
        self.target = None
        self.with_deps = with_deps
        self.units: dict[int, dict] = {}  # solvable id → the source unit's id and key
        self.by_nevra: dict[tuple, list[int]] = {}
        self.by_id: dict[str, int] = {}
        self._arches: Counter = Counter()
        self._ready = False

    # -- building ---------------------------------------------------------------------------

    def add_source(self, unit: dict) -> None:
        """Add one source package (a unit read with :data:`SOLVER_FIELDS`, or only its key
        when dependencies are not solved)."""
        solvable = self._solvable(self.source, unit)
        self.units[solvable.id] = {"_id": unit["_id"], "_content_type_id": unit["_content_type_id"],
                                   **{f: unit.get(f) for f in PACKAGE_KEY}}
        self.by_id[unit["_id"]] = solvable.id
        nevra = (unit["name"], str(unit.get("epoch") or "0"), unit["version"], unit["release"],
                 unit["arch"])
        self.by_nevra.setdefault(nevra, []).append(solvable.id)
        self._arches[unit["arch"]] += 1

    def add_target(self, unit: dict, conservative: bool) -> None:
        """Add one destination package: installed (conservative) or a fallback provider."""
        if self.target is None:
            self.target = self.pool.add_repo("target")
            self.target.priority = 0
            if conservative:
                self.pool.installed = self.target
        self._solvable(self.target, unit)

    def _solvable(self, repo, unit: dict):
        pool = self.pool
        solvable = repo.add_solvable()
        solvable.name = unit["name"]
        solvable.evr = evr(unit.get("epoch"), unit["version"], unit["release"])
        solvable.arch = unit["arch"]
        solvable.add_deparray(solv.SOLVABLE_PROVIDES, pool.rel2id(
            solvable.nameid, solvable.evrid, solv.REL_EQ))
        if not self.with_deps:
            return solvable
        for dep in unit.get("provides") or ():
            dep_id = self._dep(dep)
            if dep_id:
                solvable.add_deparray(solv.SOLVABLE_PROVIDES, dep_id)
        for kind in ("file", "dir", "ghost"):
            for path in (unit.get("files") or {}).get(kind, ()):
                solvable.add_deparray(solv.SOLVABLE_PROVIDES, pool.str2id(path))
        for dep in unit.get("requires") or ():
            dep_id = self._dep(dep)
            if dep_id:
                solvable.add_deparray(solv.SOLVABLE_REQUIRES, dep_id)
        return solvable

    def _dep(self, dep: dict) -> int:
        """A dependency as stored (``{name, flags, epoch, version, release}``) → libsolv id;
        a rich (boolean) dependency, stored as its whole text in ``name``, is parsed by
        libsolv. 0 for what no repository provides (``rpmlib(…)``) or cannot be parsed."""
        name = dep.get("name") or ""
        if not name or name.startswith("rpmlib("):
            return 0
        if name.startswith("("):
            parsed = self.pool.parserpmrichdep(name)
            return parsed.id if parsed else 0
        name_id = self.pool.str2id(name)
        flags = _FLAGS.get(str(dep.get("flags") or "").upper())
        if not flags or dep.get("version") in (None, ""):
            return name_id
        version = evr(dep.get("epoch"), dep["version"], dep.get("release"))
        return self.pool.rel2id(name_id, self.pool.str2id(version), flags)

    def _prepare(self) -> None:
        if self._ready:
            return
        # libsolv ignores packages of arches the pool's arch cannot install: take the
        # source's most common binary arch (noarch-only repositories: the default).
        arches = [a for a, _ in self._arches.most_common() if a not in _SKIP_ARCHES]
        self.pool.setarch(arches[0]) if arches else self.pool.setarch()
        self.source.internalize()
        if self.target is not None:
            self.target.internalize()
        self.pool.addfileprovides()
        self.pool.createwhatprovides()
        self._ready = True

    # -- queries ------------------------------------------------------------------------------

    def find_nevra(self, name, epoch, version, release, arch) -> list[dict]:
        """The source units with this NEVRA (one per checksum)."""
        ids = self.by_nevra.get((name, str(epoch or "0"), version, release, arch), ())
        return [self.units[i] for i in ids]

    def newest(self, names) -> list[dict]:
        """The newest source package of each name (one per arch), as libsolv orders EVRs."""
        self._prepare()
        found = []
        for name in sorted(set(names)):
            best: dict = {}
            for s in self.pool.whatprovides(self.pool.str2id(name)):
                if s.repo != self.source or s.name != name:
                    continue
                if s.arch not in best or s.evrcmp(best[s.arch]) > 0:
                    best[s.arch] = s
            found += [self.units[s.id] for _, s in sorted(best.items())]
        return found

    def solve(self, unit_ids) -> tuple[list[dict], list[str]]:
        """The source packages needed to install the units ``unit_ids`` (source ids) with
        their dependencies, and the names of those whose dependencies could not be met."""
        self._prepare()
        wanted = [self.by_id[u] for u in unit_ids if u in self.by_id]
        if not wanted:
            return [], []
        job = solv.Job
        jobs = [self.pool.Job(job.SOLVER_SOLVABLE | job.SOLVER_INSTALL | job.SOLVER_WEAK, sid)
                for sid in wanted]
        jobs.append(self.pool.Job(job.SOLVER_SOLVABLE_ALL | job.SOLVER_MULTIVERSION, 0))
        solver = self.pool.Solver()
        solver.set_flag(solv.Solver.SOLVER_FLAG_IGNORE_RECOMMENDED, 1)
        solver.set_flag(solv.Solver.SOLVER_FLAG_ALLOW_UNINSTALL, 1)
        solver.solve(jobs)  # weak jobs: what cannot be installed is dropped, not a problem
        chosen = {s.id for s in solver.transaction().newsolvables() if s.repo == self.source}
        unmet = sorted(str(self.pool.id2solvable(sid)) for sid in wanted
                       if sid not in chosen and not self._in_target(sid))
        return [self.units[sid] for sid in sorted(chosen)], unmet

    def _in_target(self, sid: int) -> bool:
        """The destination already holds this very package (same name and EVR and arch)."""
        if self.target is None:
            return False
        solvable = self.pool.id2solvable(sid)
        return any(s.repo == self.target and s.evrid == solvable.evrid
                   and s.archid == solvable.archid
                   for s in self.pool.whatprovides(solvable.nameid))
