"""Atomic signatures: synced from a sigstore (a static lookaside tree) and from the registry
extension API (a stub registry, then pulp2ng itself), published through pulp2ng's extension API
and sigstore view, while skopeo still pulls.
"""
from __future__ import annotations

import base64
import hashlib
import json

import requests

from tests.integration.test_docker import _stub_image, counts, create_repo, skopeo, sync
from tests.unit.docker.conftest import StubRegistry, images, registry  # noqa: F401
from tests.unit.docker.test_registry_client import Layout

APP = "fixtures/app"
SIG = "docker_manifest_signature"


def lookaside(root, name, digest, blobs):
    folder = root / f"{name}@{digest.replace(':', '=')}"
    folder.mkdir(parents=True)
    for index, data in enumerate(blobs, 1):
        (folder / f"signature-{index}").write_bytes(data)


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
