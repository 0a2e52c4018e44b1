"""Plugin discovery through entry points: a third-party plugin is just an installed package.

The test suite's own plugin (``tests/plugins``, installed into the same virtualenv by ``make``)
registers under the separate groups ``pulp2ng.test.*``; they are loaded only when the
environment variable ``PULP2NG_TEST_PLUGINS`` is set to a non-empty value (the test stacks set
it), so a user's instance never advertises ``harness_*`` or ``demo_*`` plugins.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from pulp2ng.plugin.applicability import ApplicabilityCalculator
from pulp2ng.plugin.base import Distributor, GroupDistributor, Importer, UnitType

log = logging.getLogger(__name__)


class PluginLoadError(RuntimeError):
    """A plugin is broken; raised at startup with the entry point named."""


@dataclass
class PluginRegistry:
    importers: dict[str, type] = field(default_factory=dict)
    distributors: dict[str, type] = field(default_factory=dict)
    group_distributors: dict[str, type] = field(default_factory=dict)
    types: dict[str, UnitType] = field(default_factory=dict)
    #: profile content type → the plugin's calculator (an instance)
    applicability: dict[str, ApplicabilityCalculator] = field(default_factory=dict)

    @property
    def internal_types(self) -> frozenset:
        """Ids of the types plugins declared ``internal`` (hidden from the API's content)."""
        return frozenset(t.id for t in self.types.values() if t.internal)

    @property
    def public_types(self) -> dict[str, UnitType]:
        """The types that are repository content in the API."""
        return {i: t for i, t in self.types.items() if not t.internal}

    def validate(self) -> None:
        """Every plugin's declared types must exist."""
        for kind in (self.importers, self.distributors):
            for plugin_id, cls in kind.items():
                unknown = set(cls.metadata().get("types", [])) - set(self.types)
                if unknown:
                    raise PluginLoadError(f"{plugin_id} declares unknown types {sorted(unknown)}")


TEST_PLUGINS_ENV = "PULP2NG_TEST_PLUGINS"


def _groups(name: str) -> list[str]:
    groups = [f"pulp2ng.{name}"]
    if os.environ.get(TEST_PLUGINS_ENV):
        groups.append(f"pulp2ng.test.{name}")
    return groups


def _entry_points(name: str):
    for group in _groups(name):
        yield from entry_points(group=group)


def load_plugins() -> PluginRegistry:
    """Load every ``pulp2ng.unit_types``, ``pulp2ng.importers``, ``pulp2ng.distributors`` and
    ``pulp2ng.group_distributors`` and ``pulp2ng.applicability``
    (plus ``pulp2ng.test.*`` when ``PULP2NG_TEST_PLUGINS`` is set)."""
    registry = PluginRegistry()
    for ep in _entry_points("unit_types"):
        declared = _load(ep)
        for unit_type in declared if isinstance(declared, (list, tuple)) else [declared]:
            if not isinstance(unit_type, UnitType):
                raise PluginLoadError(f"entry point {ep.name} is not a UnitType")
            registry.types[unit_type.id] = unit_type
    for group, base, table in (
        ("importers", Importer, registry.importers),
        ("distributors", Distributor, registry.distributors),
        ("group_distributors", GroupDistributor, registry.group_distributors),
    ):
        for ep in _entry_points(group):
            cls = _load(ep)
            if not (isinstance(cls, type) and issubclass(cls, base)):
                raise PluginLoadError(f"entry point {ep.name} in {ep.group} is not a {base.__name__}")
            meta = cls.metadata()
            if not {"id", "display_name", "types"} <= set(meta):
                raise PluginLoadError(f"{ep.name}: metadata() needs id, display_name and types")
            table[meta["id"]] = cls
    for ep in _entry_points("applicability"):
        cls = _load(ep)
        if not (isinstance(cls, type) and issubclass(cls, ApplicabilityCalculator)
                and cls.content_type and cls.unit_fields):
            raise PluginLoadError(f"entry point {ep.name} in {ep.group} is not an "
                                  "ApplicabilityCalculator with content_type and unit_fields")
        registry.applicability[cls.content_type] = cls()
    registry.validate()
    return registry


def load_handlers() -> dict[str, type]:
    """``{distributor_type_id: Handler subclass}`` from the ``pulp2ng.handlers`` entry points
    (plus ``pulp2ng.test.handlers`` under ``PULP2NG_TEST_PLUGINS``): what the consumer agent
    uses to apply a binding of that distributor type. Kept apart from :func:`load_plugins`
    because the agent runs on consumer hosts without the server's plugins' needs."""
    from pulp2ng.plugin.handlers import Handler

    handlers: dict[str, type] = {}
    for ep in _entry_points("handlers"):
        cls = _load(ep)
        if not (isinstance(cls, type) and issubclass(cls, Handler)):
            raise PluginLoadError(f"entry point {ep.name} in {ep.group} is not a Handler")
        if not cls.content_type or not cls.distributor_types:
            raise PluginLoadError(f"{ep.name}: a Handler needs content_type and "
                                  "distributor_types")
        for type_id in cls.distributor_types:
            handlers[type_id] = cls
    return handlers


def _load(ep):
    try:
        return ep.load()
    except Exception as exc:
        raise PluginLoadError(f"could not load plugin entry point {ep.name} ({ep.value}): {exc}")
