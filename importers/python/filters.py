"""Decide which upstream files a Python importer syncs.

Pulp 2 only knew ``package_names`` (a comma-separated string: every file of each project).
pulp2ng adds the Pulp 3 selection keys as extensions: ``includes``/``excludes`` (PEP 508
strings or ``{"name", "version_specifier", "digests"}`` objects), ``prereleases``,
``package_types``, ``exclude_platforms`` and ``keep_latest_packages``. The config is parsed
once into an immutable :class:`Selection`; :meth:`Selection.select` is then a pure function of
one project's file list, so it can be tested without any index.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidName, NormalizedName, canonicalize_name

from .errors import MetadataError
from .index import FileInfo
from .metadata import parse_filename

__all__ = [
    "DIGEST_LENGTHS",
    "PACKAGE_TYPES",
    "PLATFORMS",
    "SELECTION_KEYS",
    "Rule",
    "Selection",
    "parse_selection",
    "validate_config",
]

SELECTION_KEYS = frozenset({
    "package_names", "includes", "excludes", "prereleases", "package_types",
    "exclude_platforms", "keep_latest_packages",
})
PACKAGE_TYPES = frozenset({
    "bdist_dmg", "bdist_dumb", "bdist_egg", "bdist_msi", "bdist_rpm", "bdist_wheel",
    "bdist_wininst", "sdist",
})
#: Wheel platform-tag prefixes per ``exclude_platforms`` value.
PLATFORMS = {
    "windows": ("win32", "win_"),
    "macos": ("macosx_",),
    "linux": ("linux_", "manylinux", "musllinux_"),
    "freebsd": ("freebsd_",),
}
#: Hex length of each digest type an include/exclude may name.
DIGEST_LENGTHS = {
    "md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128,
    "blake2b_256": 64,
}
_ENTRY_KEYS = frozenset({"name", "version_specifier", "digests"})
_HEX = re.compile(r"[0-9a-fA-F]+")


@dataclass(frozen=True)
class Rule:
    """One include or exclude entry: a project, a version range and optional digests.

    A file matches when its project is ``name``, its version is in ``specifier`` and, if
    ``digests`` is not empty, one of its known hashes equals one of them.
    """

    name: NormalizedName
    specifier: SpecifierSet = SpecifierSet()
    digests: frozenset[tuple[str, str]] = frozenset()

    @property
    def is_bare(self) -> bool:
        """A name alone: as an exclude it drops the whole project."""
        return not str(self.specifier) and not self.digests

    def matches(self, version, file: FileInfo, prereleases: bool) -> bool:
        """Whether one parsed file falls under this rule.

        ``prereleases`` is the importer switch; a specifier naming a pre-release (``>=2.0b1``)
        admits pre-releases anyway, as packaging's ``SpecifierSet.prereleases`` says.
        """
        allow_pre = prereleases or bool(self.specifier.prereleases)
        if not self.specifier.contains(version, prereleases=allow_pre):
            return False
        if not self.digests:
            return True
        return any(file.hashes.get(kind) == digest for kind, digest in self.digests)


@dataclass(frozen=True)
class Selection:
    """What to sync, parsed from importer config by :func:`parse_selection`.

    ``includes`` is None for "the whole index"; otherwise it maps normalised project names to
    their rules (a file is kept when any rule matches).
    """

    includes: Mapping[NormalizedName, tuple[Rule, ...]] | None = field(default=None, hash=False)
    excludes: Mapping[NormalizedName, tuple[Rule, ...]] = field(default_factory=dict, hash=False)
    prereleases: bool = False
    package_types: frozenset[str] | None = None
    exclude_platforms: frozenset[str] = frozenset()
    keep_latest_packages: int = 0

    @property
    def project_names(self) -> list[NormalizedName] | None:
        """Projects to fetch, sorted; None means list the whole index first."""
        if self.includes is None:
            return None
        return sorted(n for n in self.includes if not self._excluded_project(n))

    def wants_project(self, project_name: str) -> bool:
        """Whether a project can contribute any file (saves fetching its page)."""
        name = canonicalize_name(project_name)
        if self.includes is not None and name not in self.includes:
            return False
        return not self._excluded_project(name)

    def select(self, project_name: str, files: Iterable[FileInfo]) -> list[FileInfo]:
        """Apply the selection to one project's files.

        Order of the steps: parse each file name (unparsable files and files of another
        project are dropped), includes and pre-releases, package types, platforms, excludes,
        then ``keep_latest_packages`` on what is left.

        Args:
            project_name: the project the files were listed for, in any spelling.
            files: the project's files as the index listed them.

        Returns:
            The surviving files, sorted by version, then file name.
        """
        name = canonicalize_name(project_name)
        if not self.wants_project(name):
            return []
        kept = []
        for file in files:
            parsed = _parse(file)
            if parsed is None or parsed[0] != name:
                continue
            _name, version, packagetype, tags = parsed
            if self._keep(name, version, packagetype, tags, file):
                kept.append((version, file))
        kept.sort(key=lambda pair: (pair[0], pair[1].filename))
        return [file for version, file in self._latest(kept)]

    def _keep(self, name, version, packagetype, tags, file) -> bool:
        """Every per-file test except keep_latest_packages."""
        if self.includes is None:
            if version.is_prerelease and not self.prereleases:
                return False
        elif not any(r.matches(version, file, self.prereleases) for r in self.includes[name]):
            return False
        if self.package_types is not None and packagetype not in self.package_types:
            return False
        if self.exclude_platforms and _platform_excluded(tags, self.exclude_platforms):
            return False
        # Excludes see pre-releases too: "~=1.0" must also drop an included 1.1rc1.
        return not any(r.matches(version, file, True) for r in self.excludes.get(name, ()))

    def _latest(self, kept: list) -> list:
        """Keep the files of the N highest versions (all when N is 0)."""
        if not self.keep_latest_packages:
            return kept
        newest = set(sorted({v for v, _f in kept}, reverse=True)[: self.keep_latest_packages])
        return [(v, f) for v, f in kept if v in newest]

    def _excluded_project(self, name: NormalizedName) -> bool:
        """A bare-name exclude removes the project before any page is read."""
        return any(r.is_bare for r in self.excludes.get(name, ()))


def _parse(file: FileInfo):
    """parse_filename, or None for files pulp2ng cannot place (.exe, .msi, bad names)."""
    try:
        return parse_filename(file.filename)
    except MetadataError:
        return None


def _platform_excluded(tags, excluded: frozenset[str]) -> bool:
    """True when every platform tag of a wheel belongs to an excluded platform.

    A wheel that also runs elsewhere (or anywhere: ``any``) stays; sdists have no tags.
    """
    prefixes = tuple(p for name in excluded for p in PLATFORMS[name])
    platforms = {t.platform for t in tags}
    return bool(platforms) and all(p.startswith(prefixes) for p in platforms)


# -- parsing config -------------------------------------------------------------------------


def parse_selection(config: Mapping) -> Selection:
    """Parse the selection keys of an importer config.

    No ``includes`` and no ``package_names`` means the whole index. ``package_names`` entries
    become bare includes, so both keys may be combined.

    Args:
        config: the flattened importer config; keys other than :data:`SELECTION_KEYS` are
            ignored here (see :func:`validate_config`).

    Returns:
        The immutable :class:`Selection`.

    Raises:
        ValueError: a value is malformed; the message names the key and the entry.
    """
    includes = _rules(config.get("includes"), "includes")
    names = _package_names(config.get("package_names"))
    if includes is None and names is None:
        include_map = None
    else:
        include_map = _group((includes or []) + [Rule(n) for n in names or []])
    return Selection(
        includes=include_map,
        excludes=_group(_rules(config.get("excludes"), "excludes") or []),
        prereleases=_boolean(config.get("prereleases", False), "prereleases"),
        package_types=_choices(config.get("package_types"), PACKAGE_TYPES, "package_types"),
        exclude_platforms=_choices(config.get("exclude_platforms"), frozenset(PLATFORMS),
                                   "exclude_platforms") or frozenset(),
        keep_latest_packages=_count(config.get("keep_latest_packages", 0)),
    )


def validate_config(config: Mapping) -> tuple[bool, str | None]:
    """Check the selection keys the way a Pulp 2 plugin's ``validate_config`` reports.

    Unknown keys are not an error here: the platform keeps them and names them back to the
    caller as warnings (``Importer.config_keys``).

    Returns:
        ``(True, None)`` or ``(False, message)``.
    """
    try:
        parse_selection(config)
    except ValueError as exc:
        return False, str(exc)
    return True, None


def _group(rules: list[Rule]) -> dict[NormalizedName, tuple[Rule, ...]]:
    """Rules by project, in config order."""
    grouped: dict[NormalizedName, list[Rule]] = {}
    for rule in rules:
        grouped.setdefault(rule.name, []).append(rule)
    return {name: tuple(group) for name, group in grouped.items()}


def _package_names(value) -> list[NormalizedName] | None:
    """Pulp 2's comma-separated string (a list is accepted too); empty means unset."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError("package_names must be a comma-separated string or a list of names")
    names = [_name(v.strip(), "package_names") for v in value if v.strip()]
    return names or None


