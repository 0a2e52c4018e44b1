"""Atomic signatures: synced from a sigstore (a static lookaside tree) and from the registry
extension API (a stub registry, then pulp2ng itself), published through pulp2ng's extension API
and sigstore view, while skopeo still pulls. Cosign signatures, attestations and SBOMs: mirrored
as companion tags, or not with ``sync_cosign`` off.
"""
from __future__ import annotations

import base64
import hashlib
import json
import sys

import requests

from pulp2ng.importers.docker import mediatypes as mt
from tests.integration.test_docker import (_stub_image, counts, create_repo, sha, skopeo,
                                          sync)
from tests.unit.docker.conftest import (  # noqa: F401  (fixtures used by name)
    FIXTURES,
    StubRegistry,
    images,
    registry,
    run,
)
from tests.unit.docker.test_registry_client import Layout, push_cosign_companion

APP = "fixtures/app"
SIG = "docker_manifest_signature"


def lookaside(root, name, digest, blobs):
    folder = root / f"{name}@{digest.replace(':', '=')}"
    folder.mkdir(parents=True)
    for index, data in enumerate(blobs, 1):
        (folder / f"signature-{index}").write_bytes(data)


def tag_names(api, repo_id):
    found = api.post(f"/pulp/api/v2/repositories/{repo_id}/search/units/", json={
        "criteria": {"type_ids": ["docker_tag"]}})
    assert found.status_code == 200, found.text
    return {u["metadata"]["name"] for u in found.json()}


def extension(base, name, digest):
    response = requests.get(f"{base}/extensions/v2/{name}/signatures/{digest}")
    assert response.status_code == 200, response.text
    return response.json()["signatures"]


def test_sigstore_and_extension_signatures(api, registry, images, serve, tmp_path):  # noqa: F811
    layout = Layout(images)
    v1, multi = layout.tags["v1"], layout.tags["multi"]
    amd64 = layout.children(multi)["amd64"]
    signed = {v1: [b"\x89sig-one-of-v1", b"\x89sig-two-of-v1"], amd64: [b"\x89sig-amd64"]}
    root = tmp_path / "sigstore"
    for digest, blobs in signed.items():
        lookaside(root, APP, digest, blobs)
    base, _ = serve(root)

    repo_id = create_repo(api, registry.url, upstream_name=APP, tags=["v1", "multi"],
                          sigstore=base)
    reports = sync(api, repo_id)
    assert [r["state"] for r in reports] == ["finished", "finished"], reports
    assert reports[0]["result"]["summary"]["signatures"] == 3
    assert counts(api, repo_id)[SIG] == 3
    found = api.post("/pulp/api/v2/content/units/docker_manifest_signature/search/", json={
        "criteria": {"filters": {"manifest_digest": v1}}}).json()
    assert sorted(u["digest"] for u in found) == sorted(
        "sha256:" + hashlib.sha256(b).hexdigest() for b in signed[v1])

    # Published: the extension API, the sigstore view, and skopeo still pulls.
    entries = extension(api.base, repo_id, v1)
    assert sorted(base64.b64decode(e["content"]) for e in entries) == sorted(signed[v1])
    assert all(e["schemaVersion"] == 2 and e["type"] == "atomic" and
               e["name"].startswith(f"{v1}@") for e in entries)
    assert extension(api.base, repo_id, layout.tags["v2"]) == []
    view = f"{api.base}/pulp/docker-sigstore/{repo_id}@{amd64.replace(':', '=')}"
    assert requests.get(f"{view}/signature-1").content == signed[amd64][0]
    assert requests.get(f"{view}/signature-2").status_code == 404
    assert requests.get(f"{api.base}/v2/").headers["X-Registry-Supports-Signatures"] == "1"
    host = api.base.split("://", 1)[1]
    info = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{host}/{repo_id}:v1"))
    assert info["Digest"] == v1
    out = tmp_path / "dir"
    skopeo("copy", "--src-tls-verify=false", f"docker://{host}/{repo_id}:v1", f"dir:{out}")
    assert sorted(p.read_bytes() for p in out.glob("signature-*")) == sorted(signed[v1])
    # As from any signing registry: an oci: layout cannot hold signatures, so skopeo wants
    # --remove-signatures for it (unsigned images copy without it, see test_docker.py).
    skopeo("copy", "--src-tls-verify=false", "--remove-signatures",
           f"docker://{host}/{repo_id}:v1", f"oci:{tmp_path / 'oci'}:v1")
    assert (tmp_path / "oci" / "index.json").is_file()  # converted to OCI: another digest

    # A second pulp2ng repository gets them through pulp2ng's own extension API.
    chained = create_repo(api, api.base, upstream_name=repo_id)
    assert [r["state"] for r in sync(api, chained)] == ["finished", "finished"]
    assert counts(api, chained)[SIG] == 3


