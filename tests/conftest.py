"""Session fixtures: one real database server, stacks built on it, and tool requirements."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# In-process platforms (unit tests) load the test plugin too; a user's instance never does.
os.environ.setdefault("PULP2NG_TEST_PLUGINS", "1")

from pulp2ng.embedded import EmbeddedDatabase  # noqa: E402
from tests.stack import Stack, port_open  # noqa: E402


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require_tool(name: str) -> str:
    """The path of ``name``; skips the test without it, except in CI where it must exist."""
    path = shutil.which(name)
    if path is None:
        if in_ci():
            pytest.fail(f"{name} is required in CI (.ci/run installs it)")
        pytest.skip(f"{name} is not installed")
    return path


def require_rabbitmq() -> str:
    if not port_open("127.0.0.1", 5672):
        if in_ci():
            pytest.fail("RabbitMQ must answer on 127.0.0.1:5672 in CI")
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
    return "amqp://guest:guest@127.0.0.1:5672//"


#: The Redis database the tests' brokers use: not 0, so a developer's own data is not mixed
#: in; each stack's queue name is unique, so stacks sharing it do not take each other's tasks.
REDIS_TEST_DB = 13


def require_redis() -> str:
    if not port_open("127.0.0.1", 6379):
        if in_ci():
            pytest.fail("Redis must answer on 127.0.0.1:6379 in CI (.ci/run starts it)")
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    return f"redis://127.0.0.1:6379/{REDIS_TEST_DB}"


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    """The embedded SecantusDB server, or $PULP2NG_TEST_DATABASE_URL (a real MongoDB)."""
    url = os.environ.get("PULP2NG_TEST_DATABASE_URL")
    if url:
        yield url
        return
    db = EmbeddedDatabase(tmp_path_factory.mktemp("db"),
                          log_file=tmp_path_factory.getbasetemp() / "db.log").start()
    yield db.url
    db.stop()


@pytest.fixture(scope="session")
def stack(database, tmp_path_factory):
    """A shared stack with two workers and a scheduler, for tests that only use the API."""
    s = Stack(tmp_path_factory.mktemp("stack"), database, workers=2, scheduler=True)
    yield s
    s.stop()


@pytest.fixture
def api(stack):
    return stack.api


@pytest.fixture
def make_stack(database, tmp_path_factory):
    """Build a private stack (for tests that kill workers or need another broker)."""
    stacks = []

    def factory(**kwargs) -> Stack:
        s = Stack(tmp_path_factory.mktemp("stack"), database, **kwargs)
        stacks.append(s)
        return s

    yield factory
    for s in stacks:
        s.stop()


@pytest.fixture
def repo_factory(api):
    """Create repositories with unique ids and delete them afterwards."""
    import uuid

    created = []

    def make(**body) -> dict:
        body.setdefault("id", f"repo-{uuid.uuid4().hex[:8]}")
        response = api.post("/pulp/api/v2/repositories/", json=body)
        assert response.status_code == 201, response.text
        created.append(body["id"])
        return response.json()

    yield make
    for repo_id in created:
        api.delete(f"/pulp/api/v2/repositories/{repo_id}/")


FIXTURES = Path(__file__).resolve().parent / "fixtures"


def start_static_server(tmp_path, root, *args):
    """Start ``tests/fixtures/serve_static.py`` on a free 127.0.0.1 port.

    Returns ``(process, base_url, access_log_path)``; the caller stops the process by PID."""
    import subprocess
    import sys
    import time
    import uuid

    tag = uuid.uuid4().hex[:8]
    port_file = tmp_path / f"port-{tag}"
    log = tmp_path / f"access-{tag}.log"
    proc = subprocess.Popen(
        [sys.executable, str(FIXTURES / "serve_static.py"), str(root), "--port", "0",
         "--port-file", str(port_file), "--access-log", str(log), *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not (port_file.exists() and port_file.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("server did not start")
        time.sleep(0.02)
    scheme = "https" if "--tls-cert" in args else "http"
    return proc, f"{scheme}://127.0.0.1:{port_file.read_text().strip()}/", log


@pytest.fixture
def serve(tmp_path):
    """Serve a directory over HTTP on 127.0.0.1 with ``tests/fixtures/serve_static.py``.

    ``serve(root, "--fail", "x=404")`` returns ``(base_url, access_log_path)``; every server
    is stopped by PID at the end of the test.
    """
    procs = []

    def start(root, *args):
        proc, url, log = start_static_server(tmp_path, root, *args)
        procs.append(proc)
        return url, log

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(5)


@pytest.fixture(scope="session")
def rpm_upstream(tmp_path_factory):
    """The default yum repository of ``tests/fixtures/make_rpm_repo.py``, built once a
    session and served over HTTP for the whole session.

    Yields ``{"path", "url", "file_url", "packages"}`` (``packages``: the file names). Its
    packages are shared by every test that syncs it (units are global): a test that needs
    packages nobody stored yet builds its own repository with a unique ``prefix``."""
    require_tool("rpmbuild")
    require_tool("createrepo_c")
    from tests.fixtures.make_rpm_repo import make_repo

    root = tmp_path_factory.mktemp("rpm-upstream")
    made = make_repo(root / "repo")
    proc, url, _ = start_static_server(root, root / "repo")
    yield {"path": root / "repo", "url": url, "file_url": (root / "repo").as_uri() + "/",
           "packages": sorted(p.name for p in made)}
    proc.terminate()
    proc.wait(5)
