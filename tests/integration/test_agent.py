"""The consumer agent (``pulp2ng-agent``) as a separate real process against a real stack
over HTTPS: registration and bindings through its CLI, requests delivered by long-poll and
carried out by the test plugin's handler (``pulp2ng_testhandler``) under a temporary root,
offline agents, cancels (waiting and running), an agent killed mid-install, 100 waiting agents beside the REST API,
and consumers kept out of each other's requests.

Loopback only: the agent and the stack share this host's network (no ``ip netns`` here).
"""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.stack import Stack

API = "/pulp/api/v2"
WORKER_TIMEOUT = 4


@pytest.fixture(scope="module")
def stack(database, tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("agent-stack"), database, workers=1, scheduler=True,
              https=True, worker_timeout=WORKER_TIMEOUT)
    yield s
    s.stop()


@pytest.fixture
def api(stack):
    return stack.api


def _env():
    return {**os.environ, "PULP2NG_TEST_PLUGINS": "1"}


class AgentHost:
    """One consumer host: the agent's state directory, its root, its daemon process."""

    def __init__(self, stack: Stack, base: Path):
        self.stack = stack
        self.state = base / "state"
        self.root = base / "root"
        self.log = base / "agent.log"
        self.id = f"c-{uuid.uuid4().hex[:8]}"
        self.proc: subprocess.Popen | None = None

    def cli(self, *args, check=True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "pulp2ng.agent.cli", "--state-dir",
                               str(self.state), *args], env=_env(), capture_output=True,
                              text=True, timeout=60)
        assert not check or done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    def register(self) -> None:
        password = self.state.parent / "password"
        password.write_text("admin\n")
        self.cli("register", "--id", self.id, "--server", self.stack.https_base,
                 "--ca", str(self.stack.ca_cert), "--password-file", str(password))

    def start(self) -> None:
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pulp2ng.agent.cli", "--state-dir", str(self.state), "run",
             "--root", str(self.root)], env=_env(), stdout=out, stderr=subprocess.STDOUT)

    def stop(self, sig=signal.SIGTERM) -> int | None:
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            return proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"agent did not stop on {sig}: {self.log.read_text()}")


@pytest.fixture
def host(stack, tmp_path):
    hosts = []

    def make() -> AgentHost:
        h = AgentHost(stack, tmp_path / f"host{len(hosts)}")
        h.state.parent.mkdir(parents=True)
        hosts.append(h)
        return h

    yield make
    for h in hosts:
        h.stop(signal.SIGKILL)


def harness_repo(api) -> str:
    repo_id = f"r-{uuid.uuid4().hex[:8]}"
    r = api.post(f"{API}/repositories/", json={
        "id": repo_id, "importer_type_id": "harness_importer",
        "distributors": [{"distributor_type_id": "harness_distributor",
                          "distributor_id": "d"}]})
    assert r.status_code == 201, r.text
    return repo_id


def task_ids(output: str) -> list[str]:
    return re.findall(r"[0-9a-f]{8}-[0-9a-f-]{27}", output)


