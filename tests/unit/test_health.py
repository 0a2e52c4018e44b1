"""``pulp2ng health``: exit 0 exactly when the role works (issue 22, service managers).

A real embedded database for the database and heartbeat checks; a small HTTP server in a
thread stands for the API's status endpoint.
"""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest

from pulp2ng.cli import build_parser, main
from pulp2ng.db.store import connect
from pulp2ng.config import load_settings
from pulp2ng.embedded import EmbeddedDatabase, free_port
from pulp2ng.health import Unhealthy, process_role


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    root = tmp_path_factory.mktemp("healthdb")
    server = EmbeddedDatabase(root / "db", free_port(), log_file=root / "db.log").start()
    yield server
    server.stop()


@pytest.fixture
def env(monkeypatch, tmp_path, db):
    monkeypatch.setenv("PULP2NG_DATABASE_URL", db.url)
    monkeypatch.setenv("PULP2NG_DATABASE_NAME", f"h{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("PULP2NG_STORAGE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PULP2NG_TASKS_WORKER_TIMEOUT", "3")
    monkeypatch.delenv("PULP2NG_CONFIG", raising=False)


def health(*args) -> int:
    return main(["health", *args])


def test_db_is_healthy_when_it_answers(env, monkeypatch, capsys):
    assert health("db") == 0
    monkeypatch.setenv("PULP2NG_DATABASE_URL",
                       f"mongodb://127.0.0.1:{free_port()}/?directConnection=true")
    started = time.monotonic()
    assert health("db", "--timeout", "1") == 1
    assert time.monotonic() - started < 5  # bounded by --timeout
    assert "database does not answer" in capsys.readouterr().err


def test_worker_is_healthy_while_its_heartbeat_is_fresh(env, capsys):
    store = connect(load_settings())
    store.record_heartbeat("worker-1@h", "worker", {})
    assert health("worker", "--name", "worker-1@h") == 0
    assert health("worker", "--name", "worker-2@h") == 1  # never beat
    assert "no heartbeat" in capsys.readouterr().err
    time.sleep(3.5)  # older than worker_timeout (3 s) by the database's clock
    assert health("worker", "--name", "worker-1@h") == 1
    assert "last beat" in capsys.readouterr().err
    assert health("worker") == 1  # which worker?
    store.record_heartbeat(f"scheduler@{socket.gethostname()}", "scheduler", {})
    assert health("scheduler") == 0


def test_wait_keeps_checking_until_healthy(env):
    store = connect(load_settings())
    later = threading.Timer(1.5, store.record_heartbeat, ("worker-late@h", "worker", {}))
    later.start()
    try:
        assert health("worker", "--name", "worker-late@h", "--wait", "10") == 0
    finally:
        later.cancel()


def status_server(body: dict | None, code: int = 200):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            payload = json.dumps(body).encode() if body is not None else b"<html>"
            self.send_response(code)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/pulp/api/v2/status/"


@pytest.mark.parametrize("body, code, healthy", [
    ({"database_connection": {"connected": True}}, 200, True),
    ({"database_connection": {"connected": False}}, 200, False),
    ({"database_connection": {"connected": True}}, 503, False),
    (None, 200, False),
])
def test_api_is_healthy_when_its_status_sees_the_database(env, body, code, healthy):
    server, url = status_server(body, code)
    try:
        assert (health("api", "--url", url) == 0) is healthy
    finally:
        server.shutdown()


def test_api_that_does_not_answer_is_unhealthy(env, monkeypatch, capsys):
    monkeypatch.setenv("PULP2NG_SERVER_PORT", str(free_port()))
    assert health("api", "--timeout", "1") == 1  # default URL from [server]
    assert "API does not answer" in capsys.readouterr().err


def test_container_checks_the_role_its_process_runs(tmp_path):
    def role_of(*argv):
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)",
                                 "/opt/pulp2ng/bin/pulp2ng", *argv])
        try:
            deadline = time.monotonic() + 5
            while True:  # until the child has exec'd the interpreter with these arguments
                try:
                    return process_role(proc.pid, build_parser())
                except Unhealthy:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
        finally:
            proc.kill()
            proc.wait()

    host = socket.gethostname()
    assert role_of("worker", "--name", "worker-3@h") == ("worker", "worker-3@h")
    assert role_of("--config", "/x.conf", "scheduler") == ("scheduler", f"scheduler@{host}")
    assert role_of("run") == ("api", None)
    assert role_of("db", "--host", "0.0.0.0") == ("db", None)
    worker, name = role_of("worker")
    assert worker == "worker" and name.startswith("worker-") and name.endswith(f"@{host}")
    with pytest.raises(Unhealthy):
        process_role(2**22 + 7, build_parser())  # no such process
