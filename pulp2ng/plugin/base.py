"""Base classes plugins subclass: Importer, Distributor, and the declarations they return."""

from __future__ import annotations

from dataclasses import dataclass, field

from pulp2ng.content.download import STANDARD_KEYS
from pulp2ng.errors import UploadError


def _known_keys(cls, *more) -> frozenset | None:
    if cls.config_keys is None:
        return None
    return frozenset(cls.config_keys).union(cls.default_config, *more)


@dataclass(frozen=True)
class UnitType:
    """A content unit type: documents live in ``units_<id>``, unique over ``unit_key``.

    Attributes:
        id (str): the type id, e.g. ``iso``.
        display_name (str): human readable name.
        unit_key (tuple[str]): fields that identify a unit; a unique index covers them.
        description (str): shown by ``GET /plugins/types/``.
        search_indexes (tuple): extra fields (or tuples of fields) to index.
        referenced_types (tuple): types this type's units refer to.
        internal (bool): the plugin's own bookkeeping (e.g. OSTree's object inventory), not
            repository content a Pulp 2 client knows: associated and orphan-cleaned like any
            unit, but never counted in ``content_unit_counts``, matched by unit criteria
            (search, copy, remove), listed under ``/content/units/`` or ``/plugins/types/``.
    """

    id: str
    display_name: str
    unit_key: tuple
    description: str = ""
    search_indexes: tuple = ()
    referenced_types: tuple = ()
    internal: bool = False


@dataclass
class SyncReport:
    """What ``sync_repo`` returns. Counts are recomputed by the platform; ``details`` and
    ``summary`` are the plugin's own (Pulp 2's ISO importer reports ``details`` as None)."""

    success_flag: bool = True
    summary: dict = field(default_factory=dict)
    details: dict | None = field(default_factory=dict)
    canceled_flag: bool = False


@dataclass
class PublishReport:
    success_flag: bool = True
    summary: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    canceled_flag: bool = False


class Importer:
    """Base importer. Subclasses declare :meth:`metadata` and implement :meth:`sync_repo`.

    One instance serves one call; it holds no state between calls. Every method receives
    the transfer ``repo`` (a dict with ``id``, ``display_name``, ``notes``, ``working_dir``…)
    and a :class:`~pulp2ng.plugin.config.CallConfig`.
    """

    #: Code defaults, the lowest configuration layer.
    default_config: dict = {}
    #: Config keys the importer reads besides ``default_config`` and the downloader's
    #: standard keys. Other keys are kept (Pulp 2 kept them) but named back to the caller as
    #: warnings; None (undeclared) turns that check off.
    config_keys: tuple | None = None

    @classmethod
    def metadata(cls) -> dict:
        """``{"id": ..., "display_name": ..., "types": [...]}``."""
        raise NotImplementedError

    @classmethod
    def known_config_keys(cls) -> frozenset | None:
        return _known_keys(cls, STANDARD_KEYS)

    def validate_config(self, repo, config) -> tuple[bool, str | None]:
        """Return ``(True, None)`` or ``(False, "why")``; called before any config is saved."""
        return True, None

    def importer_added(self, repo, config) -> None:
        """Called once the importer is attached; raising aborts the attachment."""

    def importer_removed(self, repo, config) -> None:
        """Called when the importer is detached or its repository deleted."""

    def sync_repo(self, repo, conduit, config) -> SyncReport:
        """Bring the repository up to date with the feed. Check ``conduit.canceled`` often."""
        raise NotImplementedError

    def upload_unit(self, repo, type_id, unit_key, metadata, file_path, conduit, config):
        """Import an uploaded file as a unit; return ``{"success_flag", "summary", "details"}``."""
        raise UploadError(f"{self.metadata()['id']} does not support uploads")

    #: True when :meth:`import_units` and :meth:`remove_units` read ``units`` once, in order:
    #: the platform then hands them a stream (copy) or batches (removal) instead of one list,
    #: so copying or removing 100 000 units does not hold 100 000 documents.
    streams_units = False

    def import_units(self, source_repo, dest_repo, conduit, config, units):
        """Copy ``units`` (dicts with ``_id``, ``_content_type_id`` and key fields) from the
        source repository. The default associates every unit as it is; plugins enforce their
        own rules (for example unique names) by overriding. Returns the copied units, or None
        when they are all of ``units`` (what a streaming plugin returns)."""
        conduit.associate_units(units)
        return None

    def remove_units(self, repo, units, config, conduit) -> None:
        """Called before the platform removes ``units`` from the repository.

        ``conduit`` (a :class:`RepoConduit` on the repository) lets a plugin take away what
        only those units needed, such as the objects of removed OSTree commits.
        """


class Distributor:
    """Base distributor: publishes a repository's units for clients.

    ``publish_repo`` writes into ``conduit.publish_dir(...)`` trees, which the platform swaps
    into place atomically when the publish succeeds.
    """

    default_config: dict = {}
    #: As :attr:`Importer.config_keys`, without the downloader's keys.
    config_keys: tuple | None = None
    #: URL prefix → published area (``{"/pulp/isos/": "isos"}``): the platform serves the
    #: area's published trees under the prefix (``server/blueprints/published.py``).
    web_areas: dict = {}
    #: URL prefix → factory (``{"/v2": make_app}``): the factory receives the content
    #: storage and returns a WSGI app the server mounts at that prefix, beside the REST API
    #: (``server/app.py``; the container registry API is one).
    web_apps: dict = {}

    @classmethod
    def metadata(cls) -> dict:
        raise NotImplementedError

    @classmethod
    def known_config_keys(cls) -> frozenset | None:
        return _known_keys(cls)

    def validate_config(self, repo, config, config_conduit) -> tuple[bool, str | None]:
        """Return ``(True, None)`` or ``(False, "why")``; ``config_conduit`` is a
        :class:`~pulp2ng.plugin.conduits.ConfigConduit` (other repositories' distributors)."""
        return True, None

    def distributor_added(self, repo, config) -> None:
        """Called once the distributor is attached."""

    def publish_location(self, repo, config) -> tuple[str, str] | None:
        """``(area, relative path)`` of the tree ``publish_repo`` builds with this config.

        The platform uses it to take a tree down: when the distributor is removed, and when
        a publish lands somewhere else (``relative_url`` changed), the old location.
        """
        return None

    def distributor_removed(self, repo, config, conduit) -> None:
        """Called when the distributor is detached, before the platform unpublishes it."""

    def publish_repo(self, repo, conduit, config) -> PublishReport:
        raise NotImplementedError
