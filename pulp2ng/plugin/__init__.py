"""The plugin API: everything an importer or distributor may import from pulp2ng.

Plugins import from pulp2ng only this package and the type plugins (``pulp2ng.importers.*``,
``pulp2ng.distributors.*``), so the platform can change behind it; a distributor may use its
type's format libraries under ``importers/<type>/`` but never the importer class module
(``importer.py``). tests/unit/test_plugin_boundary.py enforces both.

Plugins register through the entry-point groups ``pulp2ng.importers``,
``pulp2ng.distributors``, ``pulp2ng.group_distributors`` (a class) and
``pulp2ng.unit_types`` (a :class:`UnitType` or a list of them); consumer-side handlers
(:class:`Handler`, applied by the consumer agent) under ``pulp2ng.handlers``; applicability
calculators for a profile content type (:class:`ApplicabilityCalculator`, a class) under
``pulp2ng.applicability``. ``docs/plugin-guide.md`` walks through writing one.

The names are loaded on first use (PEP 562) so that ``pulp2ng.plugin.admin``, the helpers of
``pulp2ng-admin`` sections, and the consumer agent's handlers import without the server side
(pymongo, the database layer).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the real imports, for type checkers and tests/unit/test_import_cycles.py
    from pulp2ng.content.download import (
        SECRET_KEYS,
        STANDARD_KEYS,
        BodyBrokenError,
        DownloadRequest,
        DownloadResult,
        Downloader,
        fetch_to_file,
        validate_downloader_config,
    )
    from pulp2ng.errors import (
        ContentValidationError,
        PluginError,
        PublishError,
        SyncError,
        TaskCanceled,
        UnsupportedTypes,
        UploadError,
    )
    from pulp2ng.plugin.applicability import ApplicabilityCalculator
    from pulp2ng.plugin.base import (
        Distributor,
        GroupDistributor,
        Importer,
        PublishReport,
        SyncReport,
        UnitType,
        consumer_payload_base,
        consumer_server_url,
    )
    from pulp2ng.plugin.conduits import (
        ConfigConduit,
        GroupPublishConduit,
        ImportConduit,
        PublishConduit,
        RepoConduit,
        SyncConduit,
        UploadConduit,
    )
    from pulp2ng.plugin.config import CallConfig
    from pulp2ng.plugin.handlers import Handler, HandlerCanceled, HandlerError, binding_key
    from pulp2ng.plugin.paths import check_publish_path, safe_relative_path

#: public name → the module that defines it.
_SOURCES = {
    **dict.fromkeys(("SECRET_KEYS", "STANDARD_KEYS", "BodyBrokenError", "DownloadRequest",
                     "DownloadResult", "Downloader", "fetch_to_file",
                     "validate_downloader_config"), "pulp2ng.content.download"),
    **dict.fromkeys(("ContentValidationError", "PluginError", "PublishError", "SyncError",
                     "TaskCanceled", "UnsupportedTypes", "UploadError"), "pulp2ng.errors"),
    **dict.fromkeys(("Distributor", "GroupDistributor", "Importer", "PublishReport",
                     "SyncReport", "UnitType", "consumer_payload_base",
                     "consumer_server_url"), "pulp2ng.plugin.base"),
    **dict.fromkeys(("ConfigConduit", "GroupPublishConduit", "ImportConduit", "PublishConduit",
                     "RepoConduit", "SyncConduit", "UploadConduit"), "pulp2ng.plugin.conduits"),
    "CallConfig": "pulp2ng.plugin.config",
    "ApplicabilityCalculator": "pulp2ng.plugin.applicability",
    **dict.fromkeys(("Handler", "HandlerCanceled", "HandlerError", "binding_key"),
                   "pulp2ng.plugin.handlers"),
    **dict.fromkeys(("check_publish_path", "safe_relative_path"), "pulp2ng.plugin.paths"),
}


def __getattr__(name: str):
    module = _SOURCES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this hook
    return value


def __dir__():
    return sorted(set(globals()) | set(_SOURCES))


__all__ = [
    "ApplicabilityCalculator",
    "BodyBrokenError",
    "CallConfig",
    "ConfigConduit",
    "ContentValidationError",
    "Distributor",
    "DownloadRequest",
    "DownloadResult",
    "Downloader",
    "GroupDistributor",
    "GroupPublishConduit",
    "Handler",
    "HandlerCanceled",
    "HandlerError",
    "ImportConduit",
    "Importer",
    "PluginError",
    "PublishConduit",
    "PublishError",
    "PublishReport",
    "RepoConduit",
    "SECRET_KEYS",
    "STANDARD_KEYS",
    "SyncConduit",
    "SyncError",
    "SyncReport",
    "TaskCanceled",
    "UnitType",
    "UnsupportedTypes",
    "UploadConduit",
    "UploadError",
    "binding_key",
    "check_publish_path",
    "consumer_payload_base",
    "consumer_server_url",
    "fetch_to_file",
    "safe_relative_path",
    "validate_downloader_config",
]
