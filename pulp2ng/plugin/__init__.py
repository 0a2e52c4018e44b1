"""The plugin API: everything an importer or distributor may import from pulp2ng.

Plugins import from pulp2ng only this package and the type plugins (``pulp2ng.importers.*``,
``pulp2ng.distributors.*``), so the platform can change behind it; a distributor may use its
type's format libraries under ``importers/<type>/`` but never the importer class module
(``importer.py``). tests/unit/test_plugin_boundary.py enforces both.

Plugins register through the entry-point groups ``pulp2ng.importers``,
``pulp2ng.distributors``, ``pulp2ng.group_distributors`` (a class) and
``pulp2ng.unit_types`` (a :class:`UnitType` or a list of them); consumer-side handlers
(:class:`Handler`, applied by the consumer agent) under ``pulp2ng.handlers``. ``docs/plugin-guide.md`` walks through writing one.
"""

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
from pulp2ng.plugin.config import CallConfig
from pulp2ng.plugin.handlers import Handler, HandlerCanceled, HandlerError, binding_key
from pulp2ng.plugin.paths import check_publish_path, safe_relative_path

#: The conduits reach the database layer (pymongo). They load on first access, so a consumer
#: host's agent, which imports this package for :class:`Handler`, never imports pymongo.
_LAZY_CONDUITS = frozenset({
    "ConfigConduit",
    "GroupPublishConduit",
    "ImportConduit",
    "PublishConduit",
    "RepoConduit",
    "SyncConduit",
    "UploadConduit",
})


def __getattr__(name: str):
    if name in _LAZY_CONDUITS:
        from pulp2ng.plugin import conduits

        value = getattr(conduits, name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY_CONDUITS)

__all__ = [
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
