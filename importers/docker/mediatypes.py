"""Media types of the container registry API and the ``Accept`` header the importer sends."""
from __future__ import annotations

# Docker image manifest v2 (schema 2) and manifest list.
DOCKER_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
# Docker schema 1: unsigned, and signed with a JWS block (what registries serve converted).
DOCKER_MANIFEST_V1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_MANIFEST_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"  # uncompressed (docker save)
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_PLUGIN_CONFIG = "application/vnd.docker.plugin.v1+json"

# OCI image spec.
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_FOREIGN_LAYER = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_FOREIGN_LAYER_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_FOREIGN_LAYER_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

SCHEMA1 = frozenset({DOCKER_MANIFEST_V1, DOCKER_MANIFEST_V1_SIGNED})
LISTS = frozenset({DOCKER_MANIFEST_LIST, OCI_INDEX})
IMAGES = frozenset({DOCKER_MANIFEST_V2, OCI_MANIFEST}) | SCHEMA1
MANIFESTS = LISTS | IMAGES
OCI = frozenset({OCI_MANIFEST, OCI_INDEX})
FOREIGN_LAYERS = frozenset(
    {DOCKER_FOREIGN_LAYER, OCI_FOREIGN_LAYER, OCI_FOREIGN_LAYER_GZIP, OCI_FOREIGN_LAYER_ZSTD}
)

# Preferred first: registries that cannot serve a listed type fall back to the next one.
ACCEPT_TYPES = (
    DOCKER_MANIFEST_LIST,
    DOCKER_MANIFEST_V2,
    OCI_INDEX,
    OCI_MANIFEST,
    DOCKER_MANIFEST_V1_SIGNED,
    DOCKER_MANIFEST_V1,
)
ACCEPT = ", ".join(ACCEPT_TYPES)
# What Pulp 2 sent: Docker types only, so OCI-only content upstream gives 404 as it did there.
ACCEPT_DOCKER = ", ".join(t for t in ACCEPT_TYPES if t not in OCI)
# Asking for schema 1 only makes registry 2.x convert a schema 2 image for old clients.
ACCEPT_SCHEMA1 = ", ".join((DOCKER_MANIFEST_V1_SIGNED, DOCKER_MANIFEST_V1))


def is_list(media_type: str | None) -> bool:
    """Return True for a Docker manifest list or an OCI index."""
    return media_type in LISTS


def is_foreign_layer(media_type: str | None) -> bool:
    """Return True for non-distributable layers, which registries do not serve."""
    return media_type in FOREIGN_LAYERS
