"""Docker schema 1 end to end: skopeo pushes a signed schema 1 image (``--format v2s1``) to
the real registry; pulp2ng syncs it under the registry's payload digest, stores each blob
once, and serves the manifest back byte-exact. A tampered copy is refused with nothing stored.
"""
from __future__ import annotations

import json
import sys

import pytest
import requests

from pulp2ng.importers.docker import mediatypes as mt
from tests.integration.test_docker import counts, create_repo, sha, skopeo, stored_blob, sync
from tests.unit.docker.conftest import FIXTURES, StubRegistry, images, registry, run  # noqa: F401

NAME = "fixtures/schema1"
EMPTY_LAYER = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"


@pytest.fixture(scope="module")
def upstream(registry, tmp_path_factory):
    """``(registry, bytes served once, Docker-Content-Digest)`` of NAME:v1, a signed schema 1
    image whose two empty history entries repeat the empty layer in ``fsLayers``."""
    out = tmp_path_factory.mktemp("schema1") / "layout"
    run([sys.executable, str(FIXTURES / "make_oci_images.py"), str(out), "--media-types", "oci",
         "--tag", "s1=amd64", "--layer-kb", "2", "--empty-layers", "2"])
    skopeo("copy", "--format", "v2s1", "--dest-tls-verify=false", f"oci:{out}:s1",
           f"docker://{registry.host}/{NAME}:v1")
    resp = requests.get(f"{registry.url}/v2/{NAME}/manifests/v1",
                        headers={"Accept": mt.DOCKER_MANIFEST_V1_SIGNED})
    assert resp.headers["Content-Type"] == mt.DOCKER_MANIFEST_V1_SIGNED, resp.headers
    return registry, resp.content, resp.headers["Docker-Content-Digest"]


def unsigned(data: bytes) -> dict:
    """The manifest document without its JWS ``signatures`` block."""
    doc = json.loads(data)
    assert doc.pop("signatures")
    return doc


def units(api, repo_id, type_id):
    found = api.post(f"/pulp/api/v2/repositories/{repo_id}/search/units/", json={
        "criteria": {"type_ids": [type_id]}})
    assert found.status_code == 200, found.text
    return [u["metadata"] for u in found.json()]


def test_signed_schema1_synced_stored_and_served_back(api, stack, upstream, tmp_path):
    reg, data, digest = upstream
    fs_layers = [layer["blobSum"] for layer in json.loads(data)["fsLayers"]]
    assert len(fs_layers) == 4 and fs_layers.count(EMPTY_LAYER) == 2
    assert digest != sha(data)  # the registry hashes the payload, not the signed bytes

    repo_id = create_repo(api, reg.url, upstream_name=NAME)
    assert [r["state"] for r in sync(api, repo_id)] == ["finished", "finished"]
    assert counts(api, repo_id) == {"docker_tag": 1, "docker_manifest": 1, "docker_blob": 3}
    [manifest] = units(api, repo_id, "docker_manifest")
    assert (manifest["digest"], manifest["schema_version"], manifest["media_type"]) == (
        digest, 1, mt.DOCKER_MANIFEST_V1_SIGNED)
    assert sorted(layer["blob_sum"] for layer in manifest["fs_layers"]) == sorted(fs_layers)
    [tag] = units(api, repo_id, "docker_tag")
    assert (tag["name"], tag["manifest_digest"], tag["schema_version"]) == ("v1", digest, 1)
    for blob in set(fs_layers):
        assert sha(stored_blob(stack, blob).read_bytes()) == blob

    # Registry 2.8 signs schema 1 afresh on every GET: the payload and its digest are what
    # stay, so pulp2ng must serve the bytes it stored, unchanged, under that digest.
    hexd = digest.split(":")[1]
    stored = (stack.storage / "content" / "docker_manifest" / hexd[:2] / hexd[2:]).read_bytes()
    assert unsigned(stored) == unsigned(data)
    v2 = f"{api.base}/v2/{repo_id}"
    for ref in ("v1", digest):
        resp = requests.get(f"{v2}/manifests/{ref}")
        assert resp.content == stored, ref
        assert resp.headers["Content-Type"] == mt.DOCKER_MANIFEST_V1_SIGNED
        assert resp.headers["Docker-Content-Digest"] == digest
    src = f"docker://{api.base.split('://', 1)[1]}/{repo_id}"
    assert skopeo("inspect", "--tls-verify=false", "--raw", f"{src}:v1").encode() == stored
    out = tmp_path / "dir"
    skopeo("copy", "--src-tls-verify=false", f"{src}@{digest}", f"dir:{out}")  # verifies it
    assert (out / "manifest.json").read_bytes() == stored


def test_tampered_schema1_is_refused_with_nothing_stored(api, stack, upstream):
    reg, data, digest = upstream
    tampered = data.replace(b'\\"os\\":\\"linux\\"', b'\\"os\\":\\"linuz\\"', 1)
    assert tampered != data and len(tampered) == len(data)  # formatLength still fits
    front = StubRegistry(upstream=reg.url)
    front.routes[f"/v2/{NAME}/manifests/v1"] = (200, {
        "Content-Type": mt.DOCKER_MANIFEST_V1_SIGNED, "Docker-Content-Digest": digest},
        tampered)
    content = stack.storage / "content"
    before = sorted(content.rglob("*"))
    try:
        repo_id = create_repo(api, front.url, upstream_name=NAME)
        [report] = sync(api, repo_id)
    finally:
        front.close()
    assert report["state"] == "error"
    assert "does not match its digest" in report["error"]["description"], report["error"]
    assert front.gets(f"/v2/{NAME}/blobs/") == []
    assert counts(api, repo_id) == {}
    assert sorted(content.rglob("*")) == before
