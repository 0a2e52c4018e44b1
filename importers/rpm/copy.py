"""What a ``yum_importer`` copy (``actions/associate/``) brings along, after pulp_rpm 2.x.

Override keys (also read from the importer's config): ``copy_children`` (default True) brings
the *children* of the selected units: an erratum's packages (its pkglist entries present in
the source, by NEVRA), a group's mandatory and default packages (the newest of each name in
the source), a category's or environment's groups (and their packages), a module's artifacts.
``recursive`` adds the dependencies of every package copied, the newest satisfying ones of the
source; ``recursive_conservative`` only those the destination does not already satisfy
(libsolv, depsolve.py). Comps units, ``modulemd_defaults`` and ``yum_repo_metadata_file``
are per repository (``repo_id`` in their key), so a copy saves them anew under the
destination's id, as Pulp 2 did (a destination's own unit of that key is replaced); other
units are associated as they are. A re-keyed unit with a file names the source's stored file
(same type, same content: one file), which orphan cleanup keeps while either unit exists.

Removal needs no rule here: ``actions/unassociate/`` removes only the selected units, so
removing an erratum, group or module leaves its packages in the repository, as in Pulp 2.

Memory: the selected units arrive with their keys only; children are read with projections
(``pkglist``, package names, ``artifacts``), and source packages are read one at a time into
the libsolv pool only when something is looked up or solved.
"""

from __future__ import annotations

from pulp2ng.importers.rpm.comps import COMPS_TYPES
from pulp2ng.importers.rpm.depsolve import SOLVER_FIELDS, SourcePool
from pulp2ng.importers.rpm.types import (
    ERRATUM,
    MODULEMD,
    MODULEMD_DEFAULTS,
    PACKAGE_CATEGORY,
    PACKAGE_ENVIRONMENT,
    PACKAGE_GROUP,
    PACKAGE_KEY,
    RPM,
    SRPM,
    UNIT_TYPES,
    YUM_METADATA_FILE,
)
from pulp2ng.plugin import PluginError

#: Types keyed by repository besides comps: re-keyed by a copy, replacing the destination's.
REPO_FILES = (MODULEMD_DEFAULTS, YUM_METADATA_FILE)
_KEYS = {t.id: t.unit_key for t in UNIT_TYPES}

_GROUP_PACKAGES = ("mandatory_package_names", "default_package_names")
_SOURCE_ARCHES = ("src", "nosrc")


class CopyConfigError(PluginError):
    """PLP1010: an override of the copy that is not a boolean."""

    code, http_status = "PLP1010", 400


class CopyPlan:
    """The units a copy associates (``units``) and the comps units it saves anew
    (``clones``), built by :meth:`build`."""

    def __init__(self, conduit):
        self.conduit = conduit
        self.units: list[dict] = []
        self.clones: dict[str, list[dict]] = {}
        self.unresolved: list[str] = []
        self._seen: set[str] = set()

    @classmethod
    def build(cls, conduit, config, units) -> "CopyPlan":
        plan = cls(conduit)
        children, recursive, conservative = _flags(config)
        by_type: dict[str, list[dict]] = {}
        for unit in units:
            by_type.setdefault(unit["_content_type_id"], []).append(unit)
        comps = {t: by_type.pop(t, []) for t in COMPS_TYPES}
        plan._clone({t: by_type.pop(t, []) for t in REPO_FILES})
        for group in by_type.values():
            plan._add(group)
        nevras: set[tuple] = set()
        names: set[str] = set()
        if children:
            nevras |= _errata_packages(conduit, by_type.get(ERRATUM, ()))
            nevras |= _module_artifacts(conduit, by_type.get(MODULEMD, ()))
            comps[PACKAGE_GROUP] += _member_groups(conduit, comps)
        plan._clone(comps)
        if children:
            names = {n for g in plan.clones.get(PACKAGE_GROUP, ())
                     for field in _GROUP_PACKAGES for n in g.get(field) or ()}
        deps = recursive or conservative
        if not (nevras or names or (deps and by_type.get(RPM))):
            return plan
        pool = SourcePool(with_deps=deps)
        for unit in conduit.source_units(RPM, SOLVER_FIELDS if deps else PACKAGE_KEY):
            pool.add_source(unit)
        if deps:  # the destination's packages: what they provide is enough
            for unit in conduit.repo_units(RPM, (*PACKAGE_KEY, "provides", "files")):
                pool.add_target(unit, conservative)
        found = [u for n in nevras if n[4] not in _SOURCE_ARCHES for u in pool.find_nevra(*n)]
        found += pool.newest(names)
        plan._add(found)
        plan._add(_source_packages(conduit, {n for n in nevras if n[4] in _SOURCE_ARCHES}))
        if deps:
            needed, plan.unresolved = pool.solve(
                [u["_id"] for u in (*by_type.get(RPM, ()), *found)])
            plan._add(needed)
        return plan

    def _add(self, units) -> None:
        for unit in units:
            if unit["_id"] not in self._seen:
                self._seen.add(unit["_id"])
                self.units.append(unit)

    def _clone(self, selected_by_type: dict[str, list[dict]]) -> None:
        """Read the selected per-repository units whole and re-key them to the destination."""
        for type_id, selected in selected_by_type.items():
            if not selected:
                continue
            keys = [{f: u.get(f) for f in _KEYS[type_id]} for u in selected]
            docs = self.conduit.find_units(type_id, keys).values()
            self.clones[type_id] = [
                {**{k: v for k, v in doc.items()
                    if k not in ("_id", "_content_type_id", "_last_updated")},
                 "repo_id": self.conduit.repo_id} for doc in docs]

    def save_clones(self) -> list[dict]:
        """Save the destination's comps units (associating them); returns them as copied
        units (``_id``, ``_content_type_id`` and key)."""
        saved = []
        for type_id, docs in self.clones.items():
            if type_id in REPO_FILES:  # the copied file wins over the destination's own
                self.conduit.update_units(type_id, docs)
            ids = self.conduit.save_units(type_id, docs)
            saved += [{**doc, "_id": uid, "_content_type_id": type_id}
                      for doc, uid in zip(docs, ids)]
        if self.unresolved:
            self.conduit.set_progress({"copy": {
                "unresolved_dependencies": self.unresolved[:50],
                "unresolved_count": len(self.unresolved)}}, force=True)
        return saved


