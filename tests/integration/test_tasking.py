"""Reservations, parallelism, crash recovery and cancel, on the embedded broker, RabbitMQ and
Redis."""

import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import require_rabbitmq, require_redis

API = "/pulp/api/v2"


@pytest.fixture(params=["mongodb", "rabbitmq", "redis"])
def broker(request):
    return {"mongodb": lambda: "", "rabbitmq": require_rabbitmq,
            "redis": require_redis}[request.param]()


@pytest.fixture
def tstack(make_stack, broker):
    return make_stack(workers=2, broker_url=broker, worker_timeout=3, scheduler=True)


def make_repo(api, repo_id, **config):
    response = api.post(f"{API}/repositories/", json={
        "id": repo_id, "importer_type_id": "harness_importer", "importer_config": config})
    assert response.status_code == 201, response.text


def sync(api, repo_id, **override):
    return api.start_sync(repo_id, **override)


def wait_running(api, task_id, timeout=20) -> dict:
    deadline = time.monotonic() + timeout
    while (report := api.task(task_id))["state"] != "running":
        assert time.monotonic() < deadline, report
        time.sleep(0.02)
    return report


def test_same_repository_runs_in_submission_order(tstack):
    api = tstack.api
    make_repo(api, "fifo")
    ids = [sync(api, "fifo", sleep=0.15, num_units=i, prefix=f"p{i}") for i in range(5)]
    reports = [api.wait_task(t) for t in ids]
    assert all(r["state"] == "finished" for r in reports)
    # Submission order, never two at a time: each began after the previous ended.
    marks = [(r["result"]["summary"]["began"], r["result"]["summary"]["ended"]) for r in reports]
    for (_, ended), (began, _) in zip(marks, marks[1:]):
        assert ended <= began
    history = api.get(f"{API}/repositories/fifo/history/sync/?sort=ascending").json()
    assert [h["added_count"] for h in history] == [0, 1, 2, 3, 4]


def test_different_repositories_run_in_parallel(tstack):
    api = tstack.api
    make_repo(api, "par-a")
    make_repo(api, "par-b")
    a, b = sync(api, "par-a", sleep=2), sync(api, "par-b", sleep=2)
    ra, rb = api.wait_task(a), api.wait_task(b)
    assert ra["state"] == rb["state"] == "finished"
    assert ra["worker_name"] != rb["worker_name"]
    sa, sb = ra["result"]["summary"], rb["result"]["summary"]
    assert sa["began"] < sb["ended"] and sb["began"] < sa["ended"]  # they overlapped


def test_fifty_concurrent_mutations_finish_consistently(tstack):
    api = tstack.api
    make_repo(api, "busy")
    distributors = [f"d{i}" for i in range(5)]
    for d in distributors:
        api.post(f"{API}/repositories/busy/distributors/",
                 json={"distributor_type_id": "harness_distributor", "distributor_id": d})

    def mutate(i):
        if i % 3 == 0:
            return sync(api, "busy", num_units=i, prefix="u")
        response = api.put(f"{API}/repositories/busy/distributors/{distributors[i % 5]}/",
                           json={"distributor_config": {"last": i}})
        assert response.status_code == 202, response.text
        return response.json()["spawned_tasks"][0]["task_id"]

    with ThreadPoolExecutor(10) as pool:
        ids = list(pool.map(mutate, range(50)))
    reports = [api.wait_task(t, timeout=120) for t in ids]
    assert [r["state"] for r in reports] == ["finished"] * 50
    syncs = [r["result"]["summary"] for i, r in enumerate(reports) if i % 3 == 0]
    spans = sorted((s["began"], s["ended"]) for s in syncs)
    for (_, ended), (began, _) in zip(spans, spans[1:]):
        assert ended <= began  # syncs on one repository never overlap
    # Each distributor ends with the config of the last request that touched it: concurrent
    # requests are applied in the order the server accepted them.
    seqs = {t["task_id"]: t for t in api.post(f"{API}/tasks/search/", json={
        "criteria": {"filters": {"tags": "pulp:repository:busy"}}}).json()}
    for j, d in enumerate(distributors):
        touched = [i for i in range(50) if i % 3 and i % 5 == j]
        config = api.get(f"{API}/repositories/busy/distributors/{d}/").json()["config"]
        assert config["last"] in touched
        finished = {i: seqs[ids[i]]["finish_time"] for i in touched}
        assert finished[config["last"]] == max(finished.values())
    counts = api.get(f"{API}/repositories/busy/").json()["content_unit_counts"]
    assert counts == {"harness_unit": 48}  # the largest sync (i=48) made units u-0…u-47


def test_killed_worker_fails_its_task_and_frees_the_repository(tstack):
    api = tstack.api
    make_repo(api, "crash")
    long_task = sync(api, "crash", sleep=60)
    next_task = sync(api, "crash", num_units=2)
    report = wait_running(api, long_task)
    victim = next(k for k in tstack.processes if k.startswith(report["worker_name"]))
    killed_at = time.monotonic()
    tstack.kill(victim, signal.SIGKILL)
    failed = api.wait_task(long_task, timeout=30)  # the task itself would sleep 60 s
    assert failed["state"] == "error"
    assert failed["error"]["code"] == "PLP0049"
    assert report["worker_name"] in failed["error"]["description"]
    # Acceptance: detected within the configured worker_timeout (3 s), plus a reaper tick and slack.
    assert time.monotonic() - killed_at < 3 * 2 + 5
    assert api.wait_task(next_task, timeout=30)["state"] == "finished"
    # A worker restarting under the same name starts clean and takes work again.
    tstack.start_worker(report["worker_name"])
    tstack.wait_ready(2)
    assert api.wait_task(sync(api, "crash", num_units=3))["state"] == "finished"


