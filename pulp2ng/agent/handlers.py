"""Finding the content types' handlers: entry points ``pulp2ng.handlers`` (name = distributor
type id, value = a handler class of the ``pulp2ng.plugin.handlers`` API), plus
``pulp2ng.test.handlers`` when ``PULP2NG_TEST_PLUGINS`` is set, as for the server's plugins
(:mod:`pulp2ng.loader`, not imported here: it pulls in the server's plugin base)."""

from __future__ import annotations

import logging
import os
from importlib.metadata import entry_points
from pathlib import Path

log = logging.getLogger(__name__)
GROUP = "pulp2ng.handlers"
TEST_PLUGINS_ENV = "PULP2NG_TEST_PLUGINS"


class Handlers:
    """Handler classes by distributor type and by content type; one instance per class."""

    def __init__(self, root: Path, config: dict | None = None):
        self.root = Path(root)
        self.config = config or {}
        self.by_distributor: dict[str, type] = {}
        self._instances: dict[type, object] = {}
        groups = [GROUP] + ([f"pulp2ng.test.{GROUP.split('.', 1)[1]}"]
                            if os.environ.get(TEST_PLUGINS_ENV) else [])
        for group in groups:
            for ep in entry_points(group=group):
                try:
                    cls = ep.load()
                except Exception:  # one broken handler must not stop the others
                    log.exception("could not load handler %s (%s)", ep.name, ep.value)
                    continue
                self.by_distributor[ep.name] = cls
                for type_id in getattr(cls, "distributor_types", ()) or ():
                    self.by_distributor.setdefault(type_id, cls)

    def _instance(self, cls):
        if cls not in self._instances:
            config = self.config.get(getattr(cls, "content_type", ""), {})
            self._instances[cls] = cls(self.root, config)
        return self._instances[cls]

    def for_distributor(self, type_id: str):
        cls = self.by_distributor.get(type_id)
        if cls is None:
            raise LookupError(f"no handler for distributor type {type_id!r} on this consumer")
        return self._instance(cls)

    def for_content(self, content_type: str):
        for cls in self.by_distributor.values():
            if getattr(cls, "content_type", None) == content_type:
                return self._instance(cls)
        raise LookupError(f"no handler for content type {content_type!r} on this consumer")
