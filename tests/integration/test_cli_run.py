"""``pulp2ng run`` (what ``make run`` starts): the whole stack from one command, then a clean stop."""

import os
import re
import signal
import stat
import subprocess
import sys
import time

import pymongo
import pytest
import requests

from pulp2ng.embedded import embedded_credentials, mongo_url
from tests.stack import Api, free_port, port_open

API = "/pulp/api/v2"


def run_environ() -> dict:
    """This environment without pulp2ng settings, but with the test plugin (harness_importer)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULP2NG_")}
    env["PULP2NG_TEST_PLUGINS"] = "1"
    return env


def test_run_starts_database_api_workers_and_scheduler_then_stops(tmp_path):
    port, https_port = free_port(), free_port()
    env = run_environ()
    env.update(PULP2NG_SERVER_PORT=str(port), PULP2NG_STORAGE_DIR=str(tmp_path / "storage"),
               PULP2NG_STORAGE_STATE_DIR=str(tmp_path / "state"),
               PULP2NG_SERVER_HTTPS="true", PULP2NG_SERVER_HTTPS_PORT=str(https_port))
    proc = subprocess.Popen([sys.executable, "-m", "pulp2ng.cli", "run"], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "run.log", "wb"))
    api = Api(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 90
        roles = []
        while sorted(roles) != ["scheduler", "worker", "worker"]:
            assert proc.poll() is None, (tmp_path / "run.log").read_text()
            assert time.monotonic() < deadline, f"stack not up: {roles}"
            time.sleep(0.3)
            try:
                status = api.get(f"{API}/status/").json()
            except Exception:  # not listening yet
                continue
            roles = [w["role"] for w in status["known_workers"]]
        assert status["database_connection"]["connected"]
        # The API's HTTPS listener answers too, with the certificate of the private CA.
        secure = requests.get(f"https://127.0.0.1:{https_port}{API}/status/", timeout=30,
                              verify=str(tmp_path / "state" / "pki" / "ca.crt"))
        assert secure.json()["database_connection"]["connected"]
        assert (tmp_path / "state" / "db").is_dir()         # the embedded database's data
        assert api.post(f"{API}/repositories/", json={
            "id": "cli", "importer_type_id": "harness_importer"}).status_code == 201
        report = api.wait_task(api.start_sync("cli", num_units=2))
        assert report["state"] == "finished" and report["result"]["added_count"] == 2
        assert_database_requires_auth(tmp_path / "state", (tmp_path / "run.log").read_text())
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    assert code == 0
    # Idle workers stop by themselves, at once: none is cut short by the stop grace timer.
    log = (tmp_path / "run.log").read_text()
    assert "still running" not in log, log[-3000:]
    assert not port_open("127.0.0.1", port)
    assert not port_open("127.0.0.1", https_port)


def assert_database_requires_auth(state, log: str) -> None:
    """The embedded server refuses clients without the user kept in db-credentials."""
    credentials = state / "db-credentials"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    user, password = credentials.read_text().strip().split(":", 1)
    assert password not in log
    port = re.search(r"embedded database at mongodb://\S*@127\.0\.0\.1:(\d+)/", log).group(1)
    anonymous = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true")
    with pytest.raises(pymongo.errors.OperationFailure):
        anonymous.pulp2ng.repos.find_one()
    known = pymongo.MongoClient(f"mongodb://{user}:{password}@127.0.0.1:{port}/"
                                "?directConnection=true&authSource=admin")
    assert known.pulp2ng.repos.find_one({"_id": "cli"})


# --- supervision (issue 16): one supervised ``pulp2ng run`` shared by the tests below, in order


def _children(pid: int) -> dict[int, str]:
    """Direct children of ``pid``: {pid: command line}."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    found[int(entry)] = fh.read().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
    return found


def _pid_of(run, needle: str) -> int:
    pids = [p for p, cmd in _children(run.proc.pid).items() if needle in cmd]
    assert len(pids) == 1, (needle, _children(run.proc.pid))
    return pids[0]


def _wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception:  # the API or database may be restarting
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


