"""Container workflow (seeds 001/003, reference §2 and §6.2) against a real docker-registry.

Sync with tag wildcards, auto-publish, pull with skopeo through pulp2ng's /v2 API (digests equal
upstream's), chain a second repository off the first, mirror removals, blobs stored once and
never downloaded again, a blob cut off mid-transfer fetched again, and upstream faults that must
fail the sync with nothing stored.
"""
from __future__ import annotations

import hashlib
import json
import sys
import uuid

import pytest
import requests

from tests.conftest import require_tool
from tests.unit.docker.conftest import (  # noqa: F401  (fixtures used by name)
    FIXTURES,
    StubRegistry,
    images,
    oci_registry,
    registry,
    run,
    start_registry,
    start_token_server,
)
from tests.unit.docker.test_registry_client import Layout, push_cosign_companion

API = "/pulp/api/v2"
WILD = "fixtures/wild"
DOCKER_TYPES = ("docker_tag", "docker_manifest", "docker_manifest_list", "docker_blob")


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def upstream(registry, tmp_path_factory):
    """fixtures/wild: several tags in and out of the wildcards, a list, a cosign signature."""
    out = tmp_path_factory.mktemp("wild") / "layout"
    run([sys.executable, str(FIXTURES / "make_oci_images.py"), str(out),
         "--tag", "v1.0=amd64", "--tag", "v1.1=amd64", "--tag", "v2.0=amd64",
         "--tag", "beta-1=amd64", "--tag", "multi=amd64,arm64,s390x",
         "--push", f"{registry.url}/{WILD}"])
    layout = Layout(out)
    sig_tag, sig_digest, sig_blobs = push_cosign_companion(registry.url, WILD,
                                                           layout.tags["v1.0"])
    layout.sig = (sig_tag, sig_digest, sig_blobs)
    return registry, layout


def create_repo(api, feed, registry_id=None, **config):
    repo_id = f"dkr-{uuid.uuid4().hex[:8]}"
    dist = {"distributor_type_id": "docker_distributor_web",
            "distributor_id": "docker_web", "auto_publish": True,
            "distributor_config": {"repo-registry-id": registry_id} if registry_id else {}}
    response = api.post(f"{API}/repositories/", json={
        "id": repo_id, "importer_type_id": "docker_importer",
        "importer_config": {"feed": feed, **config}, "distributors": [dist]})
    assert response.status_code == 201, response.text
    return repo_id


def sync(api, repo_id, **override):
    return api.sync(repo_id, **override)


def counts(api, repo_id):
    return api.get(f"{API}/repositories/{repo_id}/").json()["content_unit_counts"]


def expected_content(layout, tags):
    """(tags, manifests, lists, blobs) that syncing ``tags`` of the layout must store."""
    manifests, lists, blobs = set(), set(), set()
    for tag in tags:
        digest = layout.tags[tag]
        if "manifests" in layout.doc(digest):
            lists.add(digest)
            children = list(layout.children(digest).values())
        else:
            children = [digest]
        for child in children:
            manifests.add(child)
            blobs.update(layout.image_blobs(child))
    return manifests, lists, blobs


def skopeo(*args):
    return run([require_tool("skopeo"), *args], timeout=120)


def dir_digest(path) -> str:
    return sha((path / "manifest.json").read_bytes())


