"""Fixtures for docker tests: real registries (docker-registry + token server) and a stub server.

Every process started here is stopped by PID in a finalizer; ports are random.
"""
from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import require_tool  # noqa: F401  (re-exported for the tests)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
USER, PASSWORD = "alice", "s3cret"


def require_fixture_scripts() -> Path:
    """Return the shared fixtures folder; skip (fail on CI) when it is absent."""
    if (FIXTURES / "start_registry.sh").exists():
        return FIXTURES
    reason = f"fixture scripts not found in {FIXTURES} (set PULP2NG_FIXTURES)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    """Pick a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (exited, not yet reaped by its new parent) is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def _stop_pid(pid: int) -> None:
    """Terminate one process by PID and wait (up to 5 s) until it is gone, then SIGKILL."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(100):
        if not _alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run(cmd: list[str], timeout: float = 120) -> str:
    """Run a command; raise with its output when it fails."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode:
        raise AssertionError(f"{cmd} failed: {proc.stdout}\n{proc.stderr}")
    return proc.stdout


class Registry:
    """A running docker-registry: ``url``, ``dir`` (config, data, log) and ``pid``."""

    def __init__(self, directory: Path, port: int):
        self.dir = directory
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.host = f"127.0.0.1:{port}"
        self.pid = int((directory / "registry.pid").read_text())

    def blob_file(self, digest: str) -> Path:
        """The storage file of a blob (distribution's filesystem layout)."""
        hexd = digest.split(":", 1)[1]
        return self.dir / "data/docker/registry/v2/blobs/sha256" / hexd[:2] / hexd / "data"


def start_registry(request, directory: Path, *mode: str, data_from: Path | None = None):
    """Start docker-registry via start_registry.sh; optionally share another one's storage."""
    require_tool("docker-registry")
    fx = require_fixture_scripts()
    directory.mkdir(parents=True)
    if data_from is not None:
        (directory / "data").symlink_to(data_from / "data")
    port = free_port()
    run(["bash", str(fx / "start_registry.sh"), str(directory), str(port), *mode])
    reg = Registry(directory, port)
    request.addfinalizer(lambda: _stop_pid(reg.pid))
    return reg


