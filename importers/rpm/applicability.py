"""Applicability of RPM content to consumer profiles (pulp_rpm 2.x's YumProfiler, the deciding
part), registered under ``pulp2ng.applicability``.

* ``rpm`` profiles, as Pulp 2's agents reported them: ``[{name, epoch, version, release, arch,
  vendor?}]`` (``epoch`` an int or a string) →

  - ``rpm`` units of the same name and arch with a newer EVR than the newest installed one
    (rpm's ordering, :mod:`pulp2ng.importers.rpm.evr`); only the newest such EVR per
    name.arch is reported (every unit of it), as pulp_rpm did;
  - ``erratum`` units with a package (in any collection of ``pkglist``) that updates an
    installed package to a newer EVR of the same name and arch *and* is in the repository
    (an erratum whose update the repository cannot deliver does not apply through it).

* ``modulemd`` profiles (enabled module streams, as Katello's agent reported them:
  ``[{name, stream, version?, context?, arch?, status?}]``; ``status: disabled`` entries are
  ignored) → ``modulemd`` units of an enabled name and stream (and arch, when the profile
  names one) with a newer ``version``: the newest version per stream, every context of it.
  An entry without ``version`` gets the stream's newest version.

Not done (pulp_rpm 2.18+ did): hiding modular RPMs and modular errata from consumers that
have not enabled their stream; that needs both profiles in one computation, and the platform
computes per profile.
"""

from __future__ import annotations

from pulp2ng.importers.rpm.evr import compare_evr, epoch_int
from pulp2ng.importers.rpm.types import ERRATUM, MODULEMD, RPM
from pulp2ng.plugin import ApplicabilityCalculator

NEVRA_FIELDS = ("name", "version", "release", "arch")


def _entries(profile):
    return [e for e in profile if isinstance(e, dict)] if isinstance(profile, list) else []


def _evr(doc) -> tuple:
    return (epoch_int(doc.get("epoch")), str(doc.get("version") or ""),
            str(doc.get("release") or ""))


def _newest_installed(profile) -> dict[tuple[str, str], tuple]:
    """(name, arch) → the newest installed EVR (several kernels may be installed)."""
    newest: dict[tuple[str, str], tuple] = {}
    for entry in _entries(profile):
        if not all(isinstance(entry.get(k), str) for k in NEVRA_FIELDS):
            continue
        key, evr = (entry["name"], entry["arch"]), _evr(entry)
        if key not in newest or compare_evr(evr, newest[key]) > 0:
            newest[key] = evr
    return newest


class RpmApplicability(ApplicabilityCalculator):
    content_type = "rpm"
    unit_fields = {RPM: ("name", "epoch", "version", "release", "arch"),
                   ERRATUM: ("pkglist",)}

    def validate_profile(self, profile):
        if not isinstance(profile, list):
            return "an rpm profile must be a list of installed packages"
        for i, entry in enumerate(profile):
            if not isinstance(entry, dict) or any(
                    not isinstance(entry.get(k), str) or not entry[k] for k in NEVRA_FIELDS):
                return (f"profile[{i}]: each rpm profile entry needs string name, version, "
                        "release and arch")
            epoch = entry.get("epoch")
            if epoch is not None and (isinstance(epoch, bool)
                                      or not isinstance(epoch, (int, str))
                                      or not str(epoch).strip().isdigit()):
                return f"profile[{i}]: epoch must be a non-negative number"
        return None

    def applicable(self, profile, units):
        installed = _newest_installed(profile)
        return {RPM: self._rpms(installed, units.get(RPM, ())),
                ERRATUM: self._errata(installed, units.get(RPM, ()),
                                      units.get(ERRATUM, ()))}

    @staticmethod
    def _rpms(installed, rpms) -> list[str]:
        best: dict[tuple[str, str], tuple[tuple, list[str]]] = {}
        for unit in rpms:
            key = (unit.get("name"), unit.get("arch"))
            have = installed.get(key)
            if have is None:
                continue
            evr = _evr(unit)
            if compare_evr(evr, have) <= 0:
                continue
            current = best.get(key)
            order = 1 if current is None else compare_evr(evr, current[0])
            if order > 0:
                best[key] = (evr, [unit["_id"]])
            elif order == 0:
                current[1].append(unit["_id"])
        return sorted(uid for _, ids in best.values() for uid in ids)

    @staticmethod
    def _errata(installed, rpms, errata) -> list[str]:
        if not installed:
            return []
        in_repo = {(u.get("name"), u.get("arch"), _evr(u)) for u in rpms}
        out = []
        for erratum in errata:
            for package in _erratum_packages(erratum):
                key = (package.get("name"), package.get("arch"))
                have = installed.get(key)
                evr = _evr(package)
                if (have is not None and compare_evr(evr, have) > 0
                        and (*key, evr) in in_repo):
                    out.append(erratum["_id"])
                    break
        return sorted(out)


def _erratum_packages(erratum):
    for collection in erratum.get("pkglist") or ():
        if isinstance(collection, dict):
            for package in collection.get("packages") or ():
                if isinstance(package, dict):
                    yield package


def _module_version(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


class ModulemdApplicability(ApplicabilityCalculator):
    content_type = "modulemd"
    unit_fields = {MODULEMD: ("name", "stream", "version", "context", "arch")}

    def validate_profile(self, profile):
        if not isinstance(profile, list):
            return "a modulemd profile must be a list of module streams"
        for i, entry in enumerate(profile):
            if not isinstance(entry, dict) or any(
                    not isinstance(entry.get(k), str) or not entry[k]
                    for k in ("name", "stream")):
                return f"profile[{i}]: each modulemd profile entry needs string name and stream"
            if entry.get("version") is not None and _module_version(entry["version"]) is None:
                return f"profile[{i}]: version must be a non-negative number"
        return None

    def applicable(self, profile, units):
        # (name, stream) → (installed version, or -1; arches named, or None for any)
        enabled: dict[tuple[str, str], tuple[int, set | None]] = {}
        for entry in _entries(profile):
            if entry.get("status") == "disabled":
                continue
            name, stream = entry.get("name"), entry.get("stream")
            if not (isinstance(name, str) and isinstance(stream, str)):
                continue
            version = _module_version(entry.get("version"))
            version = -1 if version is None else version
            arch = entry.get("arch") if isinstance(entry.get("arch"), str) else None
            have, arches = enabled.get((name, stream), (-1, set()))
            arches = None if arches is None or arch is None else arches | {arch}
            enabled[(name, stream)] = (max(have, version), arches)
        best: dict[tuple[str, str], tuple[int, list[str]]] = {}
        for unit in units.get(MODULEMD, ()):
            key = (unit.get("name"), unit.get("stream"))
            if key not in enabled:
                continue
            have, arches = enabled[key]
            version = _module_version(unit.get("version"))
            if version is None or version <= have:
                continue
            if arches is not None and unit.get("arch") not in arches | {"noarch"}:
                continue
            current = best.get(key)
            if current is None or version > current[0]:
                best[key] = (version, [unit["_id"]])
            elif version == current[0]:
                current[1].append(unit["_id"])
        return {MODULEMD: sorted(uid for _, ids in best.values() for uid in ids)}
