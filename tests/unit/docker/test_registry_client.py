"""RegistryClient and plan_sync against a real docker-registry (no auth, token, Basic) and a stub.

Expected digests come from the OCI layout that make_oci_images.py wrote, not from the client.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import sys

import pytest
import requests

from pulp2ng.content.download import Downloader
from pulp2ng.errors import SyncError
from pulp2ng.importers.docker import mediatypes as mt
from pulp2ng.importers.docker.errors import (
    DigestMismatchError,
    NotFoundError,
    RegistryAuthError,
    RegistryError,
)
from pulp2ng.importers.docker.manifests import parse_manifest
from pulp2ng.importers.docker.registry import RegistryClient, parse_challenge
from pulp2ng.importers.docker.walk import plan_sync
from pulp2ng.plugin.config import CallConfig

from .conftest import FIXTURES, PASSWORD, USER, run

APP = "fixtures/app"
V1_DIGEST = "sha256:f95fd926112e5f01156775bfb895ba143d761e0a257af3f7754d0d35c8c7b3fc"
COSIGN_LAYERS = {"sig": "application/vnd.dev.cosign.simplesigning.v1+json",
                 "att": "application/vnd.dsse.envelope.v1+json",
                 "sbom": "text/spdx+json"}


# ---------------------------------------------------------------- helpers


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Layout:
    """Read the OCI layout written by make_oci_images.py."""

    def __init__(self, root):
        self.root = root
        index = json.loads((root / "index.json").read_text())
        self.tags = {m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"]
                     for m in index["manifests"]}

    def blob(self, digest: str) -> bytes:
        return (self.root / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()

    def doc(self, digest: str) -> dict:
        return json.loads(self.blob(digest))

    def children(self, digest: str) -> dict[str, str]:
        """arch -> child digest of a list."""
        return {c["platform"]["architecture"]: c["digest"]
                for c in self.doc(digest)["manifests"]}

    def image_blobs(self, digest: str) -> list[str]:
        doc = self.doc(digest)
        return [doc["config"]["digest"]] + [layer["digest"] for layer in doc["layers"]]


def client_for(url, username=None, password=None) -> RegistryClient:
    return RegistryClient(url, requests.Session(), username, password, timeout=10)


def push_blob(url: str, name: str, data: bytes) -> str:
    """Monolithic blob upload over the v2 API (POST then PUT)."""
    digest = sha(data)
    resp = requests.post(f"{url}/v2/{name}/blobs/uploads/", timeout=10)
    assert resp.status_code == 202, resp.text
    location = requests.compat.urljoin(url + "/", resp.headers["Location"])
    sep = "&" if "?" in location else "?"
    resp = requests.put(f"{location}{sep}digest={digest}", data=data, timeout=10,
                        headers={"Content-Type": "application/octet-stream"})
    assert resp.status_code == 201, resp.text
    return digest


def push_manifest(url: str, name: str, ref: str, media_type: str, data: bytes) -> str:
    resp = requests.put(f"{url}/v2/{name}/manifests/{ref}", data=data, timeout=10,
                        headers={"Content-Type": media_type})
    assert resp.status_code == 201, resp.text
    return resp.headers["Docker-Content-Digest"]


def _cosign_payload(target: str, suffix: str) -> bytes:
    """What cosign puts in the single layer of a signature, attestation or SBOM."""
    if suffix == "att":
        statement = json.dumps({"_type": "https://in-toto.io/Statement/v0.1",
                                "subject": [{"digest": {"sha256": target[7:]}}]}).encode()
        return json.dumps({"payloadType": "application/vnd.in-toto+json",
                           "payload": base64.b64encode(statement).decode(),
                           "signatures": []}).encode()
    if suffix == "sbom":
        return json.dumps({"spdxVersion": "SPDX-2.3", "name": target}).encode()
    return json.dumps({"critical": {"image": {"docker-manifest-digest": target}}}).encode()


def push_cosign_companion(url: str, name: str, target: str,
                          suffix: str = "sig") -> tuple[str, str, list[str]]:
    """Push a cosign-style manifest tagged ``sha256-<hex>.<suffix>`` for ``target``.

    ``suffix`` is ``sig`` (signature), ``att`` (attestation) or ``sbom``. Returns the tag, the
    manifest digest and its blob digests (config, layer).
    """
    payload = _cosign_payload(target, suffix)
    config = b'{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}'
    layer_digest, config_digest = push_blob(url, name, payload), push_blob(url, name, config)
    layer = {"mediaType": COSIGN_LAYERS[suffix], "size": len(payload), "digest": layer_digest}
    if suffix == "sig":
        layer["annotations"] = {"dev.cosignproject.cosign/signature": "MEUCIQ=="}
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "size": len(config), "digest": config_digest},
        "layers": [layer],
    }).encode()
    tag = f"sha256-{target[7:]}.{suffix}"
    return tag, push_manifest(url, name, tag, mt.OCI_MANIFEST, manifest), [config_digest,
                                                                           layer_digest]


@pytest.fixture(scope="module")
def layout(images):
    return Layout(images)


@pytest.fixture
def client(registry):
    return client_for(registry.url)


# ---------------------------------------------------------------- real registry, no auth


def test_ping_and_list_tags(client):
    info = client.ping()
    assert info.api_version == "registry/2.0" and info.auth_scheme is None
    assert sorted(client.list_tags(APP)) == ["latest", "multi", "v1", "v2"]


def test_catalog_follows_link_pagination(client, oci_registry):
    assert client.catalog(page_size=1) == client.catalog()
    assert {APP, "fixtures/oci-img"} <= set(client.catalog())


def test_schema2_manifest_and_list(client, layout):
    data, media_type, digest = client.get_manifest(APP, "v1")
    assert (media_type, digest) == (mt.DOCKER_MANIFEST_V2, V1_DIGEST)
    assert digest == layout.tags["v1"] and data == layout.blob(digest)

    data, media_type, digest = client.get_manifest(APP, "multi")
    listing = parse_manifest(data, media_type)
    assert (media_type, digest, listing.kind) == (mt.DOCKER_MANIFEST_LIST, layout.tags["multi"],
                                                  "list")
    by_arch = {c.platform.architecture: c.digest for c in listing.children}
    assert by_arch == layout.children(digest)

    data, media_type, child_digest = client.get_manifest(APP, by_arch["arm64"])
    assert (media_type, child_digest) == (mt.DOCKER_MANIFEST_V2, by_arch["arm64"])
    assert [b.digest for b in parse_manifest(data).blobs] == layout.image_blobs(child_digest)


def test_schema1_conversion_digest_matches_registry(client, layout):
    data, media_type, digest = client.get_manifest(APP, "v1", accept=mt.ACCEPT_SCHEMA1)
    manifest = parse_manifest(data, media_type)
    assert media_type == mt.DOCKER_MANIFEST_V1_SIGNED and b'"signatures"' in data
    assert digest != sha(data)  # hashed without the JWS block, and equal to the registry's
    assert list(manifest.fs_layers) == layout.image_blobs(V1_DIGEST)[1:][::-1]

    # A list fetched with no Accept at all gives the amd64 image as schema 1 (Pulp 2's path).
    data, media_type, _ = client.get_manifest(APP, "multi", accept=None)
    amd64 = layout.children(layout.tags["multi"])["amd64"]
    assert media_type == mt.DOCKER_MANIFEST_V1_SIGNED
    assert list(parse_manifest(data).fs_layers) == layout.image_blobs(amd64)[1:][::-1]


def test_oci_manifest_and_index(client, oci_registry):
    _, oci_layout_root = oci_registry
    oci_layout = Layout(oci_layout_root)
    data, media_type, digest = client.get_manifest("fixtures/oci-img", "v1")
    assert media_type == mt.OCI_MANIFEST and digest == sha(data)
    assert [b.media_type for b in parse_manifest(data).layers] == [mt.OCI_LAYER_GZIP] * 2
    assert digest == oci_layout.tags["v1"]
    data, media_type, digest = client.get_manifest("fixtures/oci-img", "multi")
    assert media_type == mt.OCI_INDEX and parse_manifest(data).is_list
    assert {c.digest for c in parse_manifest(data).children} == set(
        oci_layout.children(oci_layout.tags["multi"]).values())
    with pytest.raises(NotFoundError, match="MANIFEST_UNKNOWN"):
        client.get_manifest("fixtures/oci-img", "v1", accept=mt.ACCEPT_DOCKER)


def test_download_blobs_verified(client, layout, tmp_path):
    for digest in layout.image_blobs(V1_DIGEST):
        dest = tmp_path / "blobs" / digest
        size = client.download_blob(APP, digest, dest)
        assert dest.read_bytes() == layout.blob(digest) and size == len(layout.blob(digest))
    assert sorted(os.listdir(tmp_path / "blobs")) == sorted(layout.image_blobs(V1_DIGEST))


def test_not_found(client, tmp_path):
    with pytest.raises(NotFoundError, match="MANIFEST_UNKNOWN"):
        client.get_manifest(APP, "nope")
    with pytest.raises(NotFoundError, match="NAME_UNKNOWN"):
        client.list_tags("fixtures/nothing")
    missing = "sha256:" + "0" * 64
    with pytest.raises(NotFoundError, match=missing):
        client.download_blob(APP, missing, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_corrupted_storage_blob_is_refused(registry, client, tmp_path):
    data = b"unique blob for the corruption test " * 100
    digest = push_blob(registry.url, "fixtures/corrupt", data)
    registry.blob_file(digest).write_bytes(data[::-1])  # same size, other bytes
    dest = tmp_path / "out" / "blob"
    with pytest.raises(DigestMismatchError) as info:
        client.download_blob("fixtures/corrupt", digest, dest)
    assert info.value.expected == digest and info.value.actual == sha(data[::-1])
    assert digest in str(info.value) and "fixtures/corrupt" in str(info.value)
    assert os.listdir(tmp_path / "out") == []  # neither dest nor a temp file


# ---------------------------------------------------------------- plan_sync


def test_plan_sync_with_wildcards(client, layout):
    multi = layout.tags["multi"]
    kids = layout.children(multi)
    base_amd64 = layout.image_blobs(V1_DIGEST)[1]
    plan = plan_sync(client, APP, {"include": ["v*", "mul?i"], "exclude": ["v2"]},
                     have_blob=lambda d: d == base_amd64, have_manifest=lambda d: False)
    assert plan.tags == {"v1": V1_DIGEST, "multi": multi}
    assert list(plan.manifests) == [V1_DIGEST, kids["amd64"], kids["arm64"], kids["s390x"],
                                    multi]  # children before their list
    assert plan.manifests[multi].kind == "list"
    assert plan.manifests[multi].children == (kids["amd64"], kids["arm64"], kids["s390x"])
    assert plan.manifests[V1_DIGEST].blobs == tuple(layout.image_blobs(V1_DIGEST))
    assert plan.manifests[multi].data == layout.blob(multi)
    wanted = []
    for digest in (V1_DIGEST, kids["amd64"], kids["arm64"], kids["s390x"]):
        wanted += [b for b in layout.image_blobs(digest) if b not in wanted]
    wanted.remove(base_amd64)
    assert plan.blob_digests == wanted and len(wanted) == 10
    assert plan.existing_blobs == {base_amd64}
    assert plan.foreign_blobs == [] and plan.companion_tags == []


def test_plan_sync_known_manifest_and_platform_filter(client, layout):
    multi = layout.tags["multi"]
    arm64 = layout.children(multi)["arm64"]
    plan = plan_sync(client, APP, {"tags_exact": ["v1", "multi"]}, have_blob=lambda d: False,
                     have_manifest=lambda d: d == V1_DIGEST, platforms=["linux/arm64/v8"])
    assert plan.tags == {"v1": V1_DIGEST, "multi": multi}
    assert plan.existing_manifests == {V1_DIGEST}
    assert list(plan.manifests) == [arm64, multi]
    assert plan.manifests[multi].children == (arm64,)
    assert plan.blob_digests == layout.image_blobs(arm64)


def test_plan_sync_mirrors_cosign_companions(registry, layout, tmp_path):
    run([sys.executable, str(FIXTURES / "make_oci_images.py"), str(tmp_path / "layout"),
         "--push", f"{registry.url}/fixtures/signed"])
    sig_v1, sig_v1_digest, sig_blobs = push_cosign_companion(registry.url, "fixtures/signed",
                                                             V1_DIGEST)
    sig_v2, _, _ = push_cosign_companion(registry.url, "fixtures/signed", layout.tags["v2"])
    client = client_for(registry.url)
    assert {sig_v1, sig_v2} <= set(client.list_tags("fixtures/signed"))

    plan = plan_sync(client, "fixtures/signed", {"include": ["v1", sig_v2]},
                     have_blob=lambda d: False, have_manifest=lambda d: False)
    assert plan.tags == {"v1": V1_DIGEST, sig_v1: sig_v1_digest}  # the v2 signature is not
    assert plan.companion_tags == [sig_v1]
    assert plan.manifests[sig_v1_digest].media_type == mt.OCI_MANIFEST
    assert plan.blob_digests == layout.image_blobs(V1_DIGEST) + sig_blobs
    for blob in plan.blobs:  # and the plan downloads cleanly
        client.download_blob("fixtures/signed", blob.digest, tmp_path / "dl" / blob.digest)

    plan = plan_sync(client, "fixtures/signed", {"include": ["v1"]}, have_blob=lambda d: False,
                     have_manifest=lambda d: False, sync_cosign=False)
    assert list(plan.tags) == ["v1"]


# ---------------------------------------------------------------- token (Bearer) auth


def _token_lines(reg) -> list[dict]:
    if not reg.token_log.exists():
        return []
    return [json.loads(line) for line in reg.token_log.read_text().splitlines()]


def test_token_anonymous_pull_caches_token(token_registry, tmp_path):
    client = client_for(token_registry.url)
    assert client.ping().auth_scheme == "bearer"
    before = len(_token_lines(token_registry))
    assert "v1" in client.list_tags(APP)
    _, _, digest = client.get_manifest(APP, "v1")
    client.get_manifest(APP, "multi")
    config = parse_manifest(client.get_manifest(APP, digest)[0]).config.digest
    client.download_blob(APP, config, tmp_path / "config")
    issued = _token_lines(token_registry)[before:]
    assert issued == [{"user": None, "access": [
        {"type": "repository", "name": APP, "actions": ["pull"]}]}]


def test_token_with_credentials(token_registry):
    client = client_for(token_registry.url, USER, PASSWORD)
    before = len(_token_lines(token_registry))
    client.ping(authenticate=True)
    assert client.get_manifest(APP, "v1")[2] == V1_DIGEST
    users = {line["user"] for line in _token_lines(token_registry)[before:]}
    assert users == {USER}


def test_token_refused_credentials(token_registry):
    client = client_for(token_registry.url, USER, "wrong")
    with pytest.raises(RegistryAuthError, match="refused user 'alice'") as info:
        client.list_tags(APP)
    assert info.value.status == 401 and "/token" in info.value.url
    with pytest.raises(RegistryAuthError):
        client.ping(authenticate=True)


def test_token_refreshed_after_401(token_registry):
    client = client_for(token_registry.url)
    client.list_tags(APP)
    before = len(_token_lines(token_registry))
    client._tokens[client.repository_scope(APP)].value = "garbage.token.value"
    assert client.get_manifest(APP, "v1")[2] == V1_DIGEST
    assert len(_token_lines(token_registry)) == before + 1


# ---------------------------------------------------------------- Basic auth


def test_basic_auth(basic_registry):
    assert "v1" in client_for(basic_registry.url, USER, PASSWORD).list_tags(APP)
    with pytest.raises(RegistryAuthError, match="needs Basic credentials"):
        client_for(basic_registry.url).list_tags(APP)
    with pytest.raises(RegistryAuthError, match="refused"):
        client_for(basic_registry.url, USER, "wrong").list_tags(APP)


# ---------------------------------------------------------------- stub registry (faults)


def _json(status, doc, **headers):
    return status, {"Content-Type": "application/json", **headers}, json.dumps(doc).encode()


def test_stub_tags_link_pagination(stub):
    stub.routes["/v2/r/tags/list"] = _json(200, {"name": "r", "tags": ["a", "b"]},
                                           Link='</v2/r/tags/list?last=b&n=2>; rel="next"')
    stub.routes["/v2/r/tags/list?last=b&n=2"] = _json(
        200, {"name": "r", "tags": ["c", "d"]},
        Link=f'<{stub.url}/v2/r/tags/list?last=d&n=2>; rel="next"')
    stub.routes["/v2/r/tags/list?last=d&n=2"] = _json(200, {"name": "r", "tags": ["e"]})
    assert client_for(stub.url).list_tags("r") == ["a", "b", "c", "d", "e"]


def test_stub_tampered_blob(stub, tmp_path):
    digest = sha(b"the real bytes")
    stub.routes[f"/v2/r/blobs/{digest}"] = (200, {}, b"tampered bytes")
    dest = tmp_path / "blob"
    with pytest.raises(DigestMismatchError, match=digest):
        client_for(stub.url).download_blob("r", digest, dest)
    assert os.listdir(tmp_path) == []


def test_stub_blob_redirect_is_followed(stub, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 5)  # several 1 MiB chunks
    digest = sha(data)
    stub.routes[f"/v2/r/blobs/{digest}"] = (307, {"Location": "/storage/xyz?sig=1"}, b"")
    stub.routes["/storage/xyz?sig=1"] = (200, {"Content-Encoding": "gzip"}, data)
    assert client_for(stub.url).download_blob("r", digest, tmp_path / "b") == len(data)
    assert (tmp_path / "b").read_bytes() == data  # not "decoded": exact bytes


def _cut_blob(stub, times):
    """A 200 KiB blob whose next ``times`` answers break off after 1000 bytes."""
    data = os.urandom(200 * 1024)
    path = f"/v2/r/blobs/{sha(data)}"
    stub.routes[path] = (200, {}, data)
    stub.cut(path, after=1000, times=times)
    return data, path


def test_stub_blob_cut_off_is_fetched_again_under_the_downloader_policy(stub, tmp_path):
    data, path = _cut_blob(stub, times=1)
    with Downloader(CallConfig(repo={"retries": 1}), tmp_path) as downloader:
        client = RegistryClient(stub.url, downloader.session, retrying=downloader.retrying)
        assert client.download_blob("r", sha(data), tmp_path / "out" / "b") == len(data)
    assert (tmp_path / "out" / "b").read_bytes() == data
    assert stub.gets(path) == [path, path]


def test_stub_blob_cut_off_on_every_try_leaves_nothing(stub, tmp_path):
    data, path = _cut_blob(stub, times=5)
    with Downloader(CallConfig(repo={"retries": 2}), tmp_path) as downloader:
        client = RegistryClient(stub.url, downloader.session, retrying=downloader.retrying)
        with pytest.raises(SyncError, match=f"broke off after 1000 of {len(data)} bytes"):
            client.download_blob("r", sha(data), tmp_path / "out" / "b")
    assert stub.gets(path) == [path] * 3  # retries=2: three tries, then it gives up
    assert os.listdir(tmp_path / "out") == []
    with pytest.raises(RegistryError, match="broke off after 1000"):  # no policy: one try
        client_for(stub.url).download_blob("r", sha(data), tmp_path / "out" / "b")
    assert len(stub.gets(path)) == 4 and os.listdir(tmp_path / "out") == []


def test_stub_server_error(stub):
    stub.routes["/v2/r/manifests/v1"] = _json(500, {"errors": [{"code": "UNKNOWN",
                                                                "message": "boom"}]})
    with pytest.raises(RegistryError, match="HTTP 500.*boom") as info:
        client_for(stub.url).get_manifest("r", "v1")
    assert info.value.status == 500 and not isinstance(info.value, NotFoundError)


def test_stub_manifest_digest_checks(stub):
    body = json.dumps({"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST_V2,
                       "config": {"digest": sha(b"c"), "size": 1}, "layers": []}).encode()
    other = sha(b"something else")
    stub.routes["/v2/r/manifests/v1"] = (200, {"Docker-Content-Digest": other}, body)
    stub.routes[f"/v2/r/manifests/{other}"] = (200, {}, body)
    stub.routes[f"/v2/r/manifests/{sha(body)}"] = (200, {"Content-Type": mt.DOCKER_MANIFEST_V2},
                                                   body)
    client = client_for(stub.url)
    with pytest.raises(DigestMismatchError, match=other):
        client.get_manifest("r", "v1")
    with pytest.raises(DigestMismatchError):
        client.get_manifest("r", other)
    assert client.get_manifest("r", sha(body)) == (body, mt.DOCKER_MANIFEST_V2, sha(body))
    accept = stub.requests[-1][2]["Accept"]
    assert accept.startswith(mt.DOCKER_MANIFEST_LIST) and mt.OCI_INDEX in accept


def test_stub_signatures_extension(stub):
    digest = sha(b"m")
    sigs = [{"schemaVersion": 2, "type": "atomic", "name": digest + "@abc", "content": "AAA="}]
    stub.routes[f"/extensions/v2/r/signatures/{digest}"] = _json(200, {"signatures": sigs})
    client = client_for(stub.url)
    assert client.get_signatures("r", digest) == sigs
    assert client.get_signatures("r", sha(b"unsigned")) == []


def test_stub_bearer_flow(stub):
    def registry_route(handler):
        if handler.headers.get("Authorization") == "Bearer tok-1":
            return _json(200, {"name": "r", "tags": ["a"]})
        return _json(401, {"errors": [{"code": "UNAUTHORIZED"}]}, **{
            "WWW-Authenticate": f'Bearer realm="{stub.url}/auth",service="svc",'
                                f'scope="repository:r:pull"'})

    stub.routes["/v2/r/tags/list"] = registry_route
    stub.routes["/auth?service=svc&scope=repository%3Ar%3Apull"] = _json(
        200, {"access_token": "tok-1", "expires_in": 300})
    client = client_for(stub.url, "bob", "pw")
    assert client.list_tags("r") == ["a"] and client.list_tags("r") == ["a"]
    auth_calls = [r for r in stub.requests if r[1].startswith("/auth")]
    assert len(auth_calls) == 1 and auth_calls[0][2]["Authorization"].startswith("Basic ")


def test_parse_challenge():
    assert parse_challenge('Bearer realm="https://a/t",service="s",scope="repository:x:pull"') \
        == ("bearer", {"realm": "https://a/t", "service": "s", "scope": "repository:x:pull"})
    assert parse_challenge('Basic realm="fixture-realm"') == ("basic",
                                                              {"realm": "fixture-realm"})
    assert parse_challenge("") == ("", {})