def wait_state(api, task_id: str, states, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        report = api.task(task_id)
        if report["state"] in states:
            return report
        assert time.monotonic() < deadline, report
        time.sleep(0.05)


def consumer_pem(api, tmp_path, consumer_id=None) -> tuple[str, Path]:
    consumer_id = consumer_id or f"c-{uuid.uuid4().hex[:8]}"
    r = api.post(f"{API}/consumers/", json={"id": consumer_id})
    assert r.status_code == 201, r.text
    pem = tmp_path / f"{consumer_id}.pem"
    pem.write_text(r.json()["certificate"])
    return consumer_id, pem


def test_register_bind_install_unbind_through_the_agent(api, host):
    h = host()
    h.register()
    for name in ("consumer.pem", "config.json"):
        assert stat.S_IMODE((h.state / name).stat().st_mode) == 0o600
    assert api.get(f"{API}/consumers/{h.id}/").status_code == 200
    repo_id = harness_repo(api)
    h.start()
    (bind_task,) = task_ids(h.cli("bind", repo_id, "d").stdout)
    report = api.wait_task(bind_task, 30)
    assert report["state"] == "finished", report
    binding_file = h.root / "etc" / "harness" / f"{repo_id}--d.json"
    assert binding_file.exists()
    assert report["result"] == {"written": f"etc/harness/{repo_id}--d.json"}
    binding = api.get(f"{API}/consumers/{h.id}/bindings/{repo_id}/d/").json()
    assert binding["deleted"] is False
    assert [(a["id"], a["status"]) for a in binding["consumer_actions"]] == [
        (bind_task, "succeeded")]

    r = api.post(f"{API}/consumers/{h.id}/actions/content/install/", json={
        "units": [{"type_id": "harness_unit", "unit_key": {"name": "tool"}}], "options": {}})
    (install,) = api.wait_report(r, 30)
    assert install["state"] == "finished" and install["result"] == {
        "harness_unit": {"installed": ["tool"]}}
    assert (h.root / "var" / "harness" / "tool").read_text() == "tool\n"
    status = h.cli("status").stdout
    assert '"server_reachable": true' in status and repo_id in status

    (unbind_task,) = task_ids(h.cli("unbind", repo_id, "d").stdout)
    assert api.wait_task(unbind_task, 30)["state"] == "finished"
    assert not binding_file.exists()
    assert api.get(f"{API}/consumers/{h.id}/bindings/{repo_id}/d/").status_code == 404
    events = [e["type"] for e in api.get(f"{API}/consumers/{h.id}/history/",
                                         params={"sort": "ascending"}).json()]
    assert "content_unit_installed" in events and "unit_profile_changed" in events

    started = time.monotonic()
    assert h.stop(signal.SIGTERM) == 0  # leaves its idle long-poll at once
    assert time.monotonic() - started < 5
    h.cli("unregister")
    assert not (h.state / "consumer.pem").exists()
    assert api.get(f"{API}/consumers/{h.id}/").status_code == 404


def test_requests_wait_for_an_offline_agent(api, host):
    h = host()
    h.register()
    repo_id, other = harness_repo(api), harness_repo(api)
    (bind_task,) = task_ids(h.cli("bind", repo_id, "d").stdout)
    # Bound, then force-unbound while the agent is offline: the binding is gone at once;
    # both requests still reach the agent later (the bind of a binding that no longer exists
    # is still finished), in order.
    (other_bind,) = task_ids(h.cli("bind", other, "d").stdout)
    (unbind_task,) = task_ids(h.cli("unbind", other, "d", "--force").stdout)
    assert api.get(f"{API}/consumers/{h.id}/bindings/{other}/d/").status_code == 404
    # A waiting install canceled before the agent comes is never handed out.
    r = api.post(f"{API}/consumers/{h.id}/actions/content/install/", json={
        "units": [{"type_id": "harness_unit", "unit_key": {"name": "never"}}], "options": {}})
    canceled = r.json()["spawned_tasks"][0]["task_id"]
    time.sleep(1)
    assert api.task(bind_task)["state"] == "waiting"
    assert api.delete(f"{API}/tasks/{canceled}/").status_code == 200
    assert api.task(canceled)["state"] == "canceled"

    h.start()
    assert api.wait_task(bind_task, 30)["state"] == "finished"
    assert api.wait_task(other_bind, 30)["state"] == "finished"
    assert api.wait_task(unbind_task, 30)["state"] == "finished"
    assert (h.root / "etc" / "harness" / f"{repo_id}--d.json").exists()
    assert not (h.root / "etc" / "harness" / f"{other}--d.json").exists()
    # A later request is served after the canceled one would have been: it never came.
    r = api.post(f"{API}/consumers/{h.id}/actions/content/install/", json={
        "units": [{"type_id": "harness_unit", "unit_key": {"name": "later"}}], "options": {}})
    assert api.wait_report(r, 30)[0]["state"] == "finished"
    assert api.task(canceled)["state"] == "canceled"
    assert not (h.root / "var" / "harness" / "never").exists()
    assert (h.root / "var" / "harness" / "later").exists()


def test_an_agent_killed_mid_install_fails_its_task(api, host):
    h = host()
    h.register()
    h.start()
    r = api.post(f"{API}/consumers/{h.id}/actions/content/install/", json={
        "units": [{"type_id": "harness_unit", "unit_key": {"name": "big"}}],
        "options": {"slow": 60}})
    task_id = r.json()["spawned_tasks"][0]["task_id"]
    wait_state(api, task_id, ("running",))
    time.sleep(WORKER_TIMEOUT * 0.75)  # heartbeats keep it running past one lease
    assert api.task(task_id)["state"] == "running"
    h.stop(signal.SIGKILL)
    killed = time.monotonic()
    report = wait_state(api, task_id, ("error",), timeout=WORKER_TIMEOUT + 10)
    assert time.monotonic() - killed < WORKER_TIMEOUT + 3
    assert report["error"]["code"] == "PLP0081"
    harness = h.root / "var" / "harness"
    assert not harness.exists() or list(harness.iterdir()) == []


def test_canceling_a_running_request_stops_its_handler(api, host):
    h = host()
    h.register()
    h.start()
    r = api.post(f"{API}/consumers/{h.id}/actions/content/install/", json={
        "units": [{"type_id": "harness_unit", "unit_key": {"name": "slow"}}],
        "options": {"slow": 60}})
    task_id = r.json()["spawned_tasks"][0]["task_id"]
    wait_state(api, task_id, ("running",))
    assert api.delete(f"{API}/tasks/{task_id}/").status_code == 200
    assert api.task(task_id)["state"] == "canceled"
    # The handler stops at the next heartbeat, long before its 60 s: the agent is free for
    # the next request, and the canceled one wrote nothing.
    r = api.post(f"{API}/consumers/{h.id}/actions/content/install/", json={
        "units": [{"type_id": "harness_unit", "unit_key": {"name": "next"}}], "options": {}})
    assert api.wait_report(r, 15)[0]["state"] == "finished"
    assert api.task(task_id)["state"] == "canceled"
    assert not (h.root / "var" / "harness" / "slow").exists()
    assert (h.root / "var" / "harness" / "next").exists()
    assert "stopped: canceled" in h.log.read_text()


def test_a_consumer_certificate_reaches_only_its_own_requests(stack, api, tmp_path):
    me, pem = consumer_pem(api, tmp_path)
    other, _ = consumer_pem(api, tmp_path)
    r = api.post(f"{API}/consumers/{other}/actions/content/install/", json={
        "units": [{"type_id": "harness_unit", "unit_key": {"name": "x"}}], "options": {}})
    theirs = r.json()["spawned_tasks"][0]["task_id"]
    base = stack.https_base + API

    def call(method, path, **kw):
        return requests.request(method, base + path, cert=str(pem), timeout=30,
                                verify=str(stack.ca_cert), **kw)

    polled = call("GET", f"/consumers/{other}/agent/requests/", params={"wait": 0})
    assert polled.status_code == 401 and polled.json()["error"]["code"] == "PLP0026"
    for path in (f"/consumers/{me}/agent/requests/{theirs}/",
                 f"/consumers/{me}/agent/requests/{theirs}/heartbeat/"):
        r = call("POST", path, json={"succeeded": True})
        assert r.status_code == 404, r.text
    assert call("GET", f"/consumers/{me}/agent/requests/", params={"wait": 0}).json() == []
    assert api.task(theirs)["state"] == "waiting"
    # A user may look (READ on the consumer), over plain HTTP without holding the poll.
    started = time.monotonic()
    r = api.get(f"{API}/consumers/{other}/agent/requests/", params={"wait": 20})
    assert time.monotonic() - started < 3
    assert [t["task_id"] for t in r.json()] == [theirs]
    assert api.task(theirs)["state"] == "running"


def test_100_waiting_agents_leave_the_rest_api_answering(stack, api, tmp_path):
    pems = [consumer_pem(api, tmp_path) for _ in range(100)]
    results: dict[str, tuple] = {}

    def poll(consumer_id, pem):
        began = time.monotonic()
        try:
            r = requests.get(f"{stack.https_base}{API}/consumers/{consumer_id}/agent/requests/",
                             params={"wait": 12}, cert=str(pem), verify=str(stack.ca_cert),
                             timeout=60)
            results[consumer_id] = (r.status_code, r.json(), began, time.monotonic())
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[consumer_id] = (exc, None, began, time.monotonic())

    threads = [threading.Thread(target=poll, args=p) for p in pems]
    for t in threads:
        t.start()
    time.sleep(3)  # every poll connected and waiting
    timings = []
    for _ in range(20):
        began = time.monotonic()
        r = requests.get(f"{api.base}{API}/repositories/", auth=("admin", "admin"), timeout=30)
        timings.append(time.monotonic() - began)
        assert r.status_code == 200
    last_get = time.monotonic()
    for t in threads:
        t.join(60)
    assert len(results) == 100
    assert all(r[0] == 200 and r[1] == [] for r in results.values()), \
        [r for r in results.values() if r[0] != 200][:3]
    assert max(timings) < 2, timings
    # The 20 calls were answered while all 100 polls were still open.
    assert min(r[3] for r in results.values()) > last_get
