"""Platform: the collaborators a process needs, built once and passed down (no globals)."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import pulp2ng.task_types  # noqa: F401  (every task type is registered where a platform runs)
from pulp2ng.config import Settings, load_settings
from pulp2ng.content.storage import ContentStorage
from pulp2ng.db.store import Store, connect
from pulp2ng.loader import PluginRegistry, load_plugins
from pulp2ng.secrets import Secrets
from pulp2ng.tasking.broker import prepare_broker
from pulp2ng.tasking.celery_app import make_celery


@dataclass
class Platform:
    settings: Settings
    store: Store
    plugins: PluginRegistry
    celery: object
    storage: ContentStorage
    secrets: Secrets
    worker_name: str = f"api@{socket.gethostname()}"
    #: Seconds database and broker errors are retried inside tasks (0: fail at once).
    retry_window: float = 0.0

    def __post_init__(self):
        # Internal unit types are associated but never counted as repository content.
        self.store.internal_types = self.plugins.internal_types

    @classmethod
    def from_settings(cls, settings: Settings | None = None, worker_name: str | None = None,
                      serves_requests: bool = False, runs_tasks: bool = False):
        """``serves_requests``: the API's platform, which fails fast while the database is
        down rather than retry (see :func:`pulp2ng.db.store.connect`). ``runs_tasks``: a
        worker's, whose database calls ride out ``[tasks] db_retry_window`` of outage."""
        settings = settings or load_settings()
        window = settings.getfloat("tasks", "db_retry_window") if runs_tasks else 0.0
        store = connect(settings, retry_reads=not serves_requests, retry_window=window)
        plugins = load_plugins()
        celery = make_celery(settings)
        platform = cls(settings, store, plugins, celery, ContentStorage(settings.storage_dir),
                       Secrets.from_settings(settings), retry_window=window)
        if worker_name:
            platform.worker_name = worker_name
        celery.pulp2ng_platform = lambda: platform
        return platform

    def prepare_database(self) -> None:
        """Create platform and unit-type indexes and the broker's collections (idempotent)."""
        self.store.ensure_indexes()
        prepare_broker(self.settings)
        for unit_type in self.plugins.types.values():
            self.store.ensure_unit_indexes(unit_type.id, list(unit_type.unit_key),
                                           unit_type.search_indexes)
