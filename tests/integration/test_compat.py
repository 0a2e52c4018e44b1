"""Pulp 2 compatibility (issue 16): feeds checked at sync, coded plugin failures, the ISO
failure shapes of pulp_rpm 2.x."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.test_iso import iso_repo, unique_upstream

API = "/pulp/api/v2"


def create(api, importer_type_id, config):
    repo_id = f"compat-{uuid.uuid4().hex[:8]}"
    response = api.post(f"{API}/repositories/", json={
        "id": repo_id, "importer_type_id": importer_type_id, "importer_config": config})
    return repo_id, response


@pytest.mark.parametrize("importer, config, code, words", [
    ("ostree_web_importer", {"feed": "not a url"}, "OST0004", "not an http, https or file URL"),
    ("ostree_web_importer", {"feed": "ftp://example.com/repo"}, "OST0004", "ftp://"),
    ("docker_importer", {"feed": "http://127.0.0.1:9/"}, "DKR1101", "upstream_name missing"),
    ("docker_importer", {"feed": "registry.example.com", "upstream_name": "busybox"},
     "DKR1101", "not an http or https registry URL"),
    ("iso_importer", {"feed": "somewhere/else"}, "RPM1101", "not an http, https or file URL"),
])
def test_unusable_feed_is_accepted_and_fails_the_sync(api, importer, config, code, words):
    """Pulp 2 accepted any feed string; the sync ends ``error`` with a clear message."""
    repo_id, response = create(api, importer, config)
    assert response.status_code == 201, response.text
    try:
        [report] = api.sync(repo_id)
        assert report["state"] == "error", report
        assert report["error"]["code"] == code, report["error"]
        assert words in report["error"]["description"], report["error"]
        repo = api.get(f"{API}/repositories/{repo_id}/").json()
        assert repo["content_unit_counts"] == {}
        [entry] = api.get(f"{API}/repositories/{repo_id}/history/sync/").json()
        assert entry["result"] == "error"
    finally:
        api.delete(f"{API}/repositories/{repo_id}/")


@pytest.mark.parametrize("importer", ["ostree_web_importer", "docker_importer", "iso_importer"])
def test_feed_must_still_be_a_string(api, importer):
    _, response = create(api, importer, {"feed": 42, "upstream_name": "x"})
    assert response.status_code == 400, response.text
    assert "feed" in response.json()["error_message"]


def test_iso_failures_have_pulp2_shapes_and_codes(api, serve, tmp_path):
    up = tmp_path / "up"
    rows = unique_upstream(up, 4)
    (up / "file-1.iso").write_bytes(b"x" * rows["file-1.iso"][1])        # checksum mismatch
    (up / "file-2.iso").write_bytes(b"y" * (rows["file-2.iso"][1] - 1))  # size mismatch
    (up / "file-3.iso").unlink()                                          # 404
    feed, _ = serve(up)
    repo_id = iso_repo(api, feed)
    [report] = api.sync(repo_id)
    assert report["state"] == "error", report
    error = report["error"]
    assert error["code"] == "RPM1103", error
    assert "3 of 4 file(s) failed" in error["description"]
    progress = report["progress_report"]["iso_importer"]
    assert progress["state"] == "isos_failed"
    by_name = {e["name"]: e["error"] for e in progress["iso_error_messages"]}
    assert by_name == {e["name"]: e["error"] for e in error["data"]["iso_error_messages"]}
    assert set(by_name) == {"file-1.iso", "file-2.iso", "file-3.iso"}
    for failure in by_name.values():
        assert {"response_code", "response_msg"} <= set(failure)
    assert by_name["file-3.iso"]["response_code"] == 404
    assert by_name["file-3.iso"]["response_msg"] == "Not Found"
    assert by_name["file-1.iso"]["response_code"] is None
    assert "Checksum mismatch" in by_name["file-1.iso"]["response_msg"]
    assert by_name["file-1.iso"]["expected"] == rows["file-1.iso"][0]
    assert "Size mismatch" in by_name["file-2.iso"]["response_msg"]
    assert by_name["file-2.iso"]["expected"] == rows["file-2.iso"][1]
    assert api.get(f"{API}/repositories/{repo_id}/").json()["content_unit_counts"] == {}


def test_iso_manifest_failure_is_coded(api, serve, tmp_path):
    (tmp_path / "empty").mkdir()
    feed, _ = serve(tmp_path / "empty")
    repo_id = iso_repo(api, feed)
    [report] = api.sync(repo_id)
    assert report["state"] == "error"
    assert report["error"]["code"] == "RPM1102", report["error"]
    assert report["error"]["data"]["response_code"] == 404
    assert report["progress_report"]["iso_importer"]["state"] == "manifest_failed"


def test_killed_sync_gets_history_and_its_partial_downloads_are_removed(make_stack, serve,
                                                                        tmp_path):
    """A sync whose worker dies still gets an ``error`` history entry (Pulp 2's
    repo_sync_results), and its partial downloads go when the task is failed, not an hour
    later with the scratch sweep."""
    import os
    import signal
    import time

    stack = make_stack(workers=1, worker_timeout=3, scheduler=True)
    api = stack.api
    up = tmp_path / "up"
    up.mkdir()
    data = os.urandom(4 << 20)
    (up / "big.iso").write_bytes(data)
    import hashlib
    (up / "PULP_MANIFEST").write_text(f"big.iso,{hashlib.sha256(data).hexdigest()},{len(data)}\n")
    feed, _ = serve(up)
    repo_id = iso_repo(api, feed, max_speed=200_000, max_downloads=1)   # ~20 s download
    task_id = api.start_sync(repo_id)
    scratch = stack.storage / "tmp" / f"task-{task_id}"
    deadline = time.monotonic() + 30
    while not (scratch.is_dir() and any(p.stat().st_size for p in scratch.iterdir())):
        assert time.monotonic() < deadline, "the download never started"
        time.sleep(0.1)
    report = api.task(task_id)
    assert report["state"] == "running"
    victim = next(k for k in stack.processes if k.startswith(report["worker_name"]))
    stack.kill(victim, signal.SIGKILL)

    failed = api.wait_task(task_id, timeout=30)
    assert failed["state"] == "error" and failed["error"]["code"] == "PLP0049", failed
    assert not scratch.exists()
    [entry] = api.get(f"{API}/repositories/{repo_id}/history/sync/").json()
    assert entry["result"] == "error"
    assert entry["importer_type_id"] == "iso_importer"
    assert "terminated abnormally" in entry["error_message"]
    assert entry["added_count"] is None
    assert entry["started"] and entry["completed"]
    assert api.get(f"{API}/repositories/{repo_id}/").json()["content_unit_counts"] == {}
