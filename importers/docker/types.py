"""Unit types of container content, with Pulp 2's type ids and keys (reference §2.1).

Blobs, manifests and lists are keyed by digest and stored byte-exact as files. A tag belongs to
one repository: ``repo_id`` is part of its key, and so is the manifest it points at, so a tag
that moves upstream becomes a new unit and the old one is simply unassociated.
"""

from pulp2ng.plugin import UnitType

BLOB = "docker_blob"
MANIFEST = "docker_manifest"
MANIFEST_LIST = "docker_manifest_list"
TAG = "docker_tag"
SIGNATURE = "docker_manifest_signature"
TAG_KEY = ("name", "repo_id", "manifest_digest", "schema_version", "manifest_type")
#: An atomic (simple signing) signature of a manifest: the signature bytes are its file.
SIGNATURE_KEY = ("manifest_digest", "digest")

UNIT_TYPES = [
    UnitType(BLOB, "Docker Blob", ("digest",), description="A layer or config blob"),
    UnitType(MANIFEST, "Docker Manifest", ("digest",),
             description="A Docker schema 1/2 or OCI image manifest",
             referenced_types=(BLOB,)),
    UnitType(MANIFEST_LIST, "Docker Manifest List", ("digest",),
             description="A Docker manifest list or OCI image index",
             referenced_types=(MANIFEST,)),
    UnitType(TAG, "Docker Tag", TAG_KEY, description="A repository's name for a manifest",
             search_indexes=("name", "manifest_digest"),
             referenced_types=(MANIFEST, MANIFEST_LIST)),
    UnitType(SIGNATURE, "Docker Manifest Signature", SIGNATURE_KEY,
             description="An atomic signature of a manifest (sigstore or registry extension)",
             search_indexes=("manifest_digest",)),
]
