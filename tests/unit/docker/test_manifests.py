"""Manifest parsing and digest rules (pure, no network)."""
from __future__ import annotations

import base64
import hashlib
import json

import pytest

from pulp2ng.importers.docker import mediatypes as mt
from pulp2ng.importers.docker.errors import DigestMismatchError, ManifestError
from pulp2ng.importers.docker.manifests import (
    Platform,
    compute_digest,
    parse_manifest,
    schema1_payload,
    verify_digest,
)

D = {c: "sha256:" + c * 64 for c in "abcdef0123"}


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def dumps(doc) -> bytes:
    return json.dumps(doc, indent=3).encode()


def v2s2(media_type=mt.DOCKER_MANIFEST_V2, layers=None):
    return {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": mt.DOCKER_CONFIG, "size": 7, "digest": D["a"]},
        "layers": layers or [
            {"mediaType": mt.DOCKER_LAYER, "size": 10, "digest": D["b"]},
            {"mediaType": mt.DOCKER_LAYER, "size": 20, "digest": D["c"]},
        ],
    }


def signed_schema1(fs_layers):
    """Build a schema 1 manifest signed the libtrust way: signatures spliced before the tail."""
    payload = dumps({"schemaVersion": 1, "name": "x/y", "tag": "v1", "architecture": "amd64",
                     "fsLayers": [{"blobSum": d} for d in fs_layers],
                     "history": [{"v1Compatibility": "{}"} for _ in fs_layers]})
    cut = payload.rindex(b"\n}")
    protected = {"formatLength": cut, "formatTail": b64url(payload[cut:]),
                 "time": "2020-01-01T00:00:00Z"}
    sig = (b',\n   "signatures": [{"header": {"alg": "ES256"}, "signature": "c2ln",'
           b' "protected": "' + b64url(json.dumps(protected).encode()).encode() + b'"}]')
    return payload, payload[:cut] + sig + payload[cut:]


def test_schema2_manifest_fields():
    data = dumps(v2s2())
    m = parse_manifest(data)
    assert (m.media_type, m.digest, m.schema_version) == (mt.DOCKER_MANIFEST_V2, sha(data), 2)
    assert not m.is_list and m.kind == "image"
    assert m.config.digest == D["a"]
    assert [(b.digest, b.size, b.media_type) for b in m.layers] == [
        (D["b"], 10, mt.DOCKER_LAYER), (D["c"], 20, mt.DOCKER_LAYER)]
    assert [b.digest for b in m.blobs] == [D["a"], D["b"], D["c"]]
    assert m.foreign_layers == ()


def test_foreign_layers_are_flagged_with_urls():
    foreign = {"mediaType": mt.DOCKER_FOREIGN_LAYER, "size": 5, "digest": D["d"],
               "urls": ["https://example.com/layer"]}
    m = parse_manifest(dumps(v2s2(layers=[foreign, {"mediaType": mt.DOCKER_LAYER,
                                                    "size": 1, "digest": D["e"]}])))
    assert [b.digest for b in m.foreign_layers] == [D["d"]]
    assert m.foreign_layers[0].urls == ("https://example.com/layer",)
    assert not m.layers[1].foreign


def test_manifest_list_children_and_platforms():
    doc = {"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST_LIST, "manifests": [
        {"mediaType": mt.DOCKER_MANIFEST_V2, "size": 1, "digest": D["a"],
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": mt.DOCKER_MANIFEST_V2, "size": 2, "digest": D["b"],
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    ]}
    m = parse_manifest(dumps(doc))
    assert m.is_list and m.kind == "list" and m.blobs == ()
    assert [c.digest for c in m.children] == [D["a"], D["b"]]
    assert m.children[1].platform == Platform("linux", "arm64", "v8")
    assert str(m.children[1].platform) == "linux/arm64/v8"


@pytest.mark.parametrize("wanted, expected", [
    ("linux/arm64", True), ("linux/arm64/v8", True), ("linux/arm64/v7", False),
    ("linux/amd64", False), ("linux", False), ("windows/arm64", False)])
def test_platform_matches(wanted, expected):
    assert Platform("linux", "arm64", "v8").matches(wanted) is expected


def test_media_type_from_content_type_when_body_has_none():
    doc = v2s2()
    del doc["mediaType"]
    m = parse_manifest(dumps(doc), "application/vnd.docker.distribution.manifest.v2+json; x=1")
    assert m.media_type == mt.DOCKER_MANIFEST_V2


def test_oci_shapes_without_media_type_or_content_type():
    index = {"schemaVersion": 2, "manifests": []}
    assert parse_manifest(dumps(index), "application/json").media_type == mt.OCI_INDEX
    image = v2s2()
    del image["mediaType"]
    assert parse_manifest(dumps(image)).media_type == mt.OCI_MANIFEST


def test_unsigned_schema1():
    data = dumps({"schemaVersion": 1, "fsLayers": [{"blobSum": D["b"]}, {"blobSum": D["a"]},
                                                     {"blobSum": D["b"]}]})
    m = parse_manifest(data)
    assert m.media_type == mt.DOCKER_MANIFEST_V1 and m.digest == sha(data)
    assert m.fs_layers == (D["b"], D["a"], D["b"])
    assert [b.digest for b in m.layers] == [D["b"], D["a"], D["b"]]  # base first
    assert [b.digest for b in m.blobs] == [D["b"], D["a"]]  # repeated layer once


def test_signed_schema1_digest_excludes_signatures():
    payload, signed = signed_schema1([D["c"], D["d"]])
    assert schema1_payload(signed) == payload
    m = parse_manifest(signed, mt.DOCKER_MANIFEST_V1_SIGNED)
    assert m.media_type == mt.DOCKER_MANIFEST_V1_SIGNED
    assert m.digest == sha(payload) != sha(signed)
    assert m.fs_layers == (D["c"], D["d"])
    assert verify_digest(signed, sha(payload), m.media_type) == sha(payload)
    assert compute_digest(signed) == sha(payload)


def test_bad_protected_header():
    _, signed = signed_schema1([D["c"]])
    doc = json.loads(signed)
    doc["signatures"][0]["protected"] = b64url(b'{"formatLength": 99999999, "formatTail": ""}')
    with pytest.raises(ManifestError, match="formatLength"):
        schema1_payload(json.dumps(doc).encode())


def test_verify_digest_mismatch_names_both():
    with pytest.raises(DigestMismatchError) as info:
        verify_digest(b"abc", D["a"])
    assert info.value.expected == D["a"] and info.value.actual == sha(b"abc")
    assert D["a"] in str(info.value)
    assert verify_digest(b"abc", sha(b"abc")) == sha(b"abc")
    sha512 = "sha512:" + hashlib.sha512(b"abc").hexdigest()
    assert verify_digest(b"abc", sha512) == sha512


@pytest.mark.parametrize("data", [b"not json", b"[]", b'{"schemaVersion": 3}',
                                  b'{"schemaVersion": 1, "fsLayers": []}',
                                  b'{"schemaVersion": 2, "mediaType": "%s"}'
                                  % mt.DOCKER_MANIFEST_V2.encode()])
def test_unparseable_manifests(data):
    with pytest.raises(ManifestError):
        parse_manifest(data)
