"""Base classes plugins subclass: Importer, Distributor, and the declarations they return.

Where each hook runs (see ``docs/plugin-guide.md``):

* ``validate_config``: in the API process while a request is answered (creating a repository,
  setting an importer, adding a distributor), and again in a worker task for a config update,
  on the merged config. It must be quick and side-effect free: no network, no files.
* ``sync_repo``, ``upload_unit``, ``import_units``, ``remove_units``, ``publish_repo`` and the
  ``*_removed`` hooks: in a worker task that holds the repository's reservation, so no other
  task of the platform changes that repository meanwhile (``import_units`` reserves the
  destination only; the source may change under it).
* ``importer_added`` / ``distributor_added``: where the attachment happens (the API process
  for a repository created with its plugins, a worker task otherwise); keep them cheap.

A plugin class is instantiated for each call and dropped afterwards; keep no state on it.
"""

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
    ``summary`` are the plugin's own (Pulp 2's ISO importer reports ``details`` as None).

    Both land in the repository's sync history and in the task result, so they must be
    JSON-serialisable. A report with ``success_flag`` False ends the task ``error`` with the
    plugin's summary kept; raising a :class:`~pulp2ng.errors.SyncError` does the same with a
    message. ``canceled_flag`` records the sync as canceled.

    Attributes:
        success_flag (bool): False marks the sync failed.
        summary (dict): the plugin's summary, shown to clients as is.
        details (dict | None): the plugin's details, shown to clients as is.
        canceled_flag (bool): True when the plugin stopped because of a cancel.
    """

    success_flag: bool = True
    summary: dict = field(default_factory=dict)
    details: dict | None = field(default_factory=dict)
    canceled_flag: bool = False


@dataclass
class PublishReport:
    """What ``publish_repo`` returns; stored in the publish history and the task result.

    A report with ``success_flag`` False (or anything that is not a PublishReport) fails the
    task with a :class:`~pulp2ng.errors.PublishError`; the trees built in ``publish_dir``
    blocks that already completed stay published, so return (or raise) before leaving the
    block of a tree that must not go live.

    Attributes:
        success_flag (bool): False marks the publish failed.
        summary (dict): the plugin's summary (JSON-serialisable).
        details (dict): the plugin's details (JSON-serialisable).
        canceled_flag (bool): True when the plugin stopped because of a cancel.
    """

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

    #: Code defaults, the lowest configuration layer (also "known" keys, see
    #: :meth:`known_config_keys`).
    default_config: dict = {}
    #: Config keys the importer reads besides ``default_config`` and the downloader's
    #: standard keys. Other keys are kept (Pulp 2 kept them) but named back to the caller as
    #: warnings; None (undeclared) turns that check off.
    config_keys: tuple | None = None

    @classmethod
    def metadata(cls) -> dict:
        """``{"id": ..., "display_name": ..., "types": [...]}``.

        ``id`` is the ``importer_type_id`` clients name (and should match the entry-point
        name); every id in ``types`` must be a registered :class:`UnitType`, or the platform
        refuses to start. Served by ``GET /plugins/importers/``.
        """
        raise NotImplementedError

    @classmethod
    def known_config_keys(cls) -> frozenset | None:
        """Every key this importer reads: ``config_keys``, ``default_config`` and the
        downloader's :data:`~pulp2ng.content.download.STANDARD_KEYS`; None when
        ``config_keys`` is undeclared. The platform names the other keys of a stored config
        back to the client as warnings; plugins rarely call it."""
        return _known_keys(cls, STANDARD_KEYS)

    def validate_config(self, repo, config) -> tuple[bool, str | None]:
        """Return ``(True, None)`` or ``(False, "why")``; called before any config is saved.

        Runs in the API process (or a config-update task) with no conduit and no
        reservation: check types and values only, never the network (Pulp 2 accepted an
        unreachable feed and failed the sync). Importers using the downloader call
        :func:`~pulp2ng.content.download.validate_downloader_config`. A message becomes a
        PLP1010 400 on ``importer_config``; an unexpected exception does too.
        """
        return True, None

    def importer_added(self, repo, config) -> None:
        """Called once the importer is attached; raising aborts the attachment."""

    def importer_removed(self, repo, config) -> None:
        """Called when the importer is detached or its repository deleted.

        A failure while the repository is deleted is reported in the task's error, and the
        deletion goes on."""

    def sync_repo(self, repo, conduit, config) -> SyncReport:
        """Bring the repository up to date with the feed. Check ``conduit.canceled`` often.

        Runs in a worker task holding the repository's reservation. Download with
        ``conduit.downloader(config)``, store files with ``conduit.store_file`` and units
        with ``conduit.save_units``; raise :class:`~pulp2ng.errors.SyncError` (or a subclass
        with its own code) to fail with a message. Whatever happens, the platform recounts
        the units, records the sync history and removes the task's scratch files.

        Args:
            repo (dict): the transfer repository (``id``, ``notes``, ``working_dir``…).
            conduit (SyncConduit): this call's platform services.
            config (CallConfig): override > stored importer config > defaults.

        Returns:
            SyncReport: the outcome; ``summary`` and ``details`` are shown to clients.
        """
        raise NotImplementedError

    def upload_unit(self, repo, type_id, unit_key, metadata, file_path, conduit, config):
        """Import an uploaded file as a unit; return ``{"success_flag", "summary", "details"}``.

        Runs in a worker task holding the repository's reservation. ``file_path`` is the
        assembled upload; it is not the plugin's to move or delete: copy it into
        ``conduit.storage.temp_path()`` while hashing, verify it against ``unit_key``, then
        ``conduit.store_file`` it. Any failure, or ``success_flag`` False, ends the task with
        PLP0047 and removes the associations this call made.
        """
        raise UploadError(f"{self.metadata()['id']} does not support uploads")

    #: True when :meth:`import_units` and :meth:`remove_units` read ``units`` once, in order:
    #: the platform then hands them a stream (copy) or batches (removal) instead of one list,
    #: so copying or removing 100 000 units does not hold 100 000 documents.
    streams_units = False

    def import_units(self, source_repo, dest_repo, conduit, config, units):
        """Copy ``units`` (dicts with ``_id``, ``_content_type_id`` and key fields) from the
        source repository. The default associates every unit as it is; plugins enforce their
        own rules (for example unique names) by overriding. Returns the copied units, or None
        when they are all of ``units`` (what a streaming plugin returns).

        Runs in a worker task holding the *destination's* reservation; ``conduit`` (an
        :class:`ImportConduit`) works on the destination and names the source in
        ``source_repo_id``."""
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

    #: Code defaults, the lowest configuration layer.
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
        """``{"id": ..., "display_name": ..., "types": [...]}``, as :meth:`Importer.metadata`;
        ``id`` is the ``distributor_type_id`` clients name."""
        raise NotImplementedError

    @classmethod
    def known_config_keys(cls) -> frozenset | None:
        """``config_keys`` plus ``default_config``, or None when undeclared; see
        :meth:`Importer.known_config_keys`."""
        return _known_keys(cls)

    def validate_config(self, repo, config, config_conduit) -> tuple[bool, str | None]:
        """Return ``(True, None)`` or ``(False, "why")``; called before any config is saved.

        As :meth:`Importer.validate_config` (no reservation, no side effects), plus
        ``config_conduit``, a :class:`~pulp2ng.plugin.conduits.ConfigConduit` on other
        repositories' distributors of this type:
        :func:`~pulp2ng.plugin.paths.check_publish_path` uses it so two repositories never
        publish to overlapping paths.
        """
        return True, None

    def distributor_added(self, repo, config) -> None:
        """Called once the distributor is attached; raising aborts the attachment."""

    def publish_location(self, repo, config) -> tuple[str, str] | None:
        """``(area, relative path)`` of the tree ``publish_repo`` builds with this config.

        The platform uses it to take a tree down: when the distributor is removed, and when
        a publish lands somewhere else (``relative_url`` changed), the old location.
        """
        return None

    def distributor_removed(self, repo, config, conduit) -> None:
        """Called when the distributor is detached, before the platform unpublishes it.

        Runs in a worker task holding the repository's reservation; ``conduit`` is a
        :class:`PublishConduit` for removing anything beyond the :meth:`publish_location`
        tree (which the platform takes down itself)."""

    def publish_repo(self, repo, conduit, config) -> PublishReport:
        """Publish the repository's units for clients.

        Runs in a worker task holding the repository's reservation, so the units read from
        ``conduit`` do not change meanwhile. Build every tree inside
        ``with conduit.publish_dir(area, path) as tree:``, placing files with
        ``conduit.link_file``; the platform skips the call when neither the content nor the
        config changed since the last publish (unless ``force_full``). Raise
        :class:`~pulp2ng.errors.PublishError` to fail with a message.

        Returns:
            PublishReport: the outcome.
        """
        raise NotImplementedError

    def create_consumer_payload(self, repo, config, binding_config: dict, server: dict) -> dict:
        """What a consumer bound to this distributor needs to use the published repository.

        Called in the API process when a consumer binds (and again when a binding is shown or
        the distributor's config changes, so the agent's config follows); it must have no side
        effects: no network, no files, no database. ``repo`` is the repository as plugins see
        it plus ``importer`` (``{"importer_type_id", "config"}`` with secret keys removed, or
        None), so a payload can carry settings that live on the importer (OSTree's GPG keys).
        ``config`` is this distributor's :class:`~pulp2ng.plugin.config.CallConfig`;
        ``binding_config`` the consumer's per-binding choices. ``server`` says where pulp2ng
        answers: ``{"base_url": "http://host:port", "https_url": "https://host:port" or None,
        "ca_cert": "<PEM of the CA that signed the HTTPS certificate>" or None}``.

        The payload is handed to the consumer's handler as ``binding["details"]``; build it
        with :func:`consumer_payload_base` so every type has the same common keys
        (``server_url``, ``tls``, ``ca_cert``, ``credentials``, ``relative_path``).
        """
        raise NotImplementedError(f"{type(self).__name__} gives consumers no payload")


def consumer_server_url(server: dict, binding_config: dict | None) -> tuple[str, bool]:
    """``(root URL, tls)`` a consumer should use: HTTPS when the server offers it, unless the
    binding asks for plain HTTP with ``binding_config["https"] = false``."""
    want_https = (binding_config or {}).get("https", True)
    if isinstance(want_https, str):
        want_https = want_https.strip().lower() not in ("false", "0", "no", "off")
    if server.get("https_url") and want_https:
        return server["https_url"].rstrip("/"), True
    return server["base_url"].rstrip("/"), False


def consumer_payload_base(server: dict, binding_config: dict | None,
                          relative_path: str) -> dict:
    """The keys every payload has.

    ``server_url`` (the root chosen by :func:`consumer_server_url`), ``tls``, ``ca_cert``
    (the PEM a client must trust when ``tls``; None over plain HTTP), ``credentials`` (None:
    published content is anonymous and pulp2ng issues no consumer content credentials yet)
    and ``relative_path``.
    """
    root, tls = consumer_server_url(server, binding_config)
    return {"server_url": root, "tls": tls, "ca_cert": server.get("ca_cert") if tls else None,
            "credentials": None, "relative_path": relative_path}


class GroupDistributor:
    """Base group distributor: publishes a repository group (Pulp 2's ``publish_group``).

    Registered under the entry-point group ``pulp2ng.group_distributors``. The ``group``
    argument is a plain dict: ``id``, ``display_name``, ``description``, ``notes`` and
    ``repositories``, the member repositories as plugins see a repository, each with its
    ``distributors`` (``id``, ``distributor_type_id``, ``last_publish``).
    """

    default_config: dict = {}
    config_keys: tuple | None = None
    #: As :attr:`Distributor.web_areas`.
    web_areas: dict = {}

    @classmethod
    def metadata(cls) -> dict:
        """``{"id": ..., "display_name": ..., "types": []}``; ``id`` is the
        ``distributor_type_id`` clients name."""
        raise NotImplementedError

    @classmethod
    def known_config_keys(cls) -> frozenset | None:
        return _known_keys(cls)

    def validate_config(self, group, config) -> tuple[bool, str | None]:
        """Return ``(True, None)`` or ``(False, "why")``; no side effects."""
        return True, None

    def publish_location(self, group, config) -> tuple[str, str] | None:
        """``(area, relative path)`` of the tree ``publish_group`` builds, for its removal."""
        return None

    def publish_group(self, group, conduit, config) -> PublishReport:
        """Publish the group; runs in a worker task holding the group's reservation.
        ``conduit`` is a :class:`~pulp2ng.plugin.conduits.GroupPublishConduit`."""
        raise NotImplementedError