def _flags(config) -> tuple[bool, bool, bool]:
    try:
        return (config.get_boolean("copy_children", True),
                bool(config.get_boolean("recursive", False)),
                bool(config.get_boolean("recursive_conservative", False)))
    except ValueError as exc:
        raise CopyConfigError(str(exc), property_names=["override_config"]) from None


def _errata_packages(conduit, errata) -> set[tuple]:
    """The NEVRAs the selected errata list (every collection)."""
    found = set()
    stored = conduit.find_units(ERRATUM, ({"id": e["id"]} for e in errata), ["pkglist"])
    for doc in stored.values():
        for collection in doc.get("pkglist") or ():
            for p in collection.get("packages") or ():
                found.add((p.get("name"), str(p.get("epoch") or "0"), p.get("version"),
                           p.get("release"), p.get("arch")))
    return found


def _module_artifacts(conduit, modules) -> set[tuple]:
    """The NEVRAs of the selected modules' artifacts (``name-epoch:version-release.arch``)."""
    keys = ({f: m[f] for f in ("name", "stream", "version", "context", "arch")}
            for m in modules)
    found = set()
    for doc in conduit.find_units(MODULEMD, keys, ["artifacts"]).values():
        for artifact in doc.get("artifacts") or ():
            nevra = parse_nevra(artifact)
            if nevra:
                found.add(nevra)
    return found


def parse_nevra(text: str) -> tuple | None:
    """``name-[epoch:]version-release.arch`` → ``(name, epoch, version, release, arch)``."""
    head, dot, arch = str(text).rpartition(".")
    parts = head.rsplit("-", 2)
    if not dot or len(parts) != 3 or not all(parts):
        return None
    name, version, release = parts
    epoch, colon, bare = version.partition(":")
    return (name, epoch, bare, release, arch) if colon else (name, "0", version, release, arch)


def _member_groups(conduit, comps: dict[str, list[dict]]) -> list[dict]:
    """The source's groups named by the selected categories and environments."""
    wanted = set()
    sources = ((PACKAGE_CATEGORY, ("packagegroupids",)),
               (PACKAGE_ENVIRONMENT, ("group_ids", "option_ids")))
    for type_id, fields in sources:
        keys = ({"id": u.get("id"), "repo_id": u["repo_id"]} for u in comps[type_id])
        for doc in conduit.find_units(type_id, keys, fields).values():
            wanted |= {g for f in fields for g in doc.get(f) or ()}
    keys = ({"id": g, "repo_id": conduit.source_repo_id} for g in sorted(wanted))
    return [{**doc, "_content_type_id": PACKAGE_GROUP}
            for doc in conduit.find_units(PACKAGE_GROUP, keys, ["id", "repo_id"]).values()
            if conduit.source_repo_id == doc.get("repo_id")]


def _source_packages(conduit, nevras: set[tuple]) -> list[dict]:
    """Source RPMs of the source repository with these NEVRAs (errata list them too)."""
    if not nevras:
        return []
    return [u for u in conduit.source_units(SRPM, PACKAGE_KEY)
            if (u["name"], str(u.get("epoch") or "0"), u["version"], u["release"], u["arch"])
            in nevras]