def test_worker_restarted_under_its_name_cleans_up_before_the_timeout(make_stack):
    """No scheduler and a 30 s timeout: only the restarted worker can free the repository."""
    stack = make_stack(workers=1, worker_timeout=30)
    api = stack.api
    make_repo(api, "restart")
    long_task = sync(api, "restart", sleep=60)
    next_task = sync(api, "restart", num_units=1)
    name = wait_running(api, long_task)["worker_name"]
    stack.kill(name, signal.SIGKILL)
    started = time.monotonic()
    stack.start_worker(name)
    failed = api.wait_task(long_task, timeout=20)
    assert failed["state"] == "error" and "restarted" in failed["error"]["description"]
    assert api.wait_task(next_task, timeout=20)["state"] == "finished"
    assert time.monotonic() - started < 30   # well before the reaper's timeout


def test_second_worker_under_a_live_workers_name_is_refused(make_stack):
    """Issue 22: it would take the live worker's running task for its own previous life's
    and fail it. It must exit non-zero, saying why, and leave that task alone."""
    import subprocess
    import sys

    stack = make_stack(workers=1, worker_timeout=30)
    api = stack.api
    repo_id = f"dup-{uuid.uuid4().hex[:8]}"
    make_repo(api, repo_id)
    running = sync(api, repo_id, sleep=6, num_units=2)
    name = wait_running(api, running)["worker_name"]
    second = subprocess.run([sys.executable, "-m", "pulp2ng.cli", "worker", "--name", name],
                            env=stack.env, capture_output=True, text=True, timeout=60)
    assert second.returncode != 0
    assert f"refusing to start worker {name}: a live worker" in second.stderr
    assert f"pid {stack.processes[name].pid}" in second.stderr
    assert api.task(running)["state"] == "running"
    report = api.wait_task(running, timeout=30)
    assert report["state"] == "finished", report
    assert report["worker_name"] == name and report["result"]["added_count"] == 2
    assert stack.processes[name].poll() is None
    assert name in stack.workers_known()


def test_cancel_waiting_and_running(tstack):
    api = tstack.api
    make_repo(api, "cancel")
    running = sync(api, "cancel", sleep=30)
    waiting = sync(api, "cancel", num_units=4)
    while api.task(running)["state"] != "running":
        time.sleep(0.02)
    api.delete(f"{API}/tasks/{waiting}/")
    api.delete(f"{API}/tasks/{running}/")
    assert api.wait_task(running, timeout=10)["state"] == "canceled"
    assert api.wait_task(waiting)["state"] == "canceled"
    assert api.get(f"{API}/repositories/cancel/").json()["content_unit_counts"] == {}
    # The worker survived the cancel and still runs tasks.
    assert all(p.poll() is None for p in tstack.processes.values())
    assert api.wait_task(sync(api, "cancel", num_units=1))["state"] == "finished"


def test_no_task_waits_while_a_worker_is_idle(tstack):
    api = tstack.api
    for i in range(4):
        make_repo(api, f"idle-{i}")
    ids = [sync(api, f"idle-{i % 4}") for i in range(20)]
    reports = [api.wait_task(t) for t in ids]
    assert all(r["state"] == "finished" for r in reports)
    _ = threading  # keeps the import meaningful for readers of the parallel tests


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_worker_exits_promptly_on_sigterm_mid_task(make_stack):
    """Warm shutdown would wait out the 60 s task; a stopping worker exits within seconds."""
    stack = make_stack(workers=1, worker_timeout=3, scheduler=True)
    api = stack.api
    make_repo(api, "sigterm")
    long_task = sync(api, "sigterm", sleep=60)
    name = wait_running(api, long_task)["worker_name"]
    started = time.monotonic()
    stack.kill(name, signal.SIGTERM)             # waits for the process, at most 10 s
    assert time.monotonic() - started < 6
    assert api.wait_task(long_task, timeout=20)["state"] == "error"  # reaped, not left running


def test_worker_dies_with_its_parent(make_stack, tmp_path):
    """A killed test run (or ``pulp2ng run``) leaves no Celery worker behind."""
    import subprocess
    import sys

    stack = make_stack(workers=0)
    parent = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys, time\n"
        "from pulp2ng.embedded import die_with_parent\n"
        "p = subprocess.Popen([sys.executable, '-m', 'pulp2ng.cli', 'worker', '--name',"
        " 'orphan@test'], preexec_fn=die_with_parent, stdout=subprocess.DEVNULL,"
        " stderr=subprocess.DEVNULL)\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(600)\n")], env=stack.env, stdout=subprocess.PIPE, text=True)
    try:
        worker = int(parent.stdout.readline())
        deadline = time.monotonic() + 60
        while "orphan@test" not in stack.workers_known():
            assert time.monotonic() < deadline and _alive(worker), "the worker did not start"
            time.sleep(0.2)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 8
    while _alive(worker):
        assert time.monotonic() < deadline, "the worker outlived its parent"
        time.sleep(0.1)
