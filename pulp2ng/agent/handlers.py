"""The content types' handlers, as :func:`pulp2ng.loader.load_handlers` finds them (entry
points ``pulp2ng.handlers``), one instance per class. The loader (and with it the plugin
API the handlers are written against) is imported only when the daemon starts, so the
agent's other commands stay light."""

from __future__ import annotations

import threading
from pathlib import Path


class Handlers:
    """Handler classes by distributor type and by content type; one instance per class."""

    def __init__(self, root: Path, config: dict | None = None):
        self.root = Path(root)
        self.config = config or {}
        self._instances: dict[type, object] = {}
        #: Set while the current request is canceled on the server; every handler sees it.
        self.cancel = threading.Event()
        from pulp2ng.loader import load_handlers

        self.by_distributor: dict[str, type] = load_handlers()

    def _instance(self, cls):
        if cls not in self._instances:
            config = self.config.get(getattr(cls, "content_type", ""), {})
            instance = cls(self.root, config)
            instance.cancel_event = self.cancel
            self._instances[cls] = instance
        return self._instances[cls]

    def for_distributor(self, type_id: str):
        cls = self.by_distributor.get(type_id)
        if cls is None:
            raise LookupError(f"no handler for distributor type {type_id!r} on this consumer")
        return self._instance(cls)

    def for_content(self, content_type: str):
        for cls in self.by_distributor.values():
            if (getattr(cls, "content_type", None) == content_type
                    or content_type in getattr(cls, "unit_types", ())):
                return self._instance(cls)
        raise LookupError(f"no handler for content type {content_type!r} on this consumer")
