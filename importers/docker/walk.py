"""Plan a container repository sync: which tags, manifests and blobs to fetch and store.

Planning fetches only tags and manifests (small); the caller downloads the planned blobs,
stores everything and then records tags, so a failed blob never leaves a half image published.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from .manifests import BlobRef, Manifest, parse_manifest
from .registry import RegistryClient
from .tags import companion_tags, filter_tags, is_signature_tag


@dataclass(frozen=True)
class PlannedManifest:
    """A manifest fetched during planning, to be stored under ``digest``."""

    digest: str
    media_type: str
    data: bytes = field(repr=False)
    kind: str  # "image" or "list" (Pulp 2 manifest_type)
    schema_version: int
    blobs: tuple[str, ...] = ()  # config and layer digests, foreign layers included
    children: tuple[str, ...] = ()  # list entries that were followed (after platform filter)


@dataclass
class SyncPlan:
    """The outcome of :func:`plan_sync`.

    ``manifests`` holds new manifests in dependency order (a list after its children);
    ``blobs`` holds blobs still to download, each once, in discovery order.
    """

    tags: dict[str, str] = field(default_factory=dict)
    manifests: dict[str, PlannedManifest] = field(default_factory=dict)
    existing_manifests: set[str] = field(default_factory=set)
    blobs: list[BlobRef] = field(default_factory=list)
    existing_blobs: set[str] = field(default_factory=set)
    foreign_blobs: list[BlobRef] = field(default_factory=list)
    companion_tags: list[str] = field(default_factory=list)

    @property
    def blob_digests(self) -> list[str]:
        """Digests of :attr:`blobs`."""
        return [b.digest for b in self.blobs]


class _Planner:
    """Walks manifests depth-first, recording each digest once."""

    def __init__(self, client, name, have_blob, have_manifest, platforms, include_foreign):
        self.client = client
        self.name = name
        self.have_blob = have_blob
        self.have_manifest = have_manifest
        self.platforms = list(platforms) if platforms else None
        self.include_foreign = include_foreign
        self.plan = SyncPlan()
        self._queued_blobs: set[str] = set()
        self._seen: set[str] = set()

    def add_tag(self, tag: str) -> str:
        data, media_type, digest = self.client.get_manifest(self.name, tag)
        self.plan.tags[tag] = digest
        self.visit(parse_manifest(data, media_type), digest)
        return digest

    def visit(self, manifest: Manifest, digest: str) -> None:
        if digest in self._seen:
            return
        self._seen.add(digest)
        if self.have_manifest(digest):
            self.plan.existing_manifests.add(digest)
            return
        children: tuple[str, ...] = ()
        if manifest.is_list:
            children = tuple(c.digest for c in manifest.children if self._wanted(c))
            for child in children:
                data, media_type, child_digest = self.client.get_manifest(self.name, child)
                self.visit(parse_manifest(data, media_type), child_digest)
        for blob in manifest.blobs:
            self._add_blob(blob)
        self.plan.manifests[digest] = PlannedManifest(
            digest=digest, media_type=manifest.media_type, data=manifest.data,
            kind=manifest.kind, schema_version=manifest.schema_version,
            blobs=tuple(b.digest for b in manifest.blobs), children=children,
        )

    def _wanted(self, child) -> bool:
        if self.platforms is None:
            return True
        return child.platform is not None and any(child.platform.matches(p)
                                                  for p in self.platforms)

    def _add_blob(self, blob: BlobRef) -> None:
        if blob.digest in self._queued_blobs:
            return
        self._queued_blobs.add(blob.digest)
        if blob.foreign and not self.include_foreign:
            self.plan.foreign_blobs.append(blob)
        elif self.have_blob(blob.digest):
            self.plan.existing_blobs.add(blob.digest)
        else:
            self.plan.blobs.append(blob)

    def add_companions(self, upstream_tags: set[str]) -> None:
        """Mirror cosign ``.sig``/``.att``/``.sbom`` tags of every synced manifest (one level)."""
        synced = list(self.plan.tags.values()) + list(self.plan.manifests)
        synced += sorted(self.plan.existing_manifests)
        for digest in dict.fromkeys(synced):
            for tag in companion_tags(digest):
                if tag in upstream_tags and tag not in self.plan.tags:
                    self.add_tag(tag)
                    self.plan.companion_tags.append(tag)


def plan_sync(
    client: RegistryClient,
    upstream_name: str,
    tag_filter_kwargs: dict | None,
    have_blob: Callable[[str], bool],
    have_manifest: Callable[[str], bool],
    platforms: Iterable[str] | None = None,
    include_foreign_layers: bool = False,
    sync_cosign: bool = True,
) -> SyncPlan:
    """List and filter upstream tags, fetch their manifests and work out what is missing.

    Manifest lists are followed to their children (only the ``platforms`` given, if any;
    the list itself is kept byte-exact). Manifests that ``have_manifest`` reports stored are
    not descended into. Cosign companion tags are not subject to the tag filter: they are
    mirrored for every synced manifest when ``sync_cosign`` is set and they exist upstream.

    Args:
        client: registry client for the feed.
        upstream_name: repository name upstream.
        tag_filter_kwargs: keyword arguments for :func:`tags.filter_tags`
            (``tags_exact``, ``include``, ``exclude``); None or {} selects all tags.
        have_blob: tells whether a blob digest is already stored.
        have_manifest: tells whether a manifest digest is already stored.
        platforms: ``os/arch[/variant]`` specs to keep from lists; None keeps all.
        include_foreign_layers: plan foreign layers for download instead of skipping them.
        sync_cosign: mirror ``sha256-<hex>.sig|.att|.sbom`` companion tags.

    Returns:
        The :class:`SyncPlan`.

    Raises:
        RegistryError: (or a subclass) when a tag list or manifest cannot be fetched/verified.
    """
    upstream = client.list_tags(upstream_name)
    regular = [t for t in upstream if not is_signature_tag(t)]
    planner = _Planner(client, upstream_name, have_blob, have_manifest, platforms,
                       include_foreign_layers)
    for tag in filter_tags(regular, **(tag_filter_kwargs or {})):
        planner.add_tag(tag)
    if sync_cosign:
        planner.add_companions({t for t in upstream if is_signature_tag(t)})
    return planner.plan
