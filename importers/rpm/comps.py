"""Comps units ↔ libcomps objects (shared by the importer and distributor).

The four comps types are per repository (``repo_id`` in their key), with pulp_rpm 2.x's
metadata: groups keep ``name``, ``description``, ``default``, ``user_visible``,
``display_order``, ``langonly``, ``biarch_only``, ``mandatory_package_names``,
``default_package_names``, ``optional_package_names``, ``conditional_package_names`` (a list
of ``[name, requires]`` pairs) and ``translated_name``/``translated_description`` (language →
text); categories ``packagegroupids``; environments ``group_ids`` and ``options`` (``[{group,
default}]``, with ``option_ids`` the bare names); langpacks ``matches`` (``[{name, install}]``).
"""

from __future__ import annotations

import libcomps

from pulp2ng.importers.rpm.types import (
    PACKAGE_CATEGORY,
    PACKAGE_ENVIRONMENT,
    PACKAGE_GROUP,
    PACKAGE_LANGPACKS,
)

COMPS_TYPES = (PACKAGE_GROUP, PACKAGE_CATEGORY, PACKAGE_ENVIRONMENT, PACKAGE_LANGPACKS)

_PACKAGE_LISTS = {
    libcomps.PACKAGE_TYPE_MANDATORY: "mandatory_package_names",
    libcomps.PACKAGE_TYPE_DEFAULT: "default_package_names",
    libcomps.PACKAGE_TYPE_OPTIONAL: "optional_package_names",
}


class CompsParseError(ValueError):
    """The comps document could not be read."""


def parse_comps(text: str):
    """A libcomps.Comps from comps XML; libcomps reports problems as a return code + log."""
    comps = libcomps.Comps()
    try:
        failed = comps.fromxml_str(text)
    except Exception as exc:  # libcomps.ParserError and friends
        raise CompsParseError(str(exc)) from None
    if failed == -1:
        raise CompsParseError("; ".join(str(e) for e in comps.get_last_errors()) or "invalid")
    return comps


def units_from_comps(comps, repo_id: str) -> dict[str, list[dict]]:
    """The unit documents of every comps type (type id → units) in ``comps``."""
    units: dict[str, list[dict]] = {t: [] for t in COMPS_TYPES}
    for group in comps.groups:
        unit = {"id": group.id, "repo_id": repo_id, **_texts(group),
                "default": bool(group.default), "user_visible": bool(group.uservisible),
                "langonly": group.lang_only, "biarch_only": bool(group.biarchonly),
                "conditional_package_names": [],
                **{name: [] for name in _PACKAGE_LISTS.values()}}
        for package in group.packages:
            if package.type == libcomps.PACKAGE_TYPE_CONDITIONAL:
                unit["conditional_package_names"].append([package.name, package.requires])
            elif package.type in _PACKAGE_LISTS:
                unit[_PACKAGE_LISTS[package.type]].append(package.name)
        units[PACKAGE_GROUP].append(unit)
    for category in comps.categories:
        units[PACKAGE_CATEGORY].append({
            "id": category.id, "repo_id": repo_id, **_texts(category),
            "packagegroupids": [g.name for g in category.group_ids]})
    for environment in comps.environments:
        options = [{"group": o.name, "default": bool(o.default)}
                   for o in environment.option_ids]
        units[PACKAGE_ENVIRONMENT].append({
            "id": environment.id, "repo_id": repo_id, **_texts(environment),
            "group_ids": [g.name for g in environment.group_ids], "options": options,
            "option_ids": [o["group"] for o in options]})
    matches = [{"name": name, "install": install} for name, install in comps.langpacks.items()]
    if matches:
        units[PACKAGE_LANGPACKS].append({"repo_id": repo_id, "matches": matches})
    return units


def _texts(item) -> dict:
    return {"name": item.name, "description": item.desc,
            "display_order": item.display_order,
            "translated_name": dict(item.name_by_lang),
            "translated_description": dict(item.desc_by_lang)}


class CompsBuilder:
    """Collects comps units of a repository into one libcomps document for publishing."""

    def __init__(self):
        self.comps = libcomps.Comps()
        self.count = 0

    def add(self, type_id: str, unit: dict) -> None:
        self.count += 1
        if type_id == PACKAGE_LANGPACKS:
            for match in unit.get("matches") or ():
                self.comps.langpacks[match["name"]] = match["install"]
            return
        item = {PACKAGE_GROUP: libcomps.Group, PACKAGE_CATEGORY: libcomps.Category,
                PACKAGE_ENVIRONMENT: libcomps.Environment}[type_id]()
        item.id, item.name = unit["id"], unit.get("name") or unit["id"]
        if unit.get("description"):
            item.desc = unit["description"]
        if unit.get("display_order") is not None:
            item.display_order = int(unit["display_order"])
        for lang, text in (unit.get("translated_name") or {}).items():
            item.name_by_lang[lang] = text
        for lang, text in (unit.get("translated_description") or {}).items():
            item.desc_by_lang[lang] = text
        if type_id == PACKAGE_GROUP:
            self._group(item, unit)
            self.comps.groups.append(item)
        elif type_id == PACKAGE_CATEGORY:
            for gid in unit.get("packagegroupids") or ():
                item.group_ids.append(libcomps.GroupId(gid))
            self.comps.categories.append(item)
        else:
            for gid in unit.get("group_ids") or ():
                item.group_ids.append(libcomps.GroupId(gid))
            for option in unit.get("options") or ():
                item.option_ids.append(libcomps.GroupId(option["group"],
                                                        default=bool(option.get("default"))))
            self.comps.environments.append(item)

    @staticmethod
    def _group(group, unit: dict) -> None:
        group.default = bool(unit.get("default"))
        group.uservisible = bool(unit.get("user_visible", True))
        group.biarchonly = bool(unit.get("biarch_only"))
        if unit.get("langonly"):
            group.lang_only = unit["langonly"]
        for kind, field in _PACKAGE_LISTS.items():
            for name in unit.get(field) or ():
                group.packages.append(libcomps.Package(name, kind))
        for name, requires in unit.get("conditional_package_names") or ():
            package = libcomps.Package(name, libcomps.PACKAGE_TYPE_CONDITIONAL)
            if requires:
                package.requires = requires
            group.packages.append(package)

    def xml(self) -> str:
        return self.comps.xml_str()
