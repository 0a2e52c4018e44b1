"""Upload of image archives: ``docker save`` tarballs and OCI image layout archives.

``import_upload`` with ``unit_type_id`` ``docker_manifest`` (``docker_manifest_list`` is
accepted as a synonym); ``unit_key`` and ``unit_metadata`` are ignored. The archive kind is
detected: an OCI layout (``oci-layout``, ``index.json``, ``blobs/sha256/<hex>``: manifests and
indexes are kept byte-exact, tags come from ``org.opencontainers.image.ref.name``) or a
``docker save`` archive (``manifest.json`` with ``Config``/``Layers``/``RepoTags``: a Docker
schema 2 manifest is built over the archive's own layer files, gzip or uncompressed, and tags
come from ``RepoTags``).

Everything is verified before anything is stored: blobs against their names and descriptors
(digest and size), docker-save layers against the config's ``rootfs.diff_ids``. Any problem
raises :class:`UploadError` (PLP0047) and leaves storage and the repository untouched.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field

from pulp2ng.plugin import UploadError

from . import archive
from . import mediatypes as mt
from .copy import replace_tags
from .errors import ManifestError
from .manifests import Manifest, parse_manifest
from .types import BLOB, MANIFEST, MANIFEST_LIST
from .units import Graph, store_manifests

OCI_REF_NAME = "org.opencontainers.image.ref.name"
TAG = re.compile(r"[\w][\w.-]{0,127}")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
BLOB_NAME = re.compile(r"blobs/sha256/([0-9a-f]{64})")
HEX_NAME = re.compile(r"(?:blobs/sha256/)?([0-9a-f]{64})(?:\.json|\.tar|/layer\.tar)?")


@dataclass
class ArchiveContent:
    """What an archive holds once verified: manifests in dependency order, blobs, tags."""

    kind: str
    manifests: list[Manifest] = field(default_factory=list)
    blobs: dict[str, archive.Member] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def upload_unit(conduit, type_id, unit_key, metadata, file_path):
    if type_id not in (MANIFEST, MANIFEST_LIST):
        raise UploadError(f"docker_importer uploads image archives as {MANIFEST}, not {type_id}")
    work = conduit.storage.make_temp_dir(conduit.storage.root / "tmp", "docker-upload-")
    try:
        members = archive.unpack(file_path, work, conduit.check_canceled)
        content = read_archive(members)
        conduit.check_canceled()
        return _commit(conduit, content)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def read_archive(members: dict[str, archive.Member]) -> ArchiveContent:
    """Detect the archive kind and verify it completely."""
    try:
        if "oci-layout" in members and "index.json" in members:
            return _read_oci(members)
        if "manifest.json" in members:
            return _read_docker_save(members)
    except ManifestError as exc:
        raise UploadError(f"the archive holds an invalid manifest: {exc}") from None
    raise UploadError("the upload is neither an OCI image layout (oci-layout, index.json) nor "
                      "a docker save archive (manifest.json)")


def _load(member: archive.Member):
    try:
        return json.loads(member.read_json_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise UploadError(f"{member.name} is not JSON: {exc}") from None


def _ref_tag(ref, where: str) -> str:
    """The tag of ``tag``, ``name:tag`` or ``host:port/name:tag``; ``latest`` for a bare name."""
    tag = ref
    if isinstance(ref, str) and ("/" in ref or ":" in ref):
        name, colon, tag = ref.rpartition(":")
        if not colon or "/" in tag:
            tag = "latest"
    if not isinstance(tag, str) or not TAG.fullmatch(tag):
        raise UploadError(f"{where}: {ref!r} does not name a valid tag")
    return tag


def _verify_named_blobs(members: dict[str, archive.Member]) -> None:
    """Every ``blobs/sha256/<hex>`` file must hash to its name."""
    for name, member in members.items():
        if name.startswith("blobs/"):
            match = BLOB_NAME.fullmatch(name)
            if not match:
                raise UploadError(f"{name}: only sha256 blobs named by their digest are accepted")
            if member.digest != f"sha256:{match[1]}":
                raise UploadError(f"blob {name} does not match its digest: its bytes hash to "
                                  f"{member.digest}")


# -- OCI image layout -------------------------------------------------------------------------


def _read_oci(members) -> ArchiveContent:
    _verify_named_blobs(members)
    index = _load(members["index.json"])
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
        raise UploadError("index.json has no manifests list")
    content = ArchiveContent("oci-layout")
    seen: set[str] = set()
    for desc in index["manifests"]:
        digest = _visit_oci(members, desc, content, seen)
        ref = (desc.get("annotations") or {}).get(OCI_REF_NAME)
        if ref is not None:
            content.tags[_ref_tag(ref, "index.json")] = digest
    if not content.manifests:
        raise UploadError("index.json references no manifest")
    return content


def _descriptor_member(members, desc, what: str) -> archive.Member | None:
    digest = desc.get("digest") if isinstance(desc, dict) else None
    if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
        raise UploadError(f"{what}: descriptor without a sha256 digest: {desc!r}")
    member = members.get(f"blobs/sha256/{digest[7:]}")
    if member is not None and desc.get("size") is not None and desc["size"] != member.size:
        raise UploadError(f"{what}: blob {digest} is {member.size} bytes, its descriptor says "
                          f"{desc['size']}")
    return member


def _visit_oci(members, desc, content: ArchiveContent, seen: set[str]) -> str:
    member = _descriptor_member(members, desc, "index.json")
    if member is None:
        raise UploadError(f"manifest {desc['digest']} is missing from the archive")
    manifest = parse_manifest(member.read_json_bytes(), desc.get("mediaType"))
    if manifest.digest in seen:
        return manifest.digest
    seen.add(manifest.digest)
    if manifest.is_list:
        for child in manifest.children:
            _visit_oci(members, {"digest": child.digest, "mediaType": child.media_type,
                                 "size": child.size}, content, seen)
    else:
        for blob in manifest.blobs:
            found = _descriptor_member(members, {"digest": blob.digest, "size": blob.size},
                                       f"manifest {manifest.digest}")
            if found is not None:
                content.blobs[blob.digest] = found
            elif not blob.foreign:
                raise UploadError(f"manifest {manifest.digest} references blob {blob.digest}, "
                                  "which is missing from the archive")
    content.manifests.append(manifest)
    return manifest.digest


# -- docker save ------------------------------------------------------------------------------


def _read_docker_save(members) -> ArchiveContent:
    _verify_named_blobs(members)
    entries = _load(members["manifest.json"])
    if not isinstance(entries, list) or not entries:
        raise UploadError("manifest.json is not a list of images")
    content = ArchiveContent("docker-save")
    for entry in entries:
        if not isinstance(entry, dict):
            raise UploadError(f"manifest.json: bad entry {entry!r}")
        manifest = _docker_image(members, entry, content)
        if manifest.digest not in {m.digest for m in content.manifests}:
            content.manifests.append(manifest)
        for ref in entry.get("RepoTags") or ():
            content.tags[_ref_tag(ref, "RepoTags")] = manifest.digest
    return content


def _named_member(members, name, what) -> archive.Member:
    member = members.get(name) if isinstance(name, str) else None
    if member is None:
        raise UploadError(f"manifest.json names {what} {name!r}, which the archive lacks")
    match = HEX_NAME.fullmatch(name)
    if match and what == "config" and member.digest != f"sha256:{match[1]}":
        raise UploadError(f"config {name} does not match its digest: its bytes hash to "
                          f"{member.digest}")
    return member


def _docker_image(members, entry: dict, content: ArchiveContent) -> Manifest:
    """Build a Docker schema 2 manifest over the archive's config and layer files."""
    config = _named_member(members, entry.get("Config"), "config")
    doc = _load(config)
    diff_ids = ((doc.get("rootfs") or {}).get("diff_ids") if isinstance(doc, dict) else None)
    layers = entry.get("Layers")
    if not isinstance(layers, list) or not isinstance(diff_ids, list) or \
            len(layers) != len(diff_ids):
        raise UploadError(f"image {entry.get('Config')!r}: Layers and the config's "
                          "rootfs.diff_ids do not match")
    descriptors = []
    for name, diff_id in zip(layers, diff_ids):
        layer = _named_member(members, name, "layer")
        actual = archive.uncompressed_digest(layer)
        match = HEX_NAME.fullmatch(name)
        if actual != diff_id or (match and f"sha256:{match[1]}" not in (actual, layer.digest)):
            raise UploadError(f"layer {name} does not match its digest: its content hashes to "
                              f"{actual}, the image config expects {diff_id}")
        content.blobs[layer.digest] = layer
        descriptors.append({"mediaType": mt.DOCKER_LAYER if layer.gzipped else
                            mt.DOCKER_LAYER_TAR, "size": layer.size, "digest": layer.digest})
    content.blobs[config.digest] = config
    data = json.dumps({
        "schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST_V2,
        "config": {"mediaType": mt.DOCKER_CONFIG, "size": config.size, "digest": config.digest},
        "layers": descriptors}, indent=3).encode()
    return parse_manifest(data)


# -- store ------------------------------------------------------------------------------------


def _commit(conduit, content: ArchiveContent) -> dict:
    blob_units = [{"digest": digest, "size": member.size,
                   "_storage_path": conduit.store_file(member.path, BLOB, digest[7:])}
                  for digest, member in content.blobs.items()]
    conduit.save_units(BLOB, blob_units)
    graph = Graph()
    store_manifests(conduit, content.manifests, graph)
    tags = [{"name": name, "manifest_digest": digest} for name, digest in content.tags.items()]
    replace_tags(conduit, tags, graph)
    summary = {"format": content.kind, "tags": sorted(content.tags),
               "manifests": len(content.manifests), "blobs": len(blob_units)}
    return {"success_flag": True, "summary": summary,
            "details": {"manifests": [m.digest for m in content.manifests],
                        "tags": content.tags}}
