"""pulp2ng laid out on several hosts (network namespaces from :mod:`tests.netns`).

Hosts: ``db`` (``pulp2ng db`` bound to its namespace address, authentication on), ``broker``
(a Redis of its own, no persistence; or none: the embedded broker through the database),
``api``, ``worker1``.., ``scheduler`` and ``upstream`` (``tests/fixtures/serve_static.py``).
The test process is the client, on the bridge's address. Every process has its settings from
``PULP2NG_*`` variables only; storage is one directory all of them see (the machine's
filesystem stands in for NFS), the secrets key one shared file, and each host has a state
directory of its own, as separate machines would.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

import pymongo
import requests

from pulp2ng.embedded import mongo_url
from tests.netns import Host, Network
from tests.stack import Api

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DB_PORT, REDIS_PORT, API_PORT, UPSTREAM_PORT = 27117, 6390, 24817, 8080
#: Variables a process must not inherit: a proxy would carry traffic off the namespaces, and
#: the caller's own pulp2ng settings would mix in.
_SCRUB = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
          "no_proxy", "NO_PROXY")


def base_env() -> dict:
    return {k: v for k, v in os.environ.items()
            if k not in _SCRUB and not k.startswith("PULP2NG_")}


def wait_until(what: str, check, timeout: float, interval: float = 0.1):
    """Poll ``check()`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except (OSError, requests.RequestException, pymongo.errors.PyMongoError):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class Cluster:
    """Database, broker, API, workers, scheduler and an upstream, each on a host of its own.

    ``broker="redis"`` runs Redis on the broker host; ``broker=""`` uses the embedded broker
    (kombu's MongoDB transport through the database host). ``upstream`` is the directory the
    upstream host serves (``--delay`` seconds per file request, to make syncs last)."""

    def __init__(self, root: Path, *, workers: int = 2, worker_timeout: float = 30,
                 broker: str = "redis", scheduler: bool = True, upstream: Path | None = None,
                 upstream_delay: float = 0.0, test_plugins: bool = False):
        self.root = root
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.storage = root / "storage"  # the shared storage every host mounts
        self.name = f"mh{uuid.uuid4().hex[:8]}"
        self.password = f"pw-{uuid.uuid4().hex}"
        self.worker_timeout = worker_timeout
        self.net = Network()
        self.workers: dict[str, Host] = {}
        try:
            self._build(workers, broker, scheduler, upstream, upstream_delay, test_plugins)
        except BaseException:
            self.stop()
            raise

    def _build(self, workers, broker, scheduler, upstream, upstream_delay, test_plugins):
        net = self.net
        self.db_host = net.add_host("db")
        self.broker_host = net.add_host("broker") if broker else None
        self.api_host = net.add_host("api")
        for i in range(1, workers + 1):
            self.workers[f"w{i}@worker{i}"] = net.add_host(f"worker{i}")
        self.scheduler_host = net.add_host("sched") if scheduler else None
        self.upstream_host = net.add_host("upstream") if upstream else None

        self.db_url = self._start_db()
        broker_url = self._start_redis() if broker else ""
        self.env = base_env() | {
            "PULP2NG_DATABASE_URL": self.db_url,
            "PULP2NG_DATABASE_NAME": self.name,
            "PULP2NG_BROKER_URL": broker_url,
            "PULP2NG_BROKER_QUEUE": f"pulp2ng-{self.name}",
            "PULP2NG_SERVER_HOST": self.api_host.address,
            "PULP2NG_SERVER_PORT": str(API_PORT),
            "PULP2NG_AUTH_ADMIN_PASSWORD": self.password,
            "PULP2NG_STORAGE_DIR": str(self.storage),
            "PULP2NG_SECRETS_KEY_FILE": str(self.root / "shared" / "secret.key"),
            "PULP2NG_SERVER_SESSION_KEY_FILE": str(self.root / "shared" / "session.key"),
            "PULP2NG_TASKS_WORKER_TIMEOUT": str(self.worker_timeout),
            **({"PULP2NG_TEST_PLUGINS": "1"} if test_plugins else {}),
        }
        self.api = Api(f"http://{self.api_host.address}:{API_PORT}",
                       auth=("admin", self.password))
        self.api.session.trust_env = False  # no proxy between the client and the API host
        self._start_role(self.api_host, "api", ["api"])
        for name, host in self.workers.items():
            self.start_worker(name)
        if self.scheduler_host:
            self._start_role(self.scheduler_host, "scheduler", ["scheduler"])
        if upstream:
            self.upstream_url = self._start_upstream(upstream, upstream_delay)
        self.wait_ready()

    # -- processes ------------------------------------------------------------------------

    def _start_db(self) -> str:
        """``pulp2ng db`` on the db host's address; the clients' URL (with its user)."""
        state = self.root / "db-state"
        env = base_env() | {"PULP2NG_STORAGE_STATE_DIR": str(state),
                            "PULP2NG_DATABASE_EMBEDDED_HOST": self.db_host.address,
                            "PULP2NG_DATABASE_EMBEDDED_PORT": str(DB_PORT),
                            "PULP2NG_DATABASE_EMBEDDED_AUTH": "true"}
        proc = self.db_host.start([sys.executable, "-m", "pulp2ng.cli", "db"], env,
                                  self.logs / "db.log")
        creds = state / "db-credentials"

        def ready():
            assert proc.poll() is None, (self.logs / "db.log").read_text()[-3000:]
            if not creds.exists():
                return None
            user, _, password = creds.read_text().strip().partition(":")
            url = mongo_url(DB_PORT, (user, password), self.db_host.address)
            client = pymongo.MongoClient(url, serverSelectionTimeoutMS=500)
            try:
                client.admin.command("ping")
            finally:
                client.close()
            return url
        return wait_until("the database host", ready, 60, 0.2)

    def _start_redis(self) -> str:
        host = self.broker_host
        host.start(["redis-server", "--port", REDIS_PORT, "--bind", host.address, "--save", "",
                    "--appendonly", "no", "--protected-mode", "no", "--dir", self.root],
                   base_env(), self.logs / "redis.log")
        url = f"redis://{host.address}:{REDIS_PORT}/0"

        def ready():
            import socket

            with socket.create_connection((host.address, REDIS_PORT), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        wait_until("the broker host", ready, 30)
        return url

    def _start_upstream(self, root: Path, delay: float) -> str:
        host = self.upstream_host
        self.upstream_log = self.logs / "upstream-access.log"
        host.start([sys.executable, FIXTURES / "serve_static.py", root, "--bind", host.address,
                    "--port", UPSTREAM_PORT, "--access-log", self.upstream_log, "--log-client",
                    *(["--delay", f"\\.iso$={delay}"] if delay else [])],
                   base_env(), self.logs / "upstream.log")
        url = f"http://{host.address}:{UPSTREAM_PORT}/"
        session = requests.Session()
        session.trust_env = False
        wait_until("the upstream host",
                   lambda: session.get(url, timeout=2).ok, 30)
        return url

    def _start_role(self, host: Host, log: str, args: list[str]) -> None:
        host.start([sys.executable, "-m", "pulp2ng.cli", *args],
                   self.env | {"PULP2NG_STORAGE_STATE_DIR": str(self.root / f"state-{host.name}")},
                   self.logs / f"{log}.log")

    def start_worker(self, name: str) -> None:
        self._start_role(self.workers[name], name.split("@")[0], ["worker", "--name", name])

    def restart_worker(self, name: str, timeout: float = 90) -> None:
        """Kill the worker's processes, bring its link up, start it again and wait for it."""
        host = self.workers[name]
        host.kill()
        host.restore()
        mark = self.log_size(name)
        self.start_worker(name)
        wait_until(f"{name} to consume again",
                   lambda: b"pulp2ng worker ready" in self.log_bytes(name)[mark:], timeout)
        wait_until(f"{name} to heartbeat", lambda: name in self.live_workers(), timeout)

    # -- state ----------------------------------------------------------------------------

    def log_bytes(self, name: str) -> bytes:
        path = self.logs / f"{name.split('@')[0]}.log"
        return path.read_bytes() if path.exists() else b""

    def log_size(self, name: str) -> int:
        return len(self.log_bytes(name))

    def live_workers(self) -> list[str]:
        body = self.api.session.get(self.api.url("/pulp/api/v2/status/"), timeout=5).json()
        return [w["name"] for w in body["known_workers"] if w.get("role") == "worker"]

    def database(self):
        """The cluster's database, as the client host sees it (over the bridge)."""
        client = pymongo.MongoClient(self.db_url, serverSelectionTimeoutMS=5000)
        return client[self.name]

    def wait_ready(self, timeout: float = 120) -> None:
        def ready():
            for host in self.net.hosts:
                for proc in host.processes:
                    assert proc.poll() is None, f"a process on {host.name} exited: " + \
                        "".join(p.read_text(errors="replace")[-2000:]
                                for p in self.logs.glob("*.log"))
            return (set(self.workers) <= set(self.live_workers())
                    and all(b"pulp2ng worker ready" in self.log_bytes(n) for n in self.workers))
        wait_until("the cluster to start", ready, timeout, 0.2)

    def stop(self) -> None:
        self.net.destroy()