def test_sync_wildcards_publish_pull_chain_and_mirror(api, upstream, tmp_path):
    reg, layout = upstream
    sig_tag, sig_digest, sig_blobs = layout.sig
    registry_id = f"test/wild-{uuid.uuid4().hex[:6]}"
    repo_id = create_repo(api, reg.url, registry_id, upstream_name=WILD,
                          include_tags=["v1.*", "multi"], exclude_tags=["v1.1"])
    reports = sync(api, repo_id)
    assert [r["state"] for r in reports] == ["finished", "finished"], reports

    manifests, lists, blobs = expected_content(layout, ["v1.0", "multi"])
    manifests.add(sig_digest)
    blobs.update(sig_blobs)
    assert counts(api, repo_id) == {"docker_tag": 3, "docker_manifest": len(manifests),
                                    "docker_manifest_list": len(lists),
                                    "docker_blob": len(blobs)}
    assert len(manifests) == 5 and len(blobs) == 13  # the amd64 base layer is stored once

    host = api.base.split("://", 1)[1]
    v2 = f"{api.base}/v2"
    tags = requests.get(f"{v2}/{registry_id}/tags/list").json()
    assert tags == {"name": registry_id, "tags": sorted(["v1.0", "multi", sig_tag])}
    page = requests.get(f"{v2}/{registry_id}/tags/list", params={"n": 1})
    assert page.json()["tags"] == ["multi"] and 'rel="next"' in page.headers["Link"]
    assert registry_id in requests.get(f"{v2}/_catalog").json()["repositories"]
    root = requests.get(f"{v2}/")
    assert root.json() == {} and root.headers["Docker-Distribution-API-Version"] == \
        "registry/2.0"

    # Real client: single-arch, each platform of the list, by digest; digests equal upstream.
    src = f"docker://{host}/{registry_id}"
    info = json.loads(skopeo("inspect", "--tls-verify=false", f"{src}:v1.0"))
    assert info["Digest"] == layout.tags["v1.0"]
    skopeo("copy", "--src-tls-verify=false", f"{src}:v1.0", f"oci:{tmp_path / 'oci'}:v1.0")
    skopeo("copy", "--src-tls-verify=false", f"{src}:v1.0", f"dir:{tmp_path / 'v1'}")
    assert dir_digest(tmp_path / "v1") == layout.tags["v1.0"]
    for arch, child in layout.children(layout.tags["multi"]).items():
        out = tmp_path / f"multi-{arch}"
        skopeo("copy", "--src-tls-verify=false", "--override-arch", arch,
               f"{src}:multi", f"dir:{out}")
        assert dir_digest(out) == child
        for blob in layout.image_blobs(child):
            assert sha((out / blob.split(":")[1]).read_bytes()) == blob
    out = tmp_path / "list"
    skopeo("copy", "--src-tls-verify=false", "--all", f"{src}@{layout.tags['multi']}",
           f"dir:{out}")
    assert dir_digest(out) == layout.tags["multi"]

    # A second repository syncs from the first pulp2ng's registry API.
    second = create_repo(api, api.base, upstream_name=registry_id)
    assert [r["state"] for r in sync(api, second)] == ["finished", "finished"]
    assert counts(api, second) == counts(api, repo_id)
    second_tags = requests.get(f"{v2}/{second}/tags/list").json()["tags"]
    assert second_tags == tags["tags"]

    # A no-op re-sync adds nothing; then mirror a tag that disappears upstream.
    [resync, _] = sync(api, repo_id)
    assert resync["result"]["added_count"] == 0 and resync["result"]["removed_count"] == 0
    before = counts(api, repo_id)
    extra = f"{reg.url}/v2/{WILD}/manifests"
    v2_bytes = layout.blob(layout.tags["v2.0"])
    assert requests.put(f"{extra}/v1.9", data=v2_bytes, headers={
        "Content-Type": json.loads(v2_bytes)["mediaType"]}).status_code == 201
    sync(api, repo_id)
    assert counts(api, repo_id)["docker_tag"] == 4
    assert requests.delete(f"{extra}/{layout.tags['v2.0']}").status_code == 202
    [mirrored, _] = sync(api, repo_id, remove_missing=True)
    assert mirrored["state"] == "finished", mirrored
    assert counts(api, repo_id) == before  # tag, manifest, config and app layer gone
    assert "v1.9" not in requests.get(f"{v2}/{registry_id}/tags/list").json()["tags"]


