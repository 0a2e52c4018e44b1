"""Sync/publish engine with the file plugin: mirror and additive syncs, skips, history,
cancel, schedules, hostile upstreams, crash recovery and how published files are served."""

import hashlib
import http.server
import os
import signal
import socketserver
import threading
import time

import pytest
import requests

from tests.integration.test_iso import iso_repo, make_upstream, published, sync, unique_upstream

API = "/pulp/api/v2"


def fetched_files(log):
    """Paths the upstream served (from serve_static.py's access log)."""
    return [line.split()[1] for line in log.read_text().splitlines() if line.startswith("GET")]


def test_mirror_and_additive_syncs(api, serve, tmp_path):
    up = tmp_path / "up"
    make_upstream(up, "--count", "4")
    feed, _ = serve(up)
    additive = iso_repo(api, feed)
    mirror = iso_repo(api, feed, remove_missing=True)
    for repo in (additive, mirror):
        assert sync(api, repo)[0]["result"]["added_count"] == 4
    # Upstream drops file-1 and changes file-2's content under the same name.
    lines = (up / "PULP_MANIFEST").read_text().splitlines()
    (up / "file-2.iso").write_bytes(b"new content")
    new_row = f"file-2.iso,{hashlib.sha256(b'new content').hexdigest()},11"
    (up / "PULP_MANIFEST").write_text(
        "\n".join([new_row] + [ln for ln in lines if not ln.startswith(("file-1", "file-2"))])
        + "\n")
    [add] = sync(api, additive)[:1]
    assert (add["result"]["added_count"], add["result"]["removed_count"]) == (1, 1)
    _, listed = published(api, additive)
    assert "file-1.iso" in listed and listed["file-2.iso"][1] == 11  # one unit per name
    [mir] = sync(api, mirror)[:1]
    assert (mir["result"]["added_count"], mir["result"]["removed_count"]) == (1, 2)
    _, listed = published(api, mirror)
    assert sorted(listed) == ["file-2.iso", "file-3.iso", "file-4.iso"]


def test_noop_resync_downloads_nothing_and_publish_skips(api, serve, tmp_path):
    make_upstream(tmp_path / "up", "--count", "5")
    feed, log = serve(tmp_path / "up")
    repo = iso_repo(api, feed)
    sync(api, repo)
    before = len(fetched_files(log))
    again, publish = sync(api, repo)
    assert again["result"]["added_count"] == 0
    assert fetched_files(log)[before:] == ["/PULP_MANIFEST"]
    assert publish["result"]["result"] == "skipped"
    forced = api.wait_report(api.post(f"{API}/repositories/{repo}/actions/publish/", json={
        "id": "iso_distributor", "override_config": {"force_full": True}}))[0]
    assert forced["result"]["result"] == "success"
    history = api.get(f"{API}/repositories/{repo}/history/publish/iso_distributor/").json()
    assert [h["result"] for h in history] == ["success", "skipped", "success"]


def test_sync_history_filters(api, serve, tmp_path):
    make_upstream(tmp_path / "up", "--count", "1")
    feed, _ = serve(tmp_path / "up")
    repo = iso_repo(api, feed)
    for _ in range(3):
        sync(api, repo)
        time.sleep(1.1)  # distinct start seconds for the date filters
    base = f"{API}/repositories/{repo}/history/sync/"
    history = api.get(base).json()
    assert len(history) == 3 and history[0]["started"] >= history[-1]["started"]
    assert [h["added_count"] for h in api.get(base, params={"sort": "ascending"}).json()] == [1, 0, 0]
    assert len(api.get(base, params={"limit": 2}).json()) == 2
    middle = sorted(h["started"] for h in history)[1]
    assert len(api.get(base, params={"start_date": middle}).json()) == 2
    assert len(api.get(base, params={"end_date": middle}).json()) == 2
    for bad in ({"limit": "0"}, {"limit": "x"}, {"sort": "up"}, {"start_date": "yesterday"}):
        response = api.get(base, params=bad)
        assert response.status_code == 400 and response.json()["error"]["code"].startswith("PLP")
    assert api.get(f"{API}/repositories/{repo}/history/publish/nope/").status_code == 404


