"""A real pulp2ng stack for tests: database server, API and workers as subprocesses.

Nothing is mocked: the API is ``pulp2ng api`` (waitress) on a random port, workers are
``pulp2ng worker`` Celery processes, and the database is a real server (the embedded
SecantusDB, shared by the session; every stack gets its own database name).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

from pulp2ng.embedded import die_with_parent

TERMINAL = ("finished", "error", "canceled", "skipped")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Api:
    """A tiny v2 client: base URL, basic auth, and task polling."""

    def __init__(self, base: str, auth=("admin", "admin")):
        self.base = base.rstrip("/")
        self.session = requests.Session()
        self.session.auth = auth

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base}{path}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.url(path), timeout=60, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self.request("PUT", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def task(self, task_id: str) -> dict:
        response = self.get(f"/pulp/api/v2/tasks/{task_id}/")
        response.raise_for_status()
        return response.json()

    def wait_task(self, task_id: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            report = self.task(task_id)
            if report["state"] in TERMINAL:
                return report
            if time.monotonic() > deadline:
                raise AssertionError(f"task {task_id} still {report['state']}: {report}")
            time.sleep(0.02)

    def wait_report(self, response: requests.Response, timeout: float = 60) -> list[dict]:
        """Wait for every task a 202 call report spawned; returns their final reports."""
        assert response.status_code == 202, response.text
        return [self.wait_task(t["task_id"], timeout) for t in response.json()["spawned_tasks"]]

    def start_sync(self, repo_id: str, **override) -> str:
        """POST a sync (with ``override_config`` when given) and return its task id."""
        response = self.post(f"/pulp/api/v2/repositories/{repo_id}/actions/sync/",
                             json={"override_config": override} if override else {})
        assert response.status_code == 202, response.text
        return response.json()["spawned_tasks"][0]["task_id"]

    def sync(self, repo_id: str, timeout: float = 60, **override) -> list[dict]:
        """Sync and wait: the sync's report followed by those of the tasks it spawned."""
        return self.wait_all(self.start_sync(repo_id, **override), timeout)

    def wait_all(self, task_id: str, timeout: float = 60) -> list[dict]:
        """A task and, recursively, every task it spawned."""
        report = self.wait_task(task_id, timeout)
        reports = [report]
        for child in report.get("spawned_tasks") or []:
            reports += self.wait_all(child["task_id"], timeout)
        return reports


class Stack:
    """API + workers (+ optional scheduler) against one database name."""

    def __init__(self, root: Path, db_url: str, *, workers: int = 2, broker_url: str = "",
                 worker_timeout: float = 30, scheduler: bool = False, extra_env=None,
                 https: bool = False, host: str = "127.0.0.1", admin_password: str = "admin"):
        """``host`` is the API's bind address (``[server] host``), also the address the test
        reaches it at and the one consumers are given; a non-loopback ``host`` needs an
        ``admin_password`` other than the default (the API refuses to start otherwise)."""
        self.root = root
        self.host = host
        self.name = f"t{uuid.uuid4().hex[:10]}"
        self.port = free_port()
        #: The HTTPS listener's port (``https=True``), its CA in ``state/pki/ca.crt``.
        self.https_port = free_port() if https else None
        self.env = {
            **os.environ,
            "PULP2NG_DATABASE_URL": db_url,
            "PULP2NG_DATABASE_NAME": self.name,
            "PULP2NG_BROKER_URL": broker_url,
            "PULP2NG_BROKER_QUEUE": f"pulp2ng-{self.name}",
            "PULP2NG_SERVER_HOST": host,
            "PULP2NG_SERVER_PORT": str(self.port),
            "PULP2NG_AUTH_ADMIN_PASSWORD": admin_password,
            "PULP2NG_STORAGE_DIR": str(root / "storage"),
            "PULP2NG_STORAGE_STATE_DIR": str(root / "state"),
            "PULP2NG_TASKS_WORKER_TIMEOUT": str(worker_timeout),
            "PULP2NG_TEST_PLUGINS": "1",  # load tests/plugins (pulp2ng.test.* entry points)
            **({"PULP2NG_SERVER_HTTPS": "true", "PULP2NG_SERVER_HTTPS_PORT": str(self.https_port)}
               if https else {}),
            **(extra_env or {}),
        }
        self.storage = root / "storage"
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, subprocess.Popen] = {}
        netloc = f"[{host}]" if ":" in host else host
        self.api = Api(f"http://{netloc}:{self.port}", auth=("admin", admin_password))
        self.https_base = f"https://{netloc}:{self.https_port}" if https else None
        self.ca_cert = root / "state" / "pki" / "ca.crt"
        try:
            self._start("api", ["api"])
            for i in range(1, workers + 1):
                self.start_worker(f"w{i}@{self.name}")
            if scheduler:
                self._start("scheduler", ["scheduler"])
            self.wait_ready(workers)
        except BaseException:
            self.stop()
            raise

    def _start(self, key: str, args: list[str]) -> subprocess.Popen:
        log = open(self.logs / f"{key.split('@')[0]}.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "pulp2ng.cli", *args], env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=die_with_parent)
        self.processes[key] = proc
        return proc

    def start_worker(self, name: str) -> subprocess.Popen:
        return self._start(name, ["worker", "--name", name])

    def kill(self, key: str, sig=signal.SIGKILL) -> None:
        """Kill a process group (the worker and any children) without cleanup."""
        proc = self.processes.pop(key)
        os.killpg(proc.pid, sig)
        proc.wait(10)

    def workers_known(self) -> list[str]:
        body = requests.get(f"{self.api.base}/pulp/api/v2/status/", timeout=5).json()
        return [w["name"] for w in body["known_workers"] if w.get("role") == "worker"]

    def wait_ready(self, workers: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for key, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{key} exited: {self.log_tail(key)}")
            try:
                if len(self.workers_known()) >= workers and self._workers_consuming():
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"stack did not start: {self.log_tail('api')}")

    def _workers_consuming(self) -> bool:
        """Celery prints 'ready' once it consumes; until then tasks would just wait."""
        return all(
            b"pulp2ng worker ready" in (self.logs / f"{k.split('@')[0]}.log").read_bytes()
            for k in self.processes if k.startswith("w")
        ) if any(k.startswith("w") for k in self.processes) else True

    def log_tail(self, key: str, n: int = 4000) -> str:
        path = self.logs / f"{key.split('@')[0]}.log"
        return path.read_text(errors="replace")[-n:] if path.exists() else ""

    def stop(self) -> None:
        procs = list(self.processes.values())
        self.processes.clear()
        for proc in procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