def test_oci_index_and_registry_errors(api, oci_registry, tmp_path):
    reg, oci_layout_root = oci_registry
    layout = Layout(oci_layout_root)
    repo_id = create_repo(api, reg.url, upstream_name="fixtures/oci-img",
                          platforms=["linux/amd64", "linux/arm64"])
    assert [r["state"] for r in sync(api, repo_id)] == ["finished", "finished"]
    children = layout.children(layout.tags["multi"])
    assert counts(api, repo_id) == {"docker_tag": 2, "docker_manifest": 3,
                                    "docker_manifest_list": 1, "docker_blob": 8}
    host, v2 = api.base.split("://", 1)[1], f"{api.base}/v2"
    out = tmp_path / "arm"
    skopeo("copy", "--src-tls-verify=false", "--override-arch", "arm64",
           f"docker://{host}/{repo_id}:multi", f"dir:{out}")
    assert dir_digest(out) == children["arm64"]

    # Negotiation: an index only for clients naming it, else the amd64 image.
    oci = "application/vnd.oci.image.manifest.v1+json"
    index = "application/vnd.oci.image.index.v1+json"
    resp = requests.get(f"{v2}/{repo_id}/manifests/multi", headers={"Accept": index})
    assert resp.headers["Docker-Content-Digest"] == layout.tags["multi"]
    assert resp.headers["Content-Type"] == index and sha(resp.content) == layout.tags["multi"]
    resp = requests.head(f"{v2}/{repo_id}/manifests/multi", headers={"Accept": oci})
    assert resp.headers["Docker-Content-Digest"] == children["amd64"]
    assert int(resp.headers["Content-Length"]) == len(layout.blob(children["amd64"]))
    blob = layout.image_blobs(children["amd64"])[1]
    resp = requests.get(f"{v2}/{repo_id}/blobs/{blob}", headers={"Range": "bytes=0-9"})
    assert resp.status_code == 206 and resp.content == layout.blob(blob)[:10]
    for path, code in ((f"{repo_id}/manifests/nope", "MANIFEST_UNKNOWN"),
                       (f"{repo_id}/blobs/sha256:{'0' * 64}", "BLOB_UNKNOWN"),
                       ("no/such/repo/tags/list", "NAME_UNKNOWN")):
        resp = requests.get(f"{v2}/{path}")
        assert resp.status_code == 404 and resp.json()["errors"][0]["code"] == code


def test_copy_tag_pulls_manifest_and_blobs(api, oci_registry):
    reg, oci_layout_root = oci_registry
    layout = Layout(oci_layout_root)
    source = create_repo(api, reg.url, upstream_name="fixtures/oci-img")
    assert [r["state"] for r in sync(api, source)] == ["finished", "finished"]
    dest = create_repo(api, reg.url, upstream_name="fixtures/oci-img")
    response = api.post(f"{API}/repositories/{dest}/actions/associate/", json={
        "source_repo_id": source,
        "criteria": {"type_ids": ["docker_tag"], "filters": {"unit": {"name": "v1"}}}})
    assert response.status_code == 202, response.text
    reports = api.wait_report(response)
    assert all(r["state"] == "finished" for r in reports), reports
    assert counts(api, dest) == {"docker_tag": 1, "docker_manifest": 1, "docker_blob": 3}
    tags = api.get(f"{API}/repositories/{dest}/search/units/", params={"type_ids": "docker_tag"})
    if tags.status_code == 200:
        assert {u["metadata"]["repo_id"] for u in tags.json()} == {dest}
    assert layout.tags["v1"]


