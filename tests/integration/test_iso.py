"""The file (ISO) workflow of seed 004 + §4: sync a PULP_MANIFEST, auto-publish, download."""

import hashlib
import subprocess
import sys
import uuid

import pytest
import requests

from tests.conftest import FIXTURES

API = "/pulp/api/v2"


def make_upstream(path, *args):
    subprocess.run([sys.executable, str(FIXTURES / "make_file_repo.py"), str(path), *args],
                   check=True, capture_output=True)
    rows = [line.split(",") for line in (path / "PULP_MANIFEST").read_text().splitlines()]
    return {name: (sha, int(size)) for name, sha, size in rows}


def unique_upstream(path, count=3, size=4096):
    """Files with random content, so no other test already stored them (units are global)."""
    import os

    path.mkdir(parents=True, exist_ok=True)
    rows = {}
    for i in range(1, count + 1):
        data = os.urandom(size)
        (path / f"file-{i}.iso").write_bytes(data)
        rows[f"file-{i}.iso"] = (hashlib.sha256(data).hexdigest(), size)
    (path / "PULP_MANIFEST").write_text(
        "".join(f"{n},{sha},{sz}\n" for n, (sha, sz) in rows.items()))
    return rows


def iso_repo(api, feed, **config):
    repo_id = f"iso-{uuid.uuid4().hex[:8]}"
    response = api.post(f"{API}/repositories/", json={
        "id": repo_id, "importer_type_id": "iso_importer",
        "importer_config": {"feed": feed, **config},
        "distributors": [{"distributor_type_id": "iso_distributor",
                          "distributor_id": "iso_distributor", "auto_publish": True}]})
    assert response.status_code == 201, response.text
    return repo_id


def sync(api, repo_id, **override):
    return api.sync(repo_id, **override)


def published(api, repo_id):
    base = f"{api.base}/pulp/isos/{repo_id}/"
    manifest = requests.get(base + "PULP_MANIFEST")
    assert manifest.status_code == 200
    rows = [line.split(",") for line in manifest.text.splitlines()]
    return base, {name: (sha, int(size)) for name, sha, size in rows}


def test_sync_auto_publish_and_download_every_byte(api, serve, tmp_path):
    expected = make_upstream(tmp_path / "up", "--count", "6", "--subdir")
    feed, _ = serve(tmp_path / "up")
    repo_id = iso_repo(api, feed)
    sync_report, publish_report = sync(api, repo_id)
    assert sync_report["state"] == "finished", sync_report
    assert sync_report["result"]["added_count"] == 6
    progress = sync_report["progress_report"]["iso_importer"]
    assert progress["state"] == "complete"
    assert progress["num_isos_finished"] == progress["num_isos"] <= 6  # stored ones are reused
    assert publish_report["state"] == "finished"
    assert publish_report["result"]["result"] == "success"
    assert set(publish_report["tags"]) == {f"pulp:repository:{repo_id}", "pulp:action:publish"}
    base, listed = published(api, repo_id)
    assert listed == expected
    for name, (sha, size) in expected.items():
        body = subprocess.run(["curl", "-fsS", base + name], check=True,
                              capture_output=True).stdout
        assert len(body) == size and hashlib.sha256(body).hexdigest() == sha
    counts = api.get(f"{API}/repositories/{repo_id}/").json()["content_unit_counts"]
    assert counts == {"iso": 6}
    history = api.get(f"{API}/repositories/{repo_id}/history/sync/").json()
    assert history[-1]["summary"]["state"] == "complete" and history[-1]["details"] is None


def test_new_relative_url_moves_the_published_tree(api, serve, tmp_path):
    """The old URL stays online until the next publish, which takes it down; removing the
    distributor takes down where it is published, not merely where it is configured."""
    unique_upstream(tmp_path / "up", count=2)
    feed, _ = serve(tmp_path / "up")
    repo_id = iso_repo(api, feed)
    sync(api, repo_id)
    dist = f"{API}/repositories/{repo_id}/distributors/iso_distributor/"
    old, new, later = (f"{api.base}/pulp/isos/{p}/PULP_MANIFEST"
                       for p in (repo_id, f"moved/{repo_id}", f"later/{repo_id}"))

    def move_to(relative_url):
        report = api.wait_report(api.put(dist, json={
            "distributor_config": {"relative_url": relative_url}}))
        assert report[0]["state"] == "finished", report

    move_to(f"moved/{repo_id}")
    assert requests.get(old).status_code == 200       # nothing published at the new place yet
    publish = api.wait_report(api.post(f"{API}/repositories/{repo_id}/actions/publish/",
                                       json={"id": "iso_distributor"}))
    assert publish[0]["result"]["result"] == "success", publish
    assert requests.get(old).status_code == 404
    assert requests.get(new).text.count(",") == 4     # two rows of name,sha256,size

    move_to(f"later/{repo_id}")                       # configured, never published there
    api.wait_report(api.delete(dist))
    assert requests.get(new).status_code == 404
    assert requests.get(later).status_code == 404


@pytest.mark.parametrize("fault", ["wrong checksum", "404"])
def test_bad_upstream_stores_and_publishes_nothing(api, serve, tmp_path, fault):
    up = tmp_path / "up"
    rows = unique_upstream(up, 4)
    if fault == "wrong checksum":  # same size, other bytes: only the sha256 can tell
        (up / "file-1.iso").write_bytes(b"x" * rows["file-1.iso"][1])
    else:
        (up / "file-2.iso").unlink()
    feed, _ = serve(up)
    repo_id = iso_repo(api, feed)
    [report] = sync(api, repo_id)
    assert report["state"] == "error", fault
    assert "file-" in report["error"]["description"]
    if fault == "wrong checksum":
        assert "Checksum mismatch" in report["error"]["description"]
        tampered = api.post(f"{API}/content/units/iso/search/", json={
            "criteria": {"filters": {"checksum": rows["file-1.iso"][0]}}}).json()
        assert tampered == []   # no unit claims the content that failed verification
    assert api.get(f"{API}/repositories/{repo_id}/").json()["content_unit_counts"] == {}
    assert requests.get(f"{api.base}/pulp/isos/{repo_id}/PULP_MANIFEST").status_code == 404


@pytest.mark.parametrize("bad", ["/abs/path", "../up", "a/../../b"])
def test_relative_url_must_be_relative(api, bad):
    response = api.post(f"{API}/repositories/", json={
        "id": f"iso-{uuid.uuid4().hex[:8]}",
        "distributors": [{"distributor_type_id": "iso_distributor", "distributor_id": "d",
                          "distributor_config": {"relative_url": bad}}]})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"].startswith("PLP")
    assert "relative_url" in response.json()["error_message"]


def test_relative_url_may_not_clash_with_another_repository(api):
    first = iso_repo(api, "http://127.0.0.1:9/")          # publishes under its id
    second = f"iso-{uuid.uuid4().hex[:8]}"
    response = api.post(f"{API}/repositories/", json={
        "id": second, "distributors": [{
            "distributor_type_id": "iso_distributor", "distributor_id": "d",
            "distributor_config": {"relative_url": first}}]})
    assert response.status_code == 400, response.text
    assert first in response.json()["error_message"]
    assert api.get(f"{API}/repositories/{second}/").status_code == 404   # nothing created