def test_registry_extension_signatures(api, stack):
    stub = StubRegistry()
    try:
        manifest, _ = _stub_image(stub, "signed/img")
        stub.routes["/v2/"] = (200, {"Content-Type": "application/json",
                                     "X-Registry-Supports-Signatures": "1"}, b"{}")
        sigs = [b"\x89ext-sig-1", b"\x89ext-sig-2"]
        stub.routes[f"/extensions/v2/signed/img/signatures/{manifest}"] = (
            200, {"Content-Type": "application/json"}, json.dumps({"signatures": [
                {"schemaVersion": 2, "type": "atomic", "name": f"{manifest}@{i:032x}",
                 "content": base64.b64encode(s).decode()} for i, s in enumerate(sigs)]
                + [{"schemaVersion": 2, "type": "atomic", "name": f"sha256:{'0' * 64}@x",
                    "content": "b3RoZXI="}]}).encode())
        repo_id = create_repo(api, stub.url, upstream_name="signed/img")
        reports = sync(api, repo_id)
    finally:
        stub.close()
    assert [r["state"] for r in reports] == ["finished", "finished"], reports
    assert counts(api, repo_id)[SIG] == 2  # the other manifest's signature is skipped
    entries = extension(api.base, repo_id, manifest)
    assert sorted(base64.b64decode(e["content"]) for e in entries) == sorted(sigs)


def test_cosign_attestations_and_sboms_are_mirrored_only_with_sync_cosign(api, registry,
                                                                           tmp_path):
    """Companions of the synced images land, whatever the tag filter; one of an image outside
    the filter does not; pulp2ng serves them by tag. With ``sync_cosign`` off none land."""
    name = "fixtures/cosign"
    run([sys.executable, str(FIXTURES / "make_oci_images.py"), str(tmp_path / "layout"),
         "--tag", "v1=amd64", "--tag", "v2=amd64", "--tag", "other=amd64",
         "--push", f"{registry.url}/{name}"])
    layout = Layout(tmp_path / "layout")
    v1, v2, other = (layout.tags[t] for t in ("v1", "v2", "other"))
    pushed = {tag: (digest, blobs) for tag, digest, blobs in (
        push_cosign_companion(registry.url, name, target, suffix)
        for target, suffix in ((v1, "sig"), (v1, "att"), (v1, "sbom"), (v2, "sbom"),
                               (other, "att")))}
    wanted = {t: pushed[t] for t in pushed if not t.startswith(f"sha256-{other[7:]}")}
    assert len(wanted) == 4
    image_blobs = set(layout.image_blobs(v1) + layout.image_blobs(v2))

    repo_id = create_repo(api, registry.url, upstream_name=name, tags=["v1", "v2"])
    reports = sync(api, repo_id)
    assert [r["state"] for r in reports] == ["finished", "finished"], reports
    assert reports[0]["result"]["summary"]["companion_tags"] == 4
    assert tag_names(api, repo_id) == {"v1", "v2", *wanted}
    companion_blobs = {b for _, blobs in wanted.values() for b in blobs}
    assert counts(api, repo_id) == {"docker_tag": 6, "docker_manifest": 6,
                                    "docker_blob": len(image_blobs | companion_blobs)}
    v2_api = f"{api.base}/v2/{repo_id}"
    assert requests.get(f"{v2_api}/tags/list").json()["tags"] == sorted(["v1", "v2", *wanted])
    for tag, (digest, blobs) in wanted.items():
        resp = requests.get(f"{v2_api}/manifests/{tag}", headers={"Accept": mt.OCI_MANIFEST})
        assert resp.status_code == 200, (tag, resp.text)
        assert resp.headers["Content-Type"] == mt.OCI_MANIFEST
        assert resp.headers["Docker-Content-Digest"] == digest == sha(resp.content)
        for blob in blobs:
            assert sha(requests.get(f"{v2_api}/blobs/{blob}").content) == blob

    plain = create_repo(api, registry.url, upstream_name=name, tags=["v1", "v2"],
                        sync_cosign=False)
    assert [r["state"] for r in sync(api, plain)] == ["finished", "finished"]
    assert tag_names(api, plain) == {"v1", "v2"}
    assert counts(api, plain) == {"docker_tag": 2, "docker_manifest": 2,
                                  "docker_blob": len(image_blobs)}