def test_stored_blobs_are_never_downloaded_again(api, registry, tmp_path):
    """Counted at a recording front of the registry: a second repository overlapping the first
    upstream, then a re-sync of the first, GET only blobs no repository stored yet; the second
    still gets every tag, manifest and blob."""
    name = "fixtures/dedupe"
    out = tmp_path / "layout"
    run([sys.executable, str(FIXTURES / "make_oci_images.py"), str(out), "--tag", "a=amd64",
         "--tag", "b=amd64", "--layer-kb", "3", "--push", f"{registry.url}/{name}"])
    layout = Layout(out)
    a_blobs, b_blobs = (set(layout.image_blobs(layout.tags[t])) for t in ("a", "b"))
    assert len(a_blobs & b_blobs) == 1  # the amd64 base layer (3 KiB: no other test has it)
    front = StubRegistry(upstream=registry.url)
    prefix = f"/v2/{name}/blobs/"

    def blob_gets_during(sync_repo_id):
        before = len(front.gets(prefix))
        assert [r["state"] for r in sync(api, sync_repo_id)] == ["finished", "finished"]
        return sorted(path[len(prefix):] for path in front.gets(prefix)[before:])

    try:
        first = create_repo(api, front.url, upstream_name=name, tags=["a"])
        assert blob_gets_during(first) == sorted(a_blobs)
        second = create_repo(api, front.url, upstream_name=name)
        assert blob_gets_during(second) == sorted(b_blobs - a_blobs)
        manifests_before = len(front.gets(f"/v2/{name}/manifests/"))
        assert blob_gets_during(first) == []
        assert len(front.gets(f"/v2/{name}/manifests/")) > manifests_before  # it did look
    finally:
        front.close()
    assert counts(api, second) == {"docker_tag": 2, "docker_manifest": 2,
                                   "docker_blob": len(a_blobs | b_blobs)}
    v2 = f"{api.base}/v2/{second}"
    assert requests.get(f"{v2}/tags/list").json()["tags"] == ["a", "b"]
    for digest in a_blobs | b_blobs:
        assert sha(requests.get(f"{v2}/blobs/{digest}").content) == digest


def test_repo_registry_id_validated_and_unique(api, registry):
    taken = f"unique/{uuid.uuid4().hex[:6]}"
    create_repo(api, registry.url, taken, upstream_name=WILD)
    for bad in (taken, "Upper/Case", "a//b"):
        response = api.post(f"{API}/repositories/", json={
            "id": f"dkr-{uuid.uuid4().hex[:8]}", "importer_type_id": "docker_importer",
            "distributors": [{"distributor_type_id": "docker_distributor_web",
                              "distributor_config": {"repo-registry-id": bad}}]})
        assert response.status_code == 400, (bad, response.text)


# ------------------------------------------------------------------- upstream faults


def _stub_image(stub, name, *, missing_blob=False, corrupt_blob=False, fail_manifest=False,
                layer=b"layer bytes" * 50, foreign_urls=None):
    """Serve one small Docker image from the stub; break it as asked. With ``foreign_urls``
    its layer is non-distributable: listed at those URLs, not served by the registry."""
    config = b'{"architecture":"amd64","os":"linux"}'
    descriptor = {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                  "size": len(layer), "digest": sha(layer)}
    if foreign_urls:
        missing_blob = True
        descriptor.update(mediaType="application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                          urls=foreign_urls)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": len(config), "digest": sha(config)},
        "layers": [descriptor]}).encode()
    json_type = {"Content-Type": "application/json"}
    stub.routes["/v2/"] = (200, json_type, b"{}")
    stub.routes[f"/v2/{name}/tags/list"] = (200, json_type,
                                            json.dumps({"name": name, "tags": ["v1"]}).encode())
    mtype = {"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"}
    stub.routes[f"/v2/{name}/manifests/v1"] = (
        (500, json_type, b'{"errors":[{"code":"UNKNOWN","message":"boom"}]}')
        if fail_manifest else (200, mtype, manifest))
    stub.routes[f"/v2/{name}/blobs/{sha(config)}"] = (200, {}, config)
    if not missing_blob:
        stub.routes[f"/v2/{name}/blobs/{sha(layer)}"] = (
            200, {}, layer[::-1] if corrupt_blob else layer)
    return sha(manifest), sha(layer)


@pytest.mark.parametrize("fault, expect", [
    ("corrupt_blob", "does not match its digest"),
    ("missing_blob", "references blob"),
    ("fail_manifest", "HTTP 500"),
])
def test_upstream_faults_store_nothing(api, stack, fault, expect):
    stub = StubRegistry()
    try:
        manifest_digest, layer_digest = _stub_image(stub, "bad/img", **{fault: True})
        repo_id = create_repo(api, stub.url, upstream_name="bad/img")
        [report] = sync(api, repo_id)
    finally:
        stub.close()
    assert report["state"] == "error"
    assert expect in report["error"]["description"], report["error"]
    assert counts(api, repo_id) == {}
    for type_id, digest in (("docker_manifest", manifest_digest), ("docker_blob", layer_digest)):
        hexd = digest.split(":")[1]
        assert not (stack.storage / "content" / type_id / hexd[:2] / hexd[2:]).exists()
    resp = requests.get(f"{api.base}/v2/{repo_id}/tags/list")
    assert resp.status_code == 404 and resp.json()["errors"][0]["code"] == "NAME_UNKNOWN"


