"""Image archive upload (import_upload of an OCI layout tar or a docker-save tar), then pull
the published image with skopeo; tampered and hostile archives are refused with PLP0047.
"""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
import tarfile
import uuid

import pytest

from tests.integration.test_docker import counts, skopeo
from tests.unit.docker.conftest import FIXTURES, run
from tests.unit.docker.test_registry_client import Layout

API = "/pulp/api/v2"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_dir(src, dest):
    with tarfile.open(dest, "w") as tar:
        tar.add(src, arcname=".")
    return dest


def make_layout(out, *tags: str) -> Layout:
    """An OCI image layout built by make_oci_images.py: its default tags (v1, v2, latest,
    multi), or ``tags`` (``TAG=ARCH[,ARCH…]``; a tag nobody used gives images nobody stored)."""
    run([sys.executable, str(FIXTURES / "make_oci_images.py"), str(out), "--media-types", "oci",
         *[a for tag in tags for a in ("--tag", tag)]])
    return Layout(out)


def docker_save(layout: Layout, tag: str, archive, name: str = "fixtures/saved"):
    """``docker save``'s archive of one tag of ``layout`` (written by skopeo)."""
    skopeo("copy", f"oci:{layout.root}:{tag}", f"docker-archive:{archive}:{name}:{tag}")
    return archive


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    return make_layout(tmp_path_factory.mktemp("upload") / "layout")


def new_repo(api):
    repo_id = f"dkrup-{uuid.uuid4().hex[:8]}"
    response = api.post(f"{API}/repositories/", json={
        "id": repo_id, "importer_type_id": "docker_importer", "importer_config": {},
        "distributors": [{"distributor_type_id": "docker_distributor_web",
                          "distributor_id": "docker_web", "auto_publish": False}]})
    assert response.status_code == 201, response.text
    return repo_id


def import_archive(api, repo_id, path) -> dict:
    """Upload in two chunks and import it as a docker_manifest upload."""
    data = path.read_bytes()
    half = len(data) // 2
    upload_id = api.post(f"{API}/content/uploads/").json()["upload_id"]
    for offset, chunk in ((0, data[:half]), (half, data[half:])):
        put = api.put(f"{API}/content/uploads/{upload_id}/{offset}/", data=chunk)
        assert put.status_code == 200, put.text
    response = api.post(f"{API}/repositories/{repo_id}/actions/import_upload/", json={
        "upload_id": upload_id, "unit_type_id": "docker_manifest", "unit_key": {},
        "unit_metadata": {}})
    [report] = api.wait_report(response)
    api.delete(f"{API}/content/uploads/{upload_id}/")
    return report


def publish(api, repo_id):
    response = api.post(f"{API}/repositories/{repo_id}/actions/publish/",
                        json={"id": "docker_web"})
    assert [r["state"] for r in api.wait_report(response)] == ["finished"]


def oci_digest(out) -> str:
    index = json.loads((out / "index.json").read_text())
    return index["manifests"][0]["digest"]


def test_upload_oci_layout_then_pull(api, layout, tmp_path):
    repo_id = new_repo(api)
    report = import_archive(api, repo_id, tar_dir(layout.root, tmp_path / "oci.tar"))
    assert report["state"] == "finished", report
    assert report["result"]["summary"]["format"] == "oci-layout"
    assert counts(api, repo_id) == {"docker_tag": 4, "docker_manifest": 5,
                                    "docker_manifest_list": 1, "docker_blob": 13}
    publish(api, repo_id)
    src = f"docker://{api.base.split('://', 1)[1]}/{repo_id}"
    skopeo("copy", "--src-tls-verify=false", f"{src}:v1", f"oci:{tmp_path / 'v1'}:v1")
    assert oci_digest(tmp_path / "v1") == layout.tags["v1"]
    skopeo("copy", "--all", "--src-tls-verify=false", f"{src}:multi",
           f"oci:{tmp_path / 'multi'}:multi")
    assert oci_digest(tmp_path / "multi") == layout.tags["multi"]
    for child in layout.children(layout.tags["multi"]).values():
        for blob in layout.image_blobs(child):
            assert (tmp_path / "multi" / "blobs" / "sha256" / blob[7:]).is_file()


