"""A database outage inside a running task (issue 22, fault 5): ridden out for
``[tasks] db_retry_window``, and past it reported as a database error, not a download one.

Real processes only: a stack on its own embedded database, stopped and restarted on the same
port and data directory while an ISO sync downloads from a throttled local feed.
"""

from __future__ import annotations

import time

from pulp2ng.embedded import EmbeddedDatabase, free_port
from tests.integration.test_heartbeats import wait_connected, wait_running
from tests.integration.test_iso import iso_repo, unique_upstream
from tests.stack import Stack

V2 = "/pulp/api/v2"
FILES, SIZE = 6, 200_000
#: One download at a time at 100 kB/s: the sync takes about 12 s, so the outage hits it.
SLOW = {"max_downloads": 1, "max_speed": 100_000}


def run_sync_through_outage(tmp_path, serve, outage: float, extra_env=None) -> tuple:
    port = free_port()
    data = tmp_path / "db"
    db = EmbeddedDatabase(data, port, log_file=tmp_path / "db.log").start()
    stack = None
    try:
        stack = Stack(tmp_path / "stack", db.url, workers=1, extra_env=extra_env)
        rows = unique_upstream(tmp_path / "upstream", count=FILES, size=SIZE)
        feed, _ = serve(tmp_path / "upstream")
        repo_id = iso_repo(stack.api, feed, **SLOW)
        task_id = stack.api.start_sync(repo_id)
        wait_running(stack.api, task_id)
        time.sleep(2)  # a few files in

        db.stop()
        time.sleep(outage)
        db = EmbeddedDatabase(data, port, log_file=tmp_path / "db2.log").start()
        wait_connected(stack)

        report = stack.api.wait_task(task_id, timeout=120)
        units = stack.api.post(f"{V2}/repositories/{repo_id}/search/units/",
                               json={"criteria": {}})
        assert units.status_code == 200, units.text
        names = {u["metadata"]["name"] for u in units.json()}
        return report, names, rows
    finally:
        if stack:
            stack.stop()
        db.stop()


def test_sync_rides_out_a_database_outage(tmp_path, serve):
    report, names, rows = run_sync_through_outage(tmp_path, serve, outage=10)
    assert report["state"] == "finished", report
    assert names == set(rows)


def test_database_error_past_the_window_is_reported_as_one(tmp_path, serve):
    """With a 2 s window an 8 s outage fails the sync: as PLP0080 naming the database,
    not as files that failed to download."""
    report, _, _ = run_sync_through_outage(
        tmp_path, serve, outage=8, extra_env={"PULP2NG_TASKS_DB_RETRY_WINDOW": "2"})
    assert report["state"] == "error", report
    error = report["error"]
    assert error["code"] == "PLP0080", error
    assert error["data"]["service"] == "database", error
    assert error["description"].startswith("Database error"), error
    assert "file(s) failed" not in error["description"], error