def stored_blob(stack, digest):
    hexd = digest.split(":")[1]
    return stack.storage / "content" / "docker_blob" / hexd[:2] / hexd[2:]


def sync_cut_blob(api, name: str, times: int, **config):
    """Sync an image whose layer answer breaks off after 1000 bytes, ``times`` times over.

    Returns the sync's task reports, the layer's blob path on the stub, what the stub got for
    it, the layer and its digest."""
    layer = uuid.uuid4().bytes * 8192
    stub = StubRegistry()
    try:
        _, layer_digest = _stub_image(stub, name, layer=layer)
        path = f"/v2/{name}/blobs/{layer_digest}"
        stub.cut(path, after=1000, times=times)
        repo_id = create_repo(api, stub.url, upstream_name=name, **config)
        reports = sync(api, repo_id)
    finally:
        stub.close()
    return repo_id, reports, stub.gets(path), path, layer, layer_digest


def test_blob_cut_off_mid_transfer_is_fetched_again(api, stack):
    repo_id, reports, gets, path, layer, digest = sync_cut_blob(api, "flaky/img", times=1)
    assert [r["state"] for r in reports] == ["finished", "finished"], reports
    assert gets == [path, path]
    assert stored_blob(stack, digest).read_bytes() == layer
    assert counts(api, repo_id)["docker_blob"] == 2


def test_blob_cut_off_beyond_the_retries_fails_and_keeps_nothing(api, stack):
    repo_id, [report], gets, path, layer, digest = sync_cut_blob(api, "dead/img", times=10,
                                                                 retries=2)
    assert report["state"] == "error"
    assert gets == [path] * 3  # the configured retries, then it gives up
    assert f"broke off after 1000 of {len(layer)} bytes" in report["error"]["description"]
    assert counts(api, repo_id) == {}
    assert not stored_blob(stack, digest).exists()
    assert list(stack.storage.rglob(".blob-*.part")) == []


def test_orphaned_tags_manifests_and_blobs_are_deleted_with_their_files(api, stack):
    stub = StubRegistry()
    try:
        manifest_digest, layer_digest = _stub_image(stub, "orphan/img",
                                                    layer=uuid.uuid4().bytes * 64)
        repo_id = create_repo(api, stub.url, upstream_name="orphan/img")
        assert [r["state"] for r in sync(api, repo_id)] == ["finished", "finished"]
    finally:
        stub.close()
    files = []
    for type_id, digest in (("docker_manifest", manifest_digest), ("docker_blob", layer_digest)):
        hexd = digest.split(":")[1]
        files.append(stack.storage / "content" / type_id / hexd[:2] / hexd[2:])
    assert all(f.exists() for f in files)

    api.wait_report(api.delete(f"{API}/repositories/{repo_id}/"))
    listed = api.get(f"{API}/content/orphans/docker_blob/").json()
    assert layer_digest in {u["digest"] for u in listed}
    [report] = api.wait_report(api.delete(f"{API}/content/orphans/"))
    assert report["state"] == "finished", report
    assert not any(f.exists() for f in files)
    for type_id in ("docker_tag", "docker_manifest", "docker_blob"):
        assert api.get(f"{API}/content/orphans/{type_id}/").json() == []