class Run:
    def __init__(self, tmp_path):
        self.port = free_port()
        self.state = tmp_path / "state"
        self.log = tmp_path / "run.log"
        self.env = run_environ()
        self.env.update(PULP2NG_SERVER_PORT=str(self.port),
                        PULP2NG_STORAGE_DIR=str(tmp_path / "storage"),
                        PULP2NG_STORAGE_STATE_DIR=str(self.state))
        self.proc = subprocess.Popen([sys.executable, "-m", "pulp2ng.cli", "run"], env=self.env,
                                     stdout=open(self.log, "wb"),
                                     stderr=subprocess.STDOUT)
        self.api = Api(f"http://127.0.0.1:{self.port}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def workers_ready(self) -> bool:
        return self.output().count("pulp2ng worker ready") >= 2

    def db(self):
        port = int((self.state / "db.port").read_text())
        client = pymongo.MongoClient(mongo_url(port, embedded_credentials(self.state)),
                                     tz_aware=True, serverSelectionTimeoutMS=10000)
        return client["pulp2ng"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    r = Run(tmp_path_factory.mktemp("run"))
    try:
        _wait_for(lambda: r.proc.poll() is None and r.workers_ready()
                  and r.api.get(f"{API}/status/").ok, 90, "the stack")
        yield r
    finally:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait()


def test_second_run_on_the_same_state_dir_is_refused(run, tmp_path):
    second = subprocess.run([sys.executable, "-m", "pulp2ng.cli", "run"], env=run.env,
                            capture_output=True, text=True, timeout=60)
    assert second.returncode != 0
    assert "Traceback" not in second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and f"pid {run.proc.pid}" in lines[0], second.stderr
    assert run.proc.poll() is None


def test_console_shows_no_celery_banner(run):
    out = run.output()
    assert "pulp2ng worker ready" in out
    assert "-------------- " not in out and "[config]" not in out and "[queues]" not in out, out
    assert "superuser privileges" not in out


def test_killed_worker_fails_its_task_and_is_restarted(run):
    api = run.api
    assert api.post(f"{API}/repositories/", json={
        "id": "killme", "importer_type_id": "harness_importer"}).status_code == 201
    long_sync = api.start_sync("killme", sleep=60)
    queued = api.start_sync("killme", num_units=3)  # waits behind it on the repository
    worker = _wait_for(lambda: (t := api.task(long_sync))["state"] == "running"
                       and t["worker_name"], 30, "the long sync to start")
    pid = _pid_of(run, f"--name {worker}")
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    report = api.wait_task(long_sync, timeout=10)            # the API keeps answering
    assert report["state"] == "error", report
    assert time.monotonic() - killed_at < 5
    assert "terminated abnormally" in report["error"]["description"]
    nxt = api.wait_task(queued, timeout=60)                  # the repository is free again
    assert nxt["state"] == "finished", nxt
    assert nxt["result"]["added_count"] == 3
    _wait_for(lambda: f"{worker} started again" in run.output(), 30, "the worker restart")
    assert "was killed by SIGKILL; restarting it" in run.output()
    _wait_for(lambda: run.output().count("pulp2ng worker ready") >= 3, 60, "the new worker")
    assert run.proc.poll() is None


def test_killed_database_is_restarted_with_every_acknowledged_write(run):
    api = run.api
    others = {p: c for p, c in _children(run.proc.pid).items() if "secantusd" not in c}
    db_pid = _pid_of(run, "secantusd")
    ids = [f"durable-{i}" for i in range(10)]
    tasks = []
    for repo_id in ids:
        assert api.post(f"{API}/repositories/", json={
            "id": repo_id, "importer_type_id": "harness_importer",
            "importer_config": {"num_units": 1}}).status_code == 201
        tasks.append(api.start_sync(repo_id, sleep=60 if repo_id == ids[-1] else 0))
    _wait_for(lambda: api.task(tasks[-1])["state"] == "running", 30, "the last sync to run")
    os.kill(db_pid, signal.SIGKILL)
    _wait_for(lambda: "embedded database back" in run.output(), 30, "the database restart")
    store = run.db()
    assert {r["_id"] for r in store.repos.find({"_id": {"$in": ids}})} == set(ids)
    assert {i["repo_id"] for i in store.repo_importers.find({"repo_id": {"$in": ids}})} == set(ids)
    assert store.task_status.count_documents({"_id": {"$in": tasks}}) == len(tasks)
    # The sync the database died under is failed, and the stack takes new work (the API
    # may answer 503 until its driver has seen the database come back).
    _wait_for(lambda: api.task(tasks[-1])["state"] == "error", 30, "the dead sync to fail")
    report = api.wait_task(api.start_sync(ids[0], num_units=2), timeout=60)
    assert report["state"] == "finished", report
    assert {p: c for p, c in _children(run.proc.pid).items() if "secantusd" not in c} == others
    assert run.proc.poll() is None


def test_stop_is_quick_even_with_the_database_dead(run):
    children = list(_children(run.proc.pid))
    os.kill(_pid_of(run, "secantusd"), signal.SIGKILL)
    run.proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    code = run.proc.wait(30)
    assert time.monotonic() - started < 10
    assert code == 0
    time.sleep(0.5)
    assert not [p for p in children if os.path.exists(f"/proc/{p}")
                and open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"]


def test_run_exits_non_zero_when_the_database_will_not_start(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = run_environ()
        env.update(PULP2NG_SERVER_PORT=str(free_port()),
                   PULP2NG_STORAGE_DIR=str(tmp_path / "storage"),
                   PULP2NG_STORAGE_STATE_DIR=str(tmp_path / "state"),
                   PULP2NG_DATABASE_EMBEDDED_PORT=str(taken.getsockname()[1]))
        result = subprocess.run([sys.executable, "-m", "pulp2ng.cli", "run"], env=env,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "cannot start the stack" in result.stderr and "Traceback" not in result.stderr