def _rules(value, key: str) -> list[Rule] | None:
    """includes/excludes: a list of PEP 508 strings or entry objects; empty means unset."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{key} must be a list")
    rules = [_rule(entry, key) for entry in value]
    return rules or None


def _rule(entry, key: str) -> Rule:
    """One include/exclude entry in either form."""
    if isinstance(entry, str):
        return _requirement_rule(entry, key)
    if not isinstance(entry, Mapping):
        raise ValueError(f"{key}: entry {entry!r} is neither a string nor an object")
    unknown = sorted(set(entry) - _ENTRY_KEYS)
    if unknown:
        raise ValueError(f"{key}: entry {dict(entry)!r} has unknown keys {', '.join(unknown)}")
    name = _name(entry.get("name"), key)
    spec_text = entry.get("version_specifier") or ""
    if not isinstance(spec_text, str):
        raise ValueError(f"{key}: version_specifier of {name!r} must be a string")
    try:
        specifier = SpecifierSet(spec_text)
    except InvalidSpecifier as exc:
        raise ValueError(f"{key}: invalid version_specifier {spec_text!r} for {name!r}") from exc
    return Rule(name, specifier, _digests(entry.get("digests"), name, key))


def _requirement_rule(text: str, key: str) -> Rule:
    """A PEP 508 string such as ``"django~=2.0,!=2.0.1"``; URLs and markers make no sense."""
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise ValueError(f"{key}: invalid requirement {text!r}: {exc}") from exc
    if req.url or req.marker:
        raise ValueError(f"{key}: {text!r} may not carry a URL or an environment marker")
    return Rule(_name(req.name, key), req.specifier)


def _digests(value, name: str, key: str) -> frozenset[tuple[str, str]]:
    """``[{"type": "sha256", "digest": "<hex>"}]`` with known types and matching lengths."""
    if value is None:
        return frozenset()
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{key}: digests of {name!r} must be a list")
    result = set()
    for item in value:
        if not isinstance(item, Mapping) or set(item) != {"type", "digest"}:
            raise ValueError(f"{key}: digest {item!r} of {name!r} needs exactly type and digest")
        kind, digest = item["type"], item["digest"]
        if kind not in DIGEST_LENGTHS:
            raise ValueError(f"{key}: unsupported digest type {kind!r} for {name!r}; "
                             f"use one of {', '.join(sorted(DIGEST_LENGTHS))}")
        if (not isinstance(digest, str) or len(digest) != DIGEST_LENGTHS[kind]
                or not _HEX.fullmatch(digest)):
            raise ValueError(f"{key}: {kind} digest {digest!r} of {name!r} is not valid hex")
        result.add((kind, digest.lower()))
    return frozenset(result)


def _name(value, key: str) -> NormalizedName:
    """A valid project name, normalised (PEP 503)."""
    if not isinstance(value, str):
        raise ValueError(f"{key}: project name {value!r} must be a string")
    try:
        return canonicalize_name(value, validate=True)
    except InvalidName as exc:
        raise ValueError(f"{key}: invalid project name {value!r}") from exc


def _boolean(value, key: str) -> bool:
    """Booleans, or the strings Pulp 2 clients send (``"true"``/``"false"``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"{key} must be true or false, not {value!r}")


def _choices(value, allowed: frozenset[str], key: str) -> frozenset[str] | None:
    """A list (or comma-separated string) drawn from ``allowed``; None when unset."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} must be a list of strings")
    bad = sorted(set(value) - allowed)
    if bad:
        raise ValueError(f"{key}: unknown values {', '.join(bad)}; "
                         f"use {', '.join(sorted(allowed))}")
    return frozenset(value)


def _count(value) -> int:
    """keep_latest_packages: a non-negative integer (digit strings accepted)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"keep_latest_packages must be a non-negative integer, not {value!r}")
    return value