def test_removing_a_list_cascades_to_what_only_it_needed(api, upstream, tmp_path):
    """§2.4: its tag goes, then its manifests no remaining tag or list holds, then the blobs
    only they used; what the remaining tag needs stays and still pulls."""
    reg, layout = upstream
    registry_id = f"test/rm-{uuid.uuid4().hex[:6]}"
    repo_id = create_repo(api, reg.url, registry_id, upstream_name=WILD,
                          include_tags=["v1.0", "multi"])
    assert [r["state"] for r in sync(api, repo_id)] == ["finished", "finished"]
    keep_manifests, _, keep_blobs = expected_content(layout, ["v1.0"])
    multi = layout.tags["multi"]
    [listed] = api.post(f"{API}/repositories/{repo_id}/search/units/", json={
        "criteria": {"type_ids": ["docker_manifest_list"]}}).json()
    assert listed["metadata"]["amd64_digest"] == layout.children(multi)["amd64"]
    assert listed["metadata"]["amd64_schema_version"] == 2
    [report] = api.wait_report(api.post(f"{API}/repositories/{repo_id}/actions/unassociate/",
                                        json={"criteria": {"type_ids": ["docker_manifest_list"],
                                                           "filters": {"unit": {"digest": multi}}}}))
    assert report["state"] == "finished", report

    def digests(type_id, field="digest"):
        found = api.post(f"{API}/repositories/{repo_id}/search/units/", json={
            "criteria": {"type_ids": [type_id]}})
        assert found.status_code == 200, found.text
        return {u["metadata"][field] for u in found.json()}

    sig_manifest = layout.sig[1]
    assert digests("docker_tag", "name") == {"v1.0", layout.sig[0]}
    assert digests("docker_manifest_list") == set()
    assert digests("docker_manifest") == keep_manifests | {sig_manifest}
    assert digests("docker_blob") == keep_blobs | set(layout.sig[2])
    publish = api.post(f"{API}/repositories/{repo_id}/actions/publish/",
                       json={"id": "docker_web"})
    assert api.wait_report(publish)[0]["state"] == "finished"
    host = api.base.split("://", 1)[1]
    skopeo("copy", "--src-tls-verify=false", f"docker://{host}/{registry_id}:v1.0",
           f"oci:{tmp_path / 'oci'}:v1.0")
    missing = requests.get(f"{api.base}/v2/{registry_id}/manifests/multi")
    assert missing.status_code == 404


def test_head_answers_like_get_without_a_body_and_protected_repos_stay_hidden(api, upstream):
    reg, layout = upstream
    registry_id = f"test/head-{uuid.uuid4().hex[:6]}"
    repo_id = create_repo(api, reg.url, registry_id, upstream_name=WILD, include_tags=["v1.0"])
    assert [r["state"] for r in sync(api, repo_id)] == ["finished", "finished"]
    v2 = f"{api.base}/v2"
    digest = layout.tags["v1.0"]
    blob = sorted(layout.image_blobs(digest))[0]
    for path in ("/", f"/{registry_id}/tags/list", f"/{registry_id}/manifests/v1.0",
                 f"/{registry_id}/manifests/{digest}", f"/{registry_id}/blobs/{blob}",
                 "/_catalog"):
        got, head = requests.get(v2 + path), requests.head(v2 + path)
        assert (got.status_code, head.status_code) == (200, 200), path
        assert head.content == b"" and head.headers["Content-Length"] == str(len(got.content))
        for header in ("Content-Type", "Docker-Content-Digest"):
            assert head.headers.get(header) == got.headers.get(header), (path, header)
    assert requests.head(f"{v2}/{registry_id}/manifests/{digest}").headers[
        "Docker-Content-Digest"] == digest
    missing = requests.head(f"{v2}/{registry_id}/blobs/sha256:{'0' * 64}")
    assert missing.status_code == 404 and missing.content == b""

    dist = f"{API}/repositories/{repo_id}/distributors/docker_web/"
    assert api.wait_report(api.put(dist, json={"distributor_config": {"protected": True}}))[0][
        "state"] == "finished"
    publish = api.post(f"{API}/repositories/{repo_id}/actions/publish/", json={"id": "docker_web"})
    assert api.wait_report(publish)[0]["state"] == "finished"
    for path in (f"/{registry_id}/tags/list", f"/{registry_id}/manifests/v1.0"):
        hidden = requests.get(v2 + path)
        assert hidden.status_code == 404, path
        assert hidden.json()["errors"][0]["code"] == "NAME_UNKNOWN"
    assert registry_id not in requests.get(f"{v2}/_catalog").json()["repositories"]