def test_cancel_during_sync(api, serve, tmp_path):
    unique_upstream(tmp_path / "up", 4, size=512 * 1024)
    feed, _ = serve(tmp_path / "up")
    repo = iso_repo(api, feed, max_speed=100_000, max_downloads=1)
    task_id = api.post(f"{API}/repositories/{repo}/actions/sync/", json={}).json()[
        "spawned_tasks"][0]["task_id"]
    deadline = time.monotonic() + 20
    while api.task(task_id)["progress_report"].get("iso_importer", {}).get(
            "state") != "isos_in_progress":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    api.delete(f"{API}/tasks/{task_id}/")
    report = api.wait_task(task_id, timeout=15)
    assert report["state"] == "canceled" and report["spawned_tasks"] == []
    assert api.get(f"{API}/repositories/{repo}/").json()["content_unit_counts"] == {}
    # The worker records the canceled sync once the plugin has stopped.
    deadline = time.monotonic() + 10
    while not (history := api.get(f"{API}/repositories/{repo}/history/sync/").json()):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert history[0]["result"] == "canceled"
    assert api.task(task_id)["progress_report"]["iso_importer"]["state"] == "cancelled"


def test_schedule_lifecycle(api, serve, tmp_path):
    make_upstream(tmp_path / "up", "--count", "1")
    feed, _ = serve(tmp_path / "up")
    repo = iso_repo(api, feed)
    base = f"{API}/repositories/{repo}/importers/iso_importer/schedules/sync/"
    response = api.post(base, json={"schedule": "R2/PT1S"})
    assert response.status_code == 201
    schedule = response.json()
    assert response.headers["Location"] == schedule["_href"]
    assert schedule["remaining_runs"] == 2 and schedule["enabled"] is True
    deadline = time.monotonic() + 20
    while api.get(schedule["_href"]).json()["total_run_count"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(2.5)
    done = api.get(schedule["_href"]).json()
    assert done["total_run_count"] == 2 and done["remaining_runs"] == 0
    assert done["enabled"] is False and done["last_run_at"]
    syncs = api.get(f"{API}/tasks/", params={"tag": [f"pulp:repository:{repo}",
                                                     "pulp:action:sync"]}).json()
    assert len(syncs) == 2

    # A repeating schedule whose syncs fail disables itself at failure_threshold.
    api.wait_report(api.put(f"{API}/repositories/{repo}/importers/iso_importer/",
                            json={"importer_config": {"feed": feed + "missing/"}}))
    failing = api.post(base, json={"schedule": "PT1S", "failure_threshold": 2}).json()
    deadline = time.monotonic() + 30
    while api.get(failing["_href"]).json()["enabled"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    state = api.get(failing["_href"]).json()
    assert state["consecutive_failures"] >= 2
    assert {s["_id"] for s in api.get(base).json()} == {schedule["_id"], failing["_id"]}

    # Validation, update, delete, and deleting the importer drops its schedules.
    assert api.post(base, json={"schedule": "every day"}).status_code == 400
    assert api.post(base, json={"schedule": "PT1H", "bogus": 1}).json()["error"]["code"] == "PLP1005"
    updated = api.put(failing["_href"], json={"schedule": "PT2H", "enabled": True}).json()
    assert updated["schedule"] == "PT2H" and updated["enabled"] is True
    assert api.delete(schedule["_href"]).json() is None
    assert api.get(schedule["_href"]).status_code == 404
    api.wait_report(api.delete(f"{API}/repositories/{repo}/importers/iso_importer/"))
    assert api.get(failing["_href"]).status_code == 404


def test_publish_schedule_fires(api, serve, tmp_path):
    make_upstream(tmp_path / "up", "--count", "1")
    feed, _ = serve(tmp_path / "up")
    repo = iso_repo(api, feed)
    sync(api, repo)
    base = f"{API}/repositories/{repo}/distributors/iso_distributor/schedules/publish/"
    schedule = api.post(base, json={"schedule": "R1/PT1S",
                                    "override_config": {"force_full": True}}).json()
    deadline = time.monotonic() + 20
    while api.get(schedule["_href"]).json()["total_run_count"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(1)
    history = api.get(f"{API}/repositories/{repo}/history/publish/iso_distributor/").json()
    assert [h["result"] for h in history][:1] == ["success"] and len(history) == 2


# -- hostile upstreams ---------------------------------------------------------------------


def write_manifest(up, rows):
    up.mkdir(parents=True, exist_ok=True)
    (up / "PULP_MANIFEST").write_text("".join(r + "\n" for r in rows))


def assert_rejected(api, repo, needle):
    [report] = sync(api, repo)
    assert report["state"] == "error"
    assert needle in report["error"]["description"], report["error"]
    assert api.get(f"{API}/repositories/{repo}/").json()["content_unit_counts"] == {}
    assert requests.get(f"{api.base}/pulp/isos/{repo}/PULP_MANIFEST").status_code == 404
    return report


@pytest.mark.parametrize("row, needle", [
    ("../etc/passwd,{sha},{size}", "Unsafe file name"),
    ("/etc/passwd,{sha},{size}", "Unsafe file name"),
    ("a/../../b,{sha},{size}", "Unsafe file name"),
    ("PULP_MANIFEST,{sha},{size}", "may not be named"),
    ("just-a-name", "Malformed manifest line 2"),
    ("x.iso,nothex,{size}", "is not a sha256"),
    ("x.iso,{sha},-5", "is not a number"),
])
def test_hostile_manifest_rows(api, serve, tmp_path, row, needle):
    up = tmp_path / "up"
    up.mkdir()
    (up / "good.iso").write_bytes(b"good")
    sha = hashlib.sha256(b"good").hexdigest()
    write_manifest(up, [f"good.iso,{sha},4", row.format(sha=sha, size=4)])
    feed, _ = serve(up)
    assert_rejected(api, iso_repo(api, feed), needle)


def test_wrong_size_and_http_errors(api, serve, tmp_path):
    up = tmp_path / "up"
    unique_upstream(up, 3)
    rows = (up / "PULP_MANIFEST").read_text().splitlines()
    name, sha, size = rows[0].split(",")
    (up / "PULP_MANIFEST").write_text("\n".join([f"{name},{sha},{int(size) + 1}"] + rows[1:]))
    feed, _ = serve(up)
    assert_rejected(api, iso_repo(api, feed), "Size mismatch")
    unique_upstream(tmp_path / "up2", 3)
    for code in ("404", "500"):
        feed, _ = serve(tmp_path / "up2", "--fail", rf"file-1\.iso={code}")
        assert_rejected(api, iso_repo(api, feed, retries=1), f"HTTP {code}")
    feed, _ = serve(tmp_path / "up2", "--fail", "PULP_MANIFEST=500")
    assert_rejected(api, iso_repo(api, feed, retries=0), "Could not read the manifest")


def test_transient_server_errors_are_retried(api, serve, tmp_path):
    rows = unique_upstream(tmp_path / "up", 3)
    feed, log = serve(tmp_path / "up", "--fail", r"file-1\.iso=500", "--fail-first", "2")
    repo = iso_repo(api, feed, retries=2)
    assert {r["state"] for r in api.sync(repo)} == {"finished"}
    fetched = requests.get(f"{api.base}/pulp/isos/{repo}/file-1.iso").content
    assert hashlib.sha256(fetched).hexdigest() == rows["file-1.iso"][0]
    assert log.read_text().count("GET /file-1.iso 500") == 2


class _Truncating(http.server.BaseHTTPRequestHandler):
    """Announces the full length of a file but sends only half of it (the first
    ``truncate_first`` times; -1: always)."""

    body = b""
    manifest = b""
    truncate_first = -1

    def do_GET(self):  # noqa: N802 (http.server naming)
        data = self.manifest if self.path.endswith("PULP_MANIFEST") else self.body
        cut = data
        if not self.path.endswith("PULP_MANIFEST") and type(self).truncate_first != 0:
            type(self).truncate_first -= 1
            cut = data[: len(data) // 2]
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(cut)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


def test_truncated_body_is_rejected(api):
    body = os.urandom(200_000)
    handler = type("H", (_Truncating,), {
        "body": body,
        "manifest": f"big.iso,{hashlib.sha256(body).hexdigest()},{len(body)}\n".encode()})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        feed = f"http://127.0.0.1:{server.server_address[1]}/"
        report = assert_rejected(api, iso_repo(api, feed, retries=0), "big.iso")
        assert report["error"]["data"]["iso_error_messages"][0]["name"] == "big.iso"
    finally:
        server.shutdown()


def test_body_cut_once_is_downloaded_again(api):
    body = os.urandom(200_000)
    handler = type("H", (_Truncating,), {
        "body": body, "truncate_first": 1,
        "manifest": f"big.iso,{hashlib.sha256(body).hexdigest()},{len(body)}\n".encode()})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        repo = iso_repo(api, f"http://127.0.0.1:{server.server_address[1]}/", retries=1)
        assert {r["state"] for r in api.sync(repo)} == {"finished"}
        assert requests.get(f"{api.base}/pulp/isos/{repo}/big.iso").content == body
        assert handler.truncate_first == 0   # the first answer really was cut
    finally:
        server.shutdown()


def test_huge_manifest_streams_and_is_rejected_whole(api, serve, tmp_path, stack):
    up = tmp_path / "up"
    up.mkdir()
    sha = "0" * 64
    with open(up / "PULP_MANIFEST", "w") as out:
        for i in range(99_999):
            out.write(f"dir-{i % 100}/file-{i}.iso,{sha},{i}\n")
        out.write("broken line without commas\n")
    feed, _ = serve(up)
    report = assert_rejected(api, iso_repo(api, feed), "Malformed manifest line 100000")
    for key, proc in stack.processes.items():
        if key.startswith("w"):
            status = open(f"/proc/{proc.pid}/status").read()
            peak_kb = int(next(ln for ln in status.splitlines()
                               if ln.startswith("VmHWM")).split()[1])
            assert peak_kb < 400_000, f"{key} peaked at {peak_kb} kB"
    assert report["state"] == "error"


def test_file_feed_and_basic_auth_feed(api, serve, tmp_path):
    expected = make_upstream(tmp_path / "up", "--count", "2")
    repo = iso_repo(api, (tmp_path / "up").as_uri())
    assert sync(api, repo)[0]["result"]["added_count"] == 2
    feed, _ = serve(tmp_path / "up", "--basic-auth", "bob:hunter2")
    denied = iso_repo(api, feed, retries=0)
    assert_rejected(api, denied, "401")
    repo = iso_repo(api, feed.replace("http://", "http://bob:hunter2@"))
    importer = api.get(f"{API}/repositories/{repo}/importers/iso_importer/")
    assert "hunter2" not in importer.text
    assert importer.json()["config"]["basic_auth_password"] == "*****"
    assert sync(api, repo)[0]["state"] == "finished"
    assert published(api, repo)[1] == expected


def test_content_serving_headers_range_and_traversal(api, serve, tmp_path):
    make_upstream(tmp_path / "up", "--count", "1", "--size-kb", "8")
    feed, _ = serve(tmp_path / "up")
    repo = iso_repo(api, feed)
    sync(api, repo)
    url = f"{api.base}/pulp/isos/{repo}/file-1.iso"
    full = requests.get(url)
    assert full.status_code == 200 and len(full.content) == 8192
    assert full.headers["Content-Length"] == "8192"
    assert full.headers["ETag"] and full.headers["Last-Modified"]
    assert full.headers["Content-Type"] in ("application/x-iso9660-image",
                                            "application/octet-stream")
    part = requests.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == full.content[100:200]
    assert part.headers["Content-Range"] == "bytes 100-199/8192"
    assert requests.get(url, headers={"If-None-Match": full.headers["ETag"]}).status_code == 304
    for bad in (f"/pulp/isos/{repo}/../../../etc/passwd", f"/pulp/isos/{repo}/%2e%2e/x",
                "/pulp/isos/.versions/", f"/pulp/isos/{repo}/nope.iso"):
        assert requests.get(api.base + bad).status_code == 404


def test_killed_worker_mid_sync_leaves_no_referenced_partial_file(make_stack, serve, tmp_path):
    stack = make_stack(workers=1, worker_timeout=3, scheduler=True)
    api = stack.api
    unique_upstream(tmp_path / "up", 3, size=512 * 1024)
    feed, _ = serve(tmp_path / "up")
    repo = iso_repo(api, feed, max_speed=150_000, max_downloads=1)
    task_id = api.post(f"{API}/repositories/{repo}/actions/sync/", json={}).json()[
        "spawned_tasks"][0]["task_id"]
    deadline = time.monotonic() + 20
    while api.task(task_id)["progress_report"].get("iso_importer", {}).get(
            "num_isos_finished", 0) < 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    worker = next(k for k in stack.processes if k.startswith("w"))
    stack.kill(worker, signal.SIGKILL)
    report = api.wait_task(task_id, timeout=30)
    assert report["state"] == "error" and report["error"]["code"] == "PLP0049"
    assert api.get(f"{API}/repositories/{repo}/").json()["content_unit_counts"] == {}
    stack.start_worker(worker)
    stack.wait_ready(1)
    api.wait_report(api.put(f"{API}/repositories/{repo}/importers/iso_importer/",
                            json={"importer_config": {"max_speed": None}}))
    finished = sync(api, repo)
    assert finished[0]["state"] == "finished" and finished[0]["result"]["added_count"] == 3
    content = stack.storage / "content" / "iso"
    stored = {p.name for p in content.rglob("*") if p.is_file()}
    assert len(stored) == 3  # exactly the verified files; partial downloads never got a name
    _, listed = published(api, repo)
    assert len(listed) == 3