def start_token_server(request, directory: Path, *extra: str):
    """Start registry_token_server.py; return (realm URL, cert path, log path)."""
    fx = require_fixture_scripts()
    require_tool("openssl")
    port_file, log = directory / "tok.port", directory / "tokens.log"
    proc = subprocess.Popen(
        [sys.executable, str(fx / "registry_token_server.py"), str(directory / "state"),
         "--port-file", str(port_file), "--log", str(log), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    request.addfinalizer(lambda: (proc.terminate(), proc.wait(10)))
    for _ in range(200):
        if port_file.exists():
            break
        if proc.poll() is not None:
            raise AssertionError(f"token server died: {proc.stderr.read()}")
        time.sleep(0.05)
    port = int(port_file.read_text())
    return f"http://127.0.0.1:{port}/token", directory / "state" / "token.crt", log


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    """The default Docker-typed fixture layout (v1, v2, latest, multi) and its index."""
    fx = require_fixture_scripts()
    out = tmp_path_factory.mktemp("imgs") / "layout"
    run([sys.executable, str(fx / "make_oci_images.py"), str(out)])
    return out


@pytest.fixture(scope="session")
def registry(request, tmp_path_factory, images):
    """An auth-less registry holding fixtures/app (Docker types) and fixtures/oci-img (OCI)."""
    fx = require_fixture_scripts()
    reg = start_registry(request, tmp_path_factory.mktemp("reg") / "noauth")
    run([sys.executable, str(fx / "make_oci_images.py"), str(images),
         "--push", f"{reg.url}/fixtures/app"])
    return reg


@pytest.fixture(scope="session")
def oci_registry(request, registry, tmp_path_factory):
    """``registry`` plus fixtures/oci-img:v1 and :multi pushed with skopeo from an OCI layout."""
    skopeo = require_tool("skopeo")
    fx = require_fixture_scripts()
    layout = tmp_path_factory.mktemp("imgs-oci") / "layout"
    run([sys.executable, str(fx / "make_oci_images.py"), str(layout), "--media-types", "oci"])
    dest = f"docker://{registry.host}/fixtures/oci-img"
    run([skopeo, "copy", "--dest-tls-verify=false", f"oci:{layout}:v1", f"{dest}:v1"])
    run([skopeo, "copy", "--all", "--dest-tls-verify=false", f"oci:{layout}:multi",
         f"{dest}:multi"])
    return registry, layout


@pytest.fixture(scope="session")
def token_registry(request, registry, tmp_path_factory):
    """A token-auth registry on the same storage; token server allows anonymous pull."""
    base = tmp_path_factory.mktemp("tokreg")
    realm, cert, log = start_token_server(request, base, "--user", f"{USER}:{PASSWORD}",
                                          "--anonymous-pull")
    reg = start_registry(request, base / "reg", "token", realm, str(cert), data_from=registry.dir)
    reg.token_log = log
    return reg


@pytest.fixture(scope="session")
def basic_registry(request, registry, tmp_path_factory):
    """A Basic-auth (htpasswd) registry on the same storage."""
    base = tmp_path_factory.mktemp("basicreg")
    return start_registry(request, base / "reg", "htpasswd", f"{USER}:{PASSWORD}",
                          data_from=registry.dir)


_NOT_FORWARDED = {"connection", "keep-alive", "transfer-encoding", "content-length",
                  "content-encoding", "date", "server"}


class StubRegistry:
    """An in-process HTTP server answering from ``routes``: path -> (status, headers, body).

    A route value may also be a callable taking the handler and returning that tuple. With
    ``upstream`` (a registry URL) a path without a route is forwarded there, which makes the
    stub a recording, fault-injecting front for a real registry. ``requests`` records
    ``(method, path, headers)`` of every request; :meth:`cut` breaks responses off.
    """

    def __init__(self, upstream: str | None = None):
        self.routes: dict = {}
        self.requests: list = []
        self.upstream = upstream
        self._cuts: dict[str, list[int]] = {}  # path -> [bytes sent, responses left to cut]
        self._lock = threading.Lock()
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                stub.requests.append(("GET", self.path, dict(self.headers)))
                status, headers, body = stub.answer(self)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(stub._cut_off(self.path, body))

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def answer(self, handler) -> tuple[int, dict, bytes]:
        """The route's answer, else upstream's, else a registry-style 404."""
        route = self.routes.get(handler.path)
        if route is not None:
            return route(handler) if callable(route) else route
        if self.upstream:
            return self._forward(handler)
        return (404, {"Content-Type": "application/json"},
                json.dumps({"errors": [{"code": "NOT_FOUND", "message": "no route"}]}).encode())

    def _forward(self, handler) -> tuple[int, dict, bytes]:
        """GET the same path upstream with the client's Accept and Authorization."""
        sent = {k: handler.headers.get(k) for k in ("Accept", "Authorization", "Range")}
        resp = requests.get(self.upstream + handler.path, headers=sent, timeout=30,
                            allow_redirects=False)
        kept = {k: v for k, v in resp.headers.items() if k.lower() not in _NOT_FORWARDED}
        return resp.status_code, kept, resp.content

    def cut(self, path: str, after: int, times: int = 1) -> None:
        """Break the next ``times`` answers for ``path`` off after ``after`` body bytes: the
        whole Content-Length is announced, then the connection closes (HTTP/1.0)."""
        self._cuts[path] = [after, times]

    def _cut_off(self, path: str, body: bytes) -> bytes:
        with self._lock:
            cut = self._cuts.get(path)
            if not cut or cut[1] == 0:
                return body
            cut[1] -= 1
            return body[:cut[0]]

    def gets(self, prefix: str) -> list[str]:
        """Paths of the GETs received so far that start with ``prefix``."""
        return [path for method, path, _ in self.requests
                if method == "GET" and path.startswith(prefix)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub():
    """A fresh :class:`StubRegistry`, shut down after the test."""
    server = StubRegistry()
    yield server
    server.close()
