"""Event listeners (§1.12) against a real stack and real receivers: an HTTP server on
127.0.0.1, an SMTP server (aiosmtpd) and a RabbitMQ consumer.

One private stack for the module, since its ``[email]`` section must name the test's SMTP
server before the workers start. Listeners are global, so every test deletes its own and
each receiver only looks at the events of the repositories it made.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pymongo
import pytest

from tests.conftest import require_rabbitmq
from tests.integration.test_iso import iso_repo, unique_upstream
from tests.stack import Stack, free_port

API = "/pulp/api/v2"
PASSWORD = "n0tify-s3cret"


class Mailbox:
    """aiosmtpd handler keeping every message it is handed."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture(scope="module")
def mailbox():
    from aiosmtpd.controller import Controller

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


@pytest.fixture(scope="module")
def estack(database, tmp_path_factory, mailbox):
    s = Stack(tmp_path_factory.mktemp("events"), database, workers=2, scheduler=True,
              extra_env={"PULP2NG_EMAIL_HOST": "127.0.0.1",
                         "PULP2NG_EMAIL_PORT": str(mailbox.port),
                         "PULP2NG_EMAIL_FROM": "pulp@test.example"})
    yield s
    s.stop()


@pytest.fixture
def api(estack):
    return estack.api


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST; the first ``fail`` answer 500."""

    def __init__(self, fail: int = 0):
        self.requests: list[dict] = []  # every request, failed ones included
        self.fail = fail
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                failing = receiver.fail > 0
                receiver.fail -= 1 if failing else 0
                receiver.requests.append({"body": body, "status": 500 if failing else 200,
                                          "authorization": self.headers.get("Authorization")})
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self, repo_id: str | None = None, event_type: str | None = None) -> list:
        """Bodies answered 200, of ``repo_id``'s events (by payload or task tag)."""
        return [r["body"] for r in self.requests if r["status"] == 200
                and (event_type is None or r["body"]["event_type"] == event_type)
                and (repo_id is None or _about(r["body"], repo_id))]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _about(body: dict, repo_id: str) -> bool:
    payload = body.get("payload") or {}
    tags = (body.get("call_report") or {}).get("tags") or payload.get("tags") or []
    return payload.get("repo_id") == repo_id or f"pulp:repository:{repo_id}" in tags


@pytest.fixture
def receiver():
    made = []

    def make(fail: int = 0) -> Receiver:
        made.append(Receiver(fail))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def listener(api):
    """Create listeners through the API; delete them after the test."""
    created = []

    def make(**body) -> dict:
        response = api.post(f"{API}/events/", json=body)
        assert response.status_code == 201, response.text
        created.append(response.json()["id"])
        return response.json()

    yield make
    for listener_id in created:
        api.delete(f"{API}/events/{listener_id}/")


def harness_repo(api, **config) -> str:
    repo_id = f"ev-{uuid.uuid4().hex[:8]}"
    response = api.post(f"{API}/repositories/", json={
        "id": repo_id, "importer_type_id": "harness_importer",
        "importer_config": {"num_units": 1, "prefix": repo_id, **config}})
    assert response.status_code == 201, response.text
    return repo_id


