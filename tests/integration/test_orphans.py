"""Orphan listing and deletion, and deletion racing a sync, against a real stack."""

import hashlib
import uuid

import requests

from tests.integration.test_content_api import assert_error, search
from tests.integration.test_iso import iso_repo, make_upstream

API = "/pulp/api/v2"
ORPHANS = f"{API}/content/orphans/"


def upstream(path, count):
    tag = uuid.uuid4().hex
    return make_upstream(path, "--count", "0", *[
        x for i in range(count) for x in ("--extra", f"o{i}-{tag[:6]}.iso=" + f"{tag}{i}" * 40)])


def synced_repo(api, serve, path, count):
    files = upstream(path, count)
    feed, _ = serve(path)
    repo_id = iso_repo(api, feed)
    reports = api.wait_all(api.post(f"{API}/repositories/{repo_id}/actions/sync/",
                                    json={}).json()["spawned_tasks"][0]["task_id"])
    assert all(r["state"] == "finished" for r in reports), reports
    return repo_id, files


def units_of(api, repo_id):
    return {a["metadata"]["name"]: a["metadata"] for a in search(api, repo_id, {}).json()}


def remove_all(api, repo_id):
    [report] = api.wait_report(api.post(f"{API}/repositories/{repo_id}/actions/unassociate/",
                                        json={"criteria": {}}))
    assert report["state"] == "finished", report


def test_orphan_listing_and_deletion(api, stack, serve, tmp_path):
    repo_id, files = synced_repo(api, serve, tmp_path / "up", 3)
    units = units_of(api, repo_id)
    paths = {n: stack.storage / u["_storage_path"] for n, u in units.items()}
    assert all(p.exists() for p in paths.values())
    listed = {u["_id"] for u in api.get(f"{ORPHANS}iso/").json()}
    assert not listed & {u["_id"] for u in units.values()}
    remove_all(api, repo_id)

    counts = api.get(ORPHANS).json()
    assert counts["iso"]["count"] >= 3 and counts["iso"]["_href"] == f"{ORPHANS}iso/"
    listed = {u["_id"]: u for u in api.get(f"{ORPHANS}iso/").json()}
    first, second, third = sorted(units.values(), key=lambda u: u["name"])
    assert first["_id"] in listed and second["_id"] in listed
    entry = listed[first["_id"]]
    assert set(entry) == {"_id", "_content_type_id", "name", "checksum", "size", "_href"}
    assert entry["_href"] == f"{ORPHANS}iso/{first['_id']}/"
    one = api.get(entry["_href"])
    assert one.status_code == 200 and one.json()["name"] == first["name"]

    [report] = api.wait_report(api.delete(entry["_href"]))
    assert report["state"] == "finished", report
    assert report["tags"] == ["pulp:content_unit:orphans"]
    assert report["result"] == {"iso": 1}
    assert not paths[first["name"]].exists() and paths[second["name"]].exists()
    assert_error(api.get(entry["_href"]), 404, "PLP0009")
    assert_error(api.get(f"{API}/content/units/iso/{first['_id']}/"), 404, "PLP0009")

    [report] = api.wait_report(api.delete(f"{ORPHANS}iso/"))
    assert report["state"] == "finished" and report["result"]["iso"] >= 2, report
    assert not any(p.exists() for p in paths.values())
    [report] = api.wait_report(api.delete(ORPHANS))
    assert report["state"] == "finished" and report["tags"] == ["pulp:content_unit:orphans"]
    assert api.get(ORPHANS).json()["iso"]["count"] == 0
    assert_error(api.delete(f"{ORPHANS}nosuchtype/"), 404, "PLP0009")
    assert_error(api.delete(f"{ORPHANS}iso/{'f' * 32}/"), 404, "PLP0009")


def test_shared_file_survives_while_another_unit_uses_it(api, stack, serve, tmp_path):
    """Two names with the same content share one stored file: deleting one orphan keeps it."""
    tag = uuid.uuid4().hex
    make_upstream(tmp_path / "up", "--count", "0", "--extra", f"a-{tag}.iso={tag}",
                  "--extra", f"b-{tag}.iso={tag}")
    feed, _ = serve(tmp_path / "up")
    repo_id = iso_repo(api, feed)
    api.wait_all(api.post(f"{API}/repositories/{repo_id}/actions/sync/",
                          json={}).json()["spawned_tasks"][0]["task_id"])
    units = units_of(api, repo_id)
    assert len({u["_storage_path"] for u in units.values()}) == 1
    path = stack.storage / units[f"a-{tag}.iso"]["_storage_path"]
    [report] = api.wait_report(api.post(f"{API}/repositories/{repo_id}/actions/unassociate/",
                                        json={"criteria": {"filters": {"unit": {
                                            "name": f"a-{tag}.iso"}}}}))
    api.wait_report(api.delete(f"{ORPHANS}iso/"))
    assert path.exists()
    assert set(units_of(api, repo_id)) == {f"b-{tag}.iso"}


def test_orphan_deletion_racing_a_sync_keeps_every_associated_file(api, stack, serve,
                                                                  tmp_path):
    repo_id, files = synced_repo(api, serve, tmp_path / "up", 40)
    conflicts = 0
    for _ in range(4):
        remove_all(api, repo_id)
        deletion = api.delete(f"{ORPHANS}iso/")
        sync = api.post(f"{API}/repositories/{repo_id}/actions/sync/", json={})
        assert deletion.status_code == 202 and sync.status_code == 202
        [deleted] = api.wait_report(deletion)
        reports = api.wait_all(sync.json()["spawned_tasks"][0]["task_id"])
        assert deleted["state"] == "finished", deleted
        if reports[0]["state"] == "error":
            # A unit the sync was linking was deleted first: the sync says so and keeps
            # nothing dangling; running it again repairs the repository.
            assert reports[0]["error"]["code"] == "PLP0010", reports[0]["error"]
            conflicts += 1
        for unit in units_of(api, repo_id).values():
            assert (stack.storage / unit["_storage_path"]).exists(), unit
        if reports[0]["state"] == "error":
            reports = api.wait_all(api.post(f"{API}/repositories/{repo_id}/actions/sync/",
                                            json={}).json()["spawned_tasks"][0]["task_id"])
        assert all(r["state"] == "finished" for r in reports), reports
        units = units_of(api, repo_id)
        assert set(units) == set(files)
        for unit in units.values():
            assert (stack.storage / unit["_storage_path"]).exists(), unit
        base = f"{api.base}/pulp/isos/{repo_id}/"
        for name, (sha, size) in files.items():
            body = requests.get(base + name, timeout=10).content
            assert hashlib.sha256(body).hexdigest() == sha and len(body) == size, name
    print(f"sync/orphan-deletion conflicts: {conflicts} of 4 rounds")
