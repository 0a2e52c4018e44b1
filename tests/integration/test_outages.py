"""Database and broker outages are answered fast: 503 with PLP0080, never a 500 or a long wait.

Real processes only: a stack on its own embedded database that is SIGKILLed and restarted on
the same port and data directory, and a stack whose RabbitMQ connection goes through a loopback
TCP proxy that is cut (the machine's RabbitMQ itself is never touched).
"""

from __future__ import annotations

import time
import uuid

import pymongo
import requests

from pulp2ng.embedded import EmbeddedDatabase, free_port
from tests.conftest import require_rabbitmq
from tests.fixtures.tcp_proxy import TcpProxy
from tests.stack import Stack

V2 = "/pulp/api/v2"


def status(stack) -> tuple[float, dict]:
    started = time.monotonic()
    response = requests.get(f"{stack.api.base}{V2}/status/", timeout=30)
    assert response.status_code == 200, response.text
    return time.monotonic() - started, response.json()


def wait_connected(stack, connected: bool, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while status(stack)[1]["database_connection"]["connected"] != connected:
        assert time.monotonic() < deadline, f"database never reported connected={connected}"
        time.sleep(0.1)


def timed(api, method: str, path: str, **kwargs) -> tuple[float, requests.Response]:
    started = time.monotonic()
    response = api.request(method, path, **kwargs)
    return time.monotonic() - started, response


def assert_unavailable_or_normal(elapsed, response, service="database") -> None:
    where = f"{response.request.method} {response.request.url}"
    assert elapsed < 2, f"{where} took {elapsed:.2f} s"
    assert response.status_code != 500, f"{where}: {response.text}"
    if response.status_code == 503:
        body = response.json()
        assert body["http_status"] == 503
        assert body["error"]["code"] == "PLP0080", body
        assert body["error"]["data"]["service"] == service, body
        assert response.headers.get("Retry-After")


def test_database_outage_answers_fast_and_recovers(tmp_path):
    port = free_port()
    data = tmp_path / "db"
    db = EmbeddedDatabase(data, port, log_file=tmp_path / "db.log").start()
    stack = None
    try:
        stack = Stack(tmp_path / "stack", db.url, workers=1)
        api = stack.api
        repo = f"repo-{uuid.uuid4().hex[:8]}"
        assert api.post(f"{V2}/repositories/", json={"id": repo}).status_code == 201

        db.process.kill()  # SIGKILL: no goodbye to the clients
        db.process.wait()
        calls = [
            ("GET", f"{V2}/repositories/", {}),
            ("GET", f"{V2}/repositories/{repo}/", {}),
            ("POST", f"{V2}/repositories/", {"json": {"id": f"x-{uuid.uuid4().hex[:6]}"}}),
            ("POST", f"{V2}/repositories/search/", {"json": {"criteria": {}}}),
            ("DELETE", f"{V2}/repositories/{repo}/", {}),
            ("GET", f"{V2}/tasks/", {}),
            ("GET", f"{V2}/tasks/{uuid.uuid4()}/", {}),
            ("GET", f"{V2}/plugins/types/", {}),
        ]
        # Straight after the kill (the driver may not know yet) and for a few seconds after.
        seen_503 = 0
        until = time.monotonic() + 4
        while time.monotonic() < until:
            for method, path, kwargs in calls:
                elapsed, response = timed(api, method, path, **kwargs)
                assert_unavailable_or_normal(elapsed, response)
                seen_503 += response.status_code == 503
        assert seen_503 > 0
        for _ in range(5):
            elapsed, body = status(stack)
            assert elapsed < 1, f"status took {elapsed:.2f} s"
            assert body["database_connection"]["connected"] is False

        db = EmbeddedDatabase(data, port, log_file=tmp_path / "db.log").start()
        wait_connected(stack, True, timeout=15)
        # (SecantusDB may lose its last writes to a SIGKILL: the repo may or may not be back.)
        assert api.get(f"{V2}/repositories/{repo}/").status_code in (200, 404)
        other = f"repo-{uuid.uuid4().hex[:8]}"
        assert api.post(f"{V2}/repositories/", json={"id": other}).status_code == 201
        reports = api.wait_report(api.delete(f"{V2}/repositories/{other}/"), timeout=60)
        assert [r["state"] for r in reports] == ["finished"], reports
    finally:
        if stack is not None:
            stack.stop()
        db.stop()


def broker_behind_proxy(make_stack, proxy, count: int):
    """A one-worker stack whose broker is the machine's RabbitMQ behind ``proxy``, and
    ``count`` new repositories; the first is deleted through a task, so the API holds a
    pooled broker connection when the test cuts the link."""
    require_rabbitmq()
    stack = make_stack(workers=1, broker_url=f"amqp://guest:guest@127.0.0.1:{proxy.port}//")
    api = stack.api
    repos = [f"repo-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    for repo in repos:
        assert api.post(f"{V2}/repositories/", json={"id": repo}).status_code == 201
    reports = api.wait_report(api.delete(f"{V2}/repositories/{repos[0]}/"))
    assert reports[0]["state"] == "finished"
    return stack, repos[1:]


def test_broker_outage_dispatch_answers_503_and_leaves_nothing(make_stack, database):
    proxy = TcpProxy("127.0.0.1", 5672).start()
    try:
        stack, repos = broker_behind_proxy(make_stack, proxy, 3)
        api = stack.api
        proxy.cut()
        for repo in repos:
            elapsed, response = timed(api, "DELETE", f"{V2}/repositories/{repo}/")
            assert response.status_code == 503, response.text
            assert_unavailable_or_normal(elapsed, response, service="broker")
            assert api.get(f"{V2}/repositories/{repo}/").status_code == 200
        db = pymongo.MongoClient(database)[stack.name]
        assert db.task_status.count_documents({"state": "waiting"}) == 0
        assert db.reserved_resources.count_documents({}) == 0

        proxy.resume()
        for repo in repos:
            reports = api.wait_report(api.delete(f"{V2}/repositories/{repo}/"), timeout=90)
            assert reports[0]["state"] == "finished", reports
    finally:
        proxy.stop()


def test_a_silent_broker_link_answers_503_within_a_bounded_time(make_stack, database):
    """A cut link drops packets without a reset: the publisher confirm and the reconnects are
    bounded by ``[broker] timeout`` (3 s), three tries in all, and nothing is left queued."""
    proxy = TcpProxy("127.0.0.1", 5672).start()
    try:
        stack, (repo,) = broker_behind_proxy(make_stack, proxy, 2)
        api = stack.api
        proxy.stall()
        elapsed, response = timed(api, "DELETE", f"{V2}/repositories/{repo}/")
        print(f"[outages] a dispatch behind a silent broker link answered "
              f"{response.status_code} after {elapsed:.1f} s")
        assert response.status_code == 503, response.text
        assert response.json()["error"]["data"]["service"] == "broker"
        assert elapsed < 20, elapsed
        db = pymongo.MongoClient(database)[stack.name]
        assert db.task_status.count_documents({"tags": f"pulp:repository:{repo}"}) == 0
        assert db.reserved_resources.count_documents({}) == 0

        proxy.resume()
        reports = api.wait_report(api.delete(f"{V2}/repositories/{repo}/"), timeout=90)
        assert reports[0]["state"] == "finished", reports
    finally:
        proxy.stop()