def wait_for(predicate, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# -- CRUD and validation ----------------------------------------------------------------------


def test_listener_crud_shapes(api, listener):
    created = api.post(f"{API}/events/", json={
        "notifier_type_id": "http", "notifier_config": {"url": "http://127.0.0.1:9/x"},
        "event_types": ["repo.sync.start", "repo.publish.finish"]})
    assert created.status_code == 201, created.text
    doc = created.json()
    assert created.headers["Location"] == doc["_href"] == f"{API}/events/{doc['id']}/"
    assert doc["_id"] == {"$oid": doc["id"]}
    assert set(doc) == {"_href", "_id", "id", "notifier_type_id", "notifier_config",
                        "event_types", "last_delivery"}
    assert doc["last_delivery"] is None
    href = doc["_href"]
    assert doc in api.get(f"{API}/events/").json()
    assert api.get(href).json() == doc
    updated = api.put(href, json={"event_types": ["*"]})
    assert updated.status_code == 200, updated.text
    assert updated.json()["event_types"] == ["*"]
    assert updated.json()["notifier_config"] == {"url": "http://127.0.0.1:9/x"}
    deleted = api.delete(href)
    assert deleted.status_code == 200 and deleted.json() is None
    for method in ("GET", "PUT", "DELETE"):
        missing = api.request(method, href, json={} if method == "PUT" else None)
        assert missing.status_code == 404, (method, missing.text)
        assert missing.json()["error"]["code"] == "PLP0009"


@pytest.mark.parametrize("body, code, names", [
    ({"notifier_type_id": "pigeon", "event_types": ["*"]}, "PLP1010", ["notifier_type_id"]),
    ({"notifier_type_id": "http", "notifier_config": {"url": "http://x/"},
      "event_types": ["repo.sync.middle"]}, "PLP1010", ["event_types"]),
    ({"notifier_type_id": "http", "notifier_config": {"url": "http://x/"},
      "event_types": []}, "PLP1010", ["event_types"]),
    ({"notifier_type_id": "http", "notifier_config": {}, "event_types": ["*"]},
     "PLP1010", ["notifier_config"]),
    ({"notifier_type_id": "email", "notifier_config": {"subject": "s"},
      "event_types": ["*"]}, "PLP1010", ["notifier_config"]),
    ({"notifier_type_id": "http", "notifier_config": {"url": "http://x/"},
      "event_types": ["*"], "colour": "red"}, "PLP1005", ["colour"]),
    ({"notifier_type_id": "http", "notifier_config": {"url": "http://x/"}},
     "PLP1004", ["event_types"]),
    ({"notifier_type_id": "http", "notifier_config": {"url": "http://x/"},
      "event_types": "*"}, "PLP1010", ["event_types"]),
])
def test_bad_listener_bodies_are_400(api, body, code, names):
    response = api.post(f"{API}/events/", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["error"]["code"] == code, error
    key = {"PLP1004": "missing_property_names",
           "PLP1005": "unsupported_property_names"}.get(code, "property_names")
    assert error[key] == names


def test_bad_updates_are_400(api, listener):
    doc = listener(notifier_type_id="http", notifier_config={"url": "http://127.0.0.1:9/"},
                   event_types=["task.error"])
    for body, names in (({"event_types": ["nope"]}, ["event_types"]),
                        ({"notifier_config": {"url": None}}, ["notifier_config"])):
        response = api.put(doc["_href"], json=body)
        assert response.status_code == 400, response.text
        assert response.json()["property_names"] == names
    response = api.put(doc["_href"], json={"notifier_type_id": "email"})
    assert response.status_code == 400
    assert api.get(doc["_href"]).json() == doc


# -- http -------------------------------------------------------------------------------------


def test_http_listener_gets_sync_start_and_finish(api, listener, receiver, serve, tmp_path):
    hook = receiver()
    doc = listener(notifier_type_id="http", notifier_config={"url": hook.url},
                   event_types=["repo.sync.start", "repo.sync.finish"])
    unique_upstream(tmp_path / "up", count=2)
    feed, _ = serve(tmp_path / "up")
    repo_id = iso_repo(api, feed)
    sync_report = api.sync(repo_id)[0]
    assert sync_report["state"] == "finished"
    wait_for(lambda: len(hook.accepted(repo_id)) >= 2, what="two sync events")
    # Deliveries are independent jobs: take each by its type, not by arrival.
    got = {b["event_type"]: b for b in hook.accepted(repo_id)}
    start, finish = got["repo.sync.start"], got["repo.sync.finish"]
    assert start["payload"] == {"repo_id": repo_id}
    assert start["call_report"]["task_id"] == sync_report["task_id"]
    assert start["call_report"]["state"] == "running"
    assert f"pulp:repository:{repo_id}" in start["call_report"]["tags"]
    assert finish["event_type"] == "repo.sync.finish"
    history = api.get(f"{API}/repositories/{repo_id}/history/sync/").json()
    assert finish["payload"] == history[0]
    assert finish["payload"]["result"] == "success" and finish["payload"]["added_count"] == 2
    assert finish["call_report"]["task_id"] == sync_report["task_id"]
    # Publish events were not asked for: the auto-publish sent nothing.
    time.sleep(1)
    assert sorted(b["event_type"] for b in hook.accepted(repo_id)) == [
        "repo.sync.finish", "repo.sync.start"]
    last = wait_for(lambda: api.get(doc["_href"]).json()["last_delivery"], what="status")
    assert last["status"] == "ok" and last["error"] is None
    assert last["event_type"] in ("repo.sync.start", "repo.sync.finish")


def test_publish_events_carry_the_publish_result(api, listener, receiver):
    hook = receiver()
    listener(notifier_type_id="http", notifier_config={"url": hook.url},
             event_types=["repo.publish.start", "repo.publish.finish"])
    repo_id = f"ev-{uuid.uuid4().hex[:8]}"
    assert api.post(f"{API}/repositories/", json={
        "id": repo_id, "importer_type_id": "harness_importer",
        "importer_config": {"num_units": 1, "prefix": repo_id},
        "distributors": [{"distributor_type_id": "harness_distributor",
                          "distributor_id": "d", "auto_publish": True}]}).status_code == 201
    reports = api.sync(repo_id)
    assert [r["state"] for r in reports] == ["finished", "finished"]
    wait_for(lambda: len(hook.accepted(repo_id)) >= 2, what="two publish events")
    got = {b["event_type"]: b for b in hook.accepted(repo_id)}
    start, finish = got["repo.publish.start"], got["repo.publish.finish"]
    assert start["payload"] == {"repo_id": repo_id, "distributor_id": "d"}
    history = api.get(f"{API}/repositories/{repo_id}/history/publish/d/").json()
    assert finish["event_type"] == "repo.publish.finish"
    assert finish["payload"] == history[0] and finish["payload"]["result"] == "success"
    assert finish["call_report"]["task_id"] == reports[1]["task_id"]


def test_a_failing_receiver_gets_the_event_once_after_retries(api, listener, receiver):
    hook = receiver(fail=2)
    doc = listener(notifier_type_id="http", notifier_config={"url": hook.url},
                   event_types=["repo.sync.start"])
    repo_id = harness_repo(api)
    started = time.monotonic()
    assert api.sync(repo_id)[0]["state"] == "finished"  # the task does not wait for it
    wait_for(lambda: hook.accepted(repo_id), timeout=30, what="the retried event")
    assert time.monotonic() - started >= 2.5  # back-off: 1 s, then 2 s
    time.sleep(2)
    mine = [r for r in hook.requests if _about(r["body"], repo_id)]
    assert [r["status"] for r in mine] == [500, 500, 200]
    assert len(hook.accepted(repo_id)) == 1
    last = api.get(doc["_href"]).json()["last_delivery"]
    assert last["status"] == "ok" and last["attempts"] == 3 and last["error"] is None


def test_an_unreachable_receiver_shows_in_last_delivery(api, listener):
    url = f"http://127.0.0.1:{free_port()}/nobody"
    doc = listener(notifier_type_id="http", notifier_config={"url": url},
                   event_types=["repo.sync.start"])
    repo_id = harness_repo(api)
    assert api.sync(repo_id)[0]["state"] == "finished"
    last = wait_for(lambda: api.get(doc["_href"]).json()["last_delivery"], what="a try")
    assert last["status"] == "retrying" and "ConnectionError" in last["error"]


def test_basic_auth_password_is_masked_and_sealed(api, listener, receiver, estack, database):
    hook = receiver()
    doc = listener(notifier_type_id="http",
                   notifier_config={"url": hook.url, "username": "bob", "password": PASSWORD},
                   event_types=["repo.sync.start"])
    assert doc["notifier_config"] == {"url": hook.url, "username": "bob", "password": "*****"}
    assert api.get(doc["_href"]).json()["notifier_config"]["password"] == "*****"
    assert PASSWORD not in api.get(f"{API}/events/").text
    stored = pymongo.MongoClient(database)[estack.name]["event_listeners"].find_one(
        {"_id": doc["id"]})
    assert PASSWORD not in json.dumps(stored, default=str)
    assert stored["notifier_config"]["password"].startswith("enc:v1:")
    # Writing the masked config back keeps the stored password.
    response = api.put(doc["_href"], json={"notifier_config": api.get(doc["_href"]).json()[
        "notifier_config"]})
    assert response.status_code == 200, response.text
    assert response.json()["notifier_config"]["password"] == "*****"
    repo_id = harness_repo(api)
    api.sync(repo_id)
    wait_for(lambda: hook.accepted(repo_id), what="the authenticated event")
    import base64

    expected = "Basic " + base64.b64encode(f"bob:{PASSWORD}".encode()).decode()
    assert hook.requests[-1]["authorization"] == expected


# -- task events ------------------------------------------------------------------------------


def test_a_failing_sync_emits_task_error(api, listener, receiver):
    hook = receiver()
    listener(notifier_type_id="http", notifier_config={"url": hook.url},
             event_types=["task.error"])
    repo_id = harness_repo(api)
    report = api.sync(repo_id, fail=True)[0]
    assert report["state"] == "error"
    event = wait_for(lambda: hook.accepted(repo_id), what="task.error")[0]
    assert event["event_type"] == "task.error"
    assert event["payload"]["task_id"] == report["task_id"]
    assert event["payload"]["state"] == "error"
    assert set(event["payload"]["tags"]) == {f"pulp:repository:{repo_id}", "pulp:action:sync"}
    assert event["payload"]["error"]["description"] == "the harness was told to fail"
    assert event["call_report"]["state"] == "error"
    assert event["call_report"]["task_id"] == report["task_id"]
    api.sync(repo_id)  # a successful task sends no task.error
    time.sleep(1.5)
    assert len(hook.accepted(repo_id)) == 1


def test_task_finish_once_per_task_and_deliveries_are_not_tasks(api, listener, receiver):
    hook = receiver()
    listener(notifier_type_id="http", notifier_config={"url": hook.url}, event_types=["*"])
    repo_id = harness_repo(api)
    before = {t["task_id"] for t in api.get(f"{API}/tasks/").json()}
    report = api.sync(repo_id)[0]
    wait_for(lambda: hook.accepted(repo_id, "task.finish"), what="task.finish")
    time.sleep(2)  # any looping delivery would show by now
    finishes = hook.accepted(repo_id, "task.finish")
    assert len(finishes) == 1
    assert finishes[0]["payload"]["task_id"] == report["task_id"]
    assert finishes[0]["payload"]["state"] == "finished"
    assert sorted(b["event_type"] for b in hook.accepted(repo_id)) == [
        "repo.sync.finish", "repo.sync.start", "task.finish"]
    new = {t["task_id"] for t in api.get(f"{API}/tasks/").json()} - before
    assert new == {report["task_id"]}  # delivering made no task report
    # Every task.finish the receiver got is about a task that exists: none about itself.
    known = {t["task_id"] for t in api.get(f"{API}/tasks/").json()}
    assert {b["payload"]["task_id"] for b in hook.accepted(None, "task.finish")} <= known


# -- email and amqp ---------------------------------------------------------------------------


def test_email_listener_mails_the_event(api, listener, mailbox):
    doc = listener(notifier_type_id="email",
                   notifier_config={"subject": "pulp news", "addresses": ["ops@example.com"]},
                   event_types=["repo.sync.finish"])
    repo_id = harness_repo(api)
    assert api.sync(repo_id)[0]["state"] == "finished"

    def mine():
        for rcpts, message in mailbox.messages:
            body = json.loads(message.get_payload(decode=True))
            if body["payload"].get("repo_id") == repo_id:
                return rcpts, message, body
        return None

    rcpts, message, body = wait_for(mine, what="the e-mail")
    assert rcpts == ["ops@example.com"]
    assert message["Subject"] == "pulp news" and message["From"] == "pulp@test.example"
    assert body["event_type"] == "repo.sync.finish" and body["payload"]["result"] == "success"
    last = wait_for(lambda: api.get(doc["_href"]).json()["last_delivery"], what="status")
    assert last["status"] == "ok"


def test_amqp_listener_publishes_to_a_topic_exchange(api, listener):
    url = require_rabbitmq()
    from kombu import Connection, Exchange, Queue

    exchange_name = f"pulp2ng.events.test-{uuid.uuid4().hex[:6]}"
    exchange = Exchange(exchange_name, type="topic", durable=True)
    with Connection(url) as conn:
        queue = Queue(f"q-{uuid.uuid4().hex[:6]}", exchange, routing_key="repo.sync.#",
                      exclusive=True, auto_delete=True)
        queue = queue(conn.default_channel)
        queue.declare()
        listener(notifier_type_id="amqp",
                 notifier_config={"url": url, "exchange": exchange_name},
                 event_types=["repo.sync.start", "repo.sync.finish", "task.finish"])
        repo_id = harness_repo(api)
        assert api.sync(repo_id)[0]["state"] == "finished"
        got = []

        def two():
            message = queue.get(no_ack=True)
            if message is not None:
                got.append((message.delivery_info["routing_key"], message.decode()))
            return [g for g in got if _about(g[1], repo_id)] if len(got) >= 2 else None

        received = wait_for(two, what="two AMQP messages")
    # task.finish is routed as such: the queue bound to repo.sync.# does not get it.
    # Deliveries are independent jobs: a fast sync's finish may overtake its start.
    by_key = dict(received)
    assert sorted(by_key) == ["repo.sync.finish", "repo.sync.start"]
    assert by_key["repo.sync.finish"]["payload"]["repo_id"] == repo_id
    assert by_key["repo.sync.finish"]["payload"]["result"] == "success"
