"""Heartbeats across hosts (issue 22, fault 4): one clock, and judges that count only what
they saw.

Real processes only. A host whose clock is off is a worker started with the
``PULP2NG_TEST_CLOCK_SKEW`` hook (its every ``now()`` is shifted); a judge's own outage is
the stack's private embedded database stopped and restarted on the same port and data.
"""

from __future__ import annotations

import time
import uuid

import requests

from pulp2ng.embedded import EmbeddedDatabase, free_port
from tests.stack import Stack

V2 = "/pulp/api/v2"


def harness_repo(api, **config) -> str:
    repo_id = f"hb-{uuid.uuid4().hex[:8]}"
    response = api.post(f"{V2}/repositories/", json={
        "id": repo_id, "importer_type_id": "harness_importer", "importer_config": config})
    assert response.status_code == 201, response.text
    return repo_id


def known_workers(stack) -> set[str]:
    body = requests.get(f"{stack.api.base}{V2}/status/", timeout=10).json()
    return {w["name"] for w in body["known_workers"] if w.get("role") == "worker"}


def wait_connected(stack, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            body = requests.get(f"{stack.api.base}{V2}/status/", timeout=10).json()
            if body["database_connection"]["connected"]:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, "the API never saw the database again"
        time.sleep(0.1)


def wait_running(api, task_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while (report := api.task(task_id))["state"] != "running":
        assert report["state"] == "waiting", report
        assert time.monotonic() < deadline, f"task {task_id} never started"
        time.sleep(0.05)
    return report


def test_workers_on_skewed_clocks_stay_alive(make_stack):
    """A worker two minutes behind and one two minutes ahead both beat, judge each other
    and the scheduler, and run tasks longer than ``worker_timeout`` to the end."""
    stack = make_stack(workers=0, scheduler=True, worker_timeout=3)
    base_env = stack.env
    names = []
    for skew in (-120, 120):
        name = f"w{'behind' if skew < 0 else 'ahead'}@{stack.name}"
        stack.env = {**base_env, "PULP2NG_TEST_CLOCK_SKEW": str(skew)}
        stack.start_worker(name)
        names.append(name)
    stack.env = base_env
    stack.wait_ready(2)
    api = stack.api

    # Two sleeping syncs, each longer than worker_timeout: one lands on each worker.
    repos = [harness_repo(api, sleep=5, num_units=3) for _ in range(2)]
    tasks = [api.start_sync(r) for r in repos]
    seen = set()
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        assert known_workers(stack) == set(names)  # nobody was declared dead meanwhile
        reports = [api.task(t) for t in tasks]
        seen |= {r["worker_name"] for r in reports if r.get("worker_name")}
        if all(r["state"] in ("finished", "error", "canceled") for r in reports):
            break
        time.sleep(0.3)
    for report in reports:
        assert report["state"] == "finished", report
    assert seen == set(names)  # both skewed workers ran one
    for key in ("scheduler", *names):
        assert "task(s) of worker" not in stack.log_tail(key, 200_000)  # nothing reaped


def test_a_judge_back_from_its_own_outage_gives_workers_a_fresh_timeout(tmp_path):
    """The database is away longer than ``worker_timeout``: when it is back, neither the
    scheduler nor the worker declares anyone dead, and the running sync finishes."""
    port = free_port()
    data = tmp_path / "db"
    db = EmbeddedDatabase(data, port, log_file=tmp_path / "db.log").start()
    stack = None
    try:
        stack = Stack(tmp_path / "stack", db.url, workers=1, scheduler=True, worker_timeout=4)
        api = stack.api
        repo = harness_repo(api, sleep=14, num_units=25)
        task_id = api.start_sync(repo)
        wait_running(api, task_id)
        time.sleep(1)

        db.stop()  # a graceful stop: nothing acknowledged is lost, every client cut off
        time.sleep(7)  # longer than worker_timeout
        db = EmbeddedDatabase(data, port, log_file=tmp_path / "db2.log").start()
        wait_connected(stack)

        report = api.wait_task(task_id, timeout=90)
        assert report["state"] == "finished", report
        units = api.post(f"{V2}/repositories/{repo}/search/units/", json={"criteria": {}})
        assert units.status_code == 200, units.text
        assert len(units.json()) == 25
        assert known_workers(stack) == {f"w1@{stack.name}"}
        for key in ("scheduler", f"w1@{stack.name}"):
            assert "task(s) of worker" not in stack.log_tail(key, 200_000)  # nothing reaped
    finally:
        if stack:
            stack.stop()
        db.stop()