def test_upload_docker_save_then_pull(api, layout, tmp_path):
    archive = docker_save(layout, "v2", tmp_path / "saved.tar")
    with tarfile.open(archive) as tar:
        entry = json.loads(tar.extractfile("manifest.json").read())[0]
        files = {name: tar.extractfile(name).read() for name in entry["Layers"]}
    repo_id = new_repo(api)
    report = import_archive(api, repo_id, archive)
    assert report["state"] == "finished", report
    assert report["result"]["summary"] == {"format": "docker-save", "tags": ["v2"],
                                           "manifests": 1, "blobs": 3}
    assert counts(api, repo_id) == {"docker_tag": 1, "docker_manifest": 1, "docker_blob": 3}
    publish(api, repo_id)
    out = tmp_path / "dir"
    skopeo("copy", "--src-tls-verify=false",
           f"docker://{api.base.split('://', 1)[1]}/{repo_id}:v2", f"dir:{out}")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert [(layer["digest"], layer["mediaType"]) for layer in manifest["layers"]] == [
        (sha(data), "application/vnd.docker.image.rootfs.diff.tar" if data[:2] != b"\x1f\x8b"
         else "application/vnd.docker.image.rootfs.diff.tar.gzip")
        for data in files.values()]
    config = layout.doc(layout.tags["v2"])["config"]["digest"]
    assert manifest["config"]["digest"] == config
    assert sha((out / config[7:]).read_bytes()) == config


def tampered_oci(layout, tmp_path, tag="v1"):
    """An archive of ``layout`` with one byte of ``tag``'s last blob flipped, and that
    blob's new digest."""
    copy = tmp_path / "tampered-layout"
    shutil.copytree(layout.root, copy)
    blob = copy / "blobs" / "sha256" / layout.image_blobs(layout.tags[tag])[-1][7:]
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    return tar_dir(copy, tmp_path / "tampered.tar"), sha(bytes(data))


def _hostile(tmp_path, name, kind=tarfile.REGTYPE, linkname=""):
    path = tmp_path / f"hostile-{uuid.uuid4().hex[:6]}.tar"
    with tarfile.open(path, "w") as tar:
        for member, data in (("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
                             ("index.json", b'{"schemaVersion":2,"manifests":[]}'),
                             (name, b"evil")):
            info = tarfile.TarInfo(member)
            info.type, info.linkname = (kind, linkname) if member == name else (
                tarfile.REGTYPE, "")
            info.size = len(data) if info.type == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return path


def test_tampered_and_hostile_archives_rejected(api, stack, layout, tmp_path):
    repo_id = new_repo(api)
    tampered, bad_digest = tampered_oci(layout, tmp_path)
    cases = [(tampered, "does not match its digest")]
    saved = docker_save(layout, "v1", tmp_path / "saved.tar", "x/y")
    with tarfile.open(saved) as src, tarfile.open(tmp_path / "bad-save.tar", "w") as dst:
        layer = json.loads(src.extractfile("manifest.json").read())[0]["Layers"][-1]
        for info in src.getmembers():
            data = src.extractfile(info).read() if info.isfile() else None
            if info.name == layer:
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.addfile(info, io.BytesIO(data) if data is not None else None)
    cases.append((tmp_path / "bad-save.tar", "does not match its digest"))
    cases += [(_hostile(tmp_path, "../evil"), "leaves the archive"),
              (_hostile(tmp_path, "/etc/evil"), "absolute"),
              (_hostile(tmp_path, "blobs/sha256/x", tarfile.SYMTYPE, "/etc/passwd"),
               "absolute"),
              (_hostile(tmp_path, "a", tarfile.SYMTYPE, "../../outside"), "leaves the archive"),
              (_hostile(tmp_path, "dev", tarfile.CHRTYPE), "device")]
    for path, expect in cases:
        report = import_archive(api, repo_id, path)
        assert report["state"] == "error", (path, report)
        assert report["error"]["code"] == "PLP0047", report["error"]
        assert expect in report["error"]["description"], (path, report["error"])
    assert counts(api, repo_id) == {}
    hexd = bad_digest[7:]
    assert not (stack.storage / "content" / "docker_blob" / hexd[:2] / hexd[2:]).exists()
    assert not list((stack.storage / "tmp").glob("docker-upload-*"))