def test_foreign_layers_come_from_their_urls_when_included(api, stack, serve, tmp_path):
    """A non-distributable layer is not in the registry: with ``include_foreign_layers`` it
    is fetched from the descriptor's ``urls`` (and verified); without, it is skipped."""
    layer = uuid.uuid4().bytes * 100
    (tmp_path / "cdn").mkdir()
    (tmp_path / "cdn" / "layer.tar.gz").write_bytes(layer)
    cdn, log = serve(tmp_path / "cdn")
    stub = StubRegistry()
    _stub_image(stub, "win/img", layer=layer,
                foreign_urls=[cdn + "missing.tar.gz", cdn + "layer.tar.gz"])
    hexd = sha(layer).split(":")[1]
    stored = stack.storage / "content" / "docker_blob" / hexd[:2] / hexd[2:]
    try:
        skipped = create_repo(api, stub.url, upstream_name="win/img")
        assert [r["state"] for r in sync(api, skipped)] == ["finished", "finished"]
        assert counts(api, skipped)["docker_blob"] == 1 and not stored.exists()
        included = create_repo(api, stub.url, upstream_name="win/img",
                               include_foreign_layers=True)
        assert [r["state"] for r in sync(api, included)] == ["finished", "finished"]
    finally:
        stub.close()
    assert counts(api, included)["docker_blob"] == 2
    assert stored.read_bytes() == layer
    assert not any(f"blobs/{sha(layer)}" in path for _, path, _ in stub.requests)
    assert "GET /missing.tar.gz 404" in log.read_text()


@pytest.mark.parametrize("mirror", [True, False])
def test_mirror_removes_only_within_the_filter_and_additive_keeps(api, mirror):
    stub = StubRegistry()
    try:
        _stub_image(stub, "mir/img", layer=uuid.uuid4().bytes * 64)
        manifest = stub.routes["/v2/mir/img/manifests/v1"]

        def upstream_tags(*names):
            body = json.dumps({"name": "mir/img", "tags": list(names)}).encode()
            stub.routes["/v2/mir/img/tags/list"] = (200, {"Content-Type": "application/json"},
                                                    body)
            for name in names:
                stub.routes[f"/v2/mir/img/manifests/{name}"] = manifest

        upstream_tags("v1", "v2", "other")
        repo_id = create_repo(api, stub.url, upstream_name="mir/img", remove_missing=mirror)
        assert [r["state"] for r in sync(api, repo_id)] == ["finished", "finished"]
        importer = f"{API}/repositories/{repo_id}/importers/docker_importer/"
        assert api.put(importer, json={"importer_config": {"include_tags": ["v*"]}}
                       ).status_code in (200, 202)
        del stub.routes["/v2/mir/img/manifests/v1"]
        upstream_tags("v2", "other2")
        reports = sync(api, repo_id)
        assert [r["state"] for r in reports] == ["finished", "finished"], reports
    finally:
        stub.close()
    tags = {u["metadata"]["name"] for u in api.post(
        f"{API}/repositories/{repo_id}/search/units/",
        json={"criteria": {"type_ids": ["docker_tag"]}}).json()}
    # "other" is outside the new filter: a mirror leaves it alone, as it leaves "other2" out
    assert tags == ({"v2", "other"} if mirror else {"v1", "v2", "other"})
    assert reports[0]["result"]["removed_count"] == (1 if mirror else 0)


def test_token_endpoint_refusing(api, registry, tmp_path, request):
    realm, cert, _ = start_token_server(request, tmp_path, "--user", "alice:s3cret")
    reg = start_registry(request, tmp_path / "reg", "token", realm, str(cert),
                         data_from=registry.dir)
    repo_id = create_repo(api, reg.url, upstream_name=WILD, basic_auth_username="alice",
                          basic_auth_password="wrong")
    [report] = sync(api, repo_id)
    assert report["state"] == "error"
    assert "refused" in report["error"]["description"], report["error"]
    assert "wrong" not in json.dumps(report)
    assert counts(api, repo_id) == {}

