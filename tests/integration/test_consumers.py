"""Consumers over HTTP and HTTPS against the real stack: registration with a certificate
that reaches only the consumer's own resources, bindings with agent requests (Pulp 2's
shapes, codes and tags), content actions, history, and the unbinding and rebinding that
repository and distributor changes cause."""

from __future__ import annotations

import uuid

import pytest
import requests

API = "/pulp/api/v2"


@pytest.fixture(scope="module")
def https_stack(make_stack_module):
    return make_stack_module(https=True, workers=1)


@pytest.fixture(scope="module")
def make_stack_module(database, tmp_path_factory):
    from tests.stack import Stack

    stacks = []

    def factory(**kwargs):
        s = Stack(tmp_path_factory.mktemp("stack"), database, **kwargs)
        stacks.append(s)
        return s

    yield factory
    for s in stacks:
        s.stop()


def register(api, consumer_id=None, **body):
    consumer_id = consumer_id or f"c-{uuid.uuid4().hex[:8]}"
    r = api.post(f"{API}/consumers/", json={"id": consumer_id, **body})
    assert r.status_code == 201, r.text
    return r


def iso_repo(api, repo_id=None, **config) -> str:
    repo_id = repo_id or f"r-{uuid.uuid4().hex[:8]}"
    r = api.post(f"{API}/repositories/", json={
        "id": repo_id, "importer_type_id": "iso_importer",
        "distributors": [{"distributor_type_id": "iso_distributor", "distributor_id": "d",
                          "distributor_config": config}]})
    assert r.status_code == 201, r.text
    return repo_id


def task_of(response) -> dict:
    assert response.status_code == 202, response.text
    (link,) = response.json()["spawned_tasks"]
    return link


def test_registration_shapes_and_codes(api):
    consumer_id = f"c-{uuid.uuid4().hex[:8]}"
    r = register(api, consumer_id, display_name="Web 1", notes={"rack": "a"})
    body = r.json()
    consumer = body["consumer"]
    assert r.headers["Location"] == consumer["_href"] == f"{API}/consumers/{consumer_id}/"
    assert consumer == {"_href": consumer["_href"], "_id": {"$oid": consumer_id},
                        "_ns": "consumers", "id": consumer_id, "display_name": "Web 1",
                        "description": None, "notes": {"rack": "a"}, "rsa_pub": None,
                        "capabilities": {}}
    assert "PRIVATE KEY-----" in body["certificate"]
    assert "BEGIN CERTIFICATE-----" in body["certificate"]
    assert "cert_token" not in str(api.get(f"{API}/consumers/").json())
    dup = api.post(f"{API}/consumers/", json={"id": consumer_id})
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "PLP0018"
    assert api.post(f"{API}/consumers/", json={"id": "bad id"}).status_code == 400
    assert api.post(f"{API}/consumers/", json={"id": "x", "colour": 1}).status_code == 400
    assert api.post(f"{API}/consumers/", json={}).json()["error"]["code"] == "PLP1004"
    r = api.put(f"{API}/consumers/{consumer_id}/",
                json={"delta": {"description": "d", "notes": {"rack": None, "row": "2"}}})
    assert r.status_code == 200
    assert r.json()["description"] == "d" and r.json()["notes"] == {"row": "2"}
    found = api.post(f"{API}/consumers/search/", json={
        "criteria": {"filters": {"id": consumer_id}}, "bindings": True}).json()
    assert [c["id"] for c in found] == [consumer_id] and found[0]["bindings"] == []
    # Listings and searches without fields carry every field but the certificate token.
    assert found[0]["description"] == "d" and found[0]["display_name"] == "Web 1"
    listed = [c for c in api.get(f"{API}/consumers/").json() if c["id"] == consumer_id]
    assert listed[0]["notes"] == {"row": "2"} and "cert_token" not in str(listed)
    only = api.post(f"{API}/consumers/search/", json={
        "criteria": {"filters": {"id": consumer_id}, "fields": ["notes", "cert_token"]}})
    assert only.status_code == 200 and "cert_token" not in str(only.json())
    assert api.delete(f"{API}/consumers/{consumer_id}/").json() is None
    missing = api.get(f"{API}/consumers/{consumer_id}/")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "PLP0009"


def test_bind_without_and_with_the_agent(api):
    consumer_id = register(api).json()["consumer"]["id"]
    repo_id = iso_repo(api)
    r = api.post(f"{API}/consumers/{consumer_id}/bindings/",
                 json={"repo_id": repo_id, "distributor_id": "d", "notify_agent": False})
    assert r.status_code == 200 and r.json()["spawned_tasks"] == []
    binding = r.json()["result"]
    assert binding["consumer_id"] == consumer_id and binding["repo_id"] == repo_id
    assert binding["type_id"] == "iso_distributor" and binding["deleted"] is False
    details = api.get(binding["_href"]).json()["details"]  # what the consumer is given
    assert details["url"].endswith(f"/{repo_id}/") and details["tls"] is False
    assert details["manifest_url"] == details["url"] + details["manifest_name"]
    r = api.delete(binding["_href"])
    assert r.status_code == 200 and api.get(binding["_href"]).status_code == 404

    r = api.post(f"{API}/consumers/{consumer_id}/bindings/",
                 json={"repo_id": repo_id, "distributor_id": "d"})
    link = task_of(r)
    task = api.get(link["_href"]).json()
    assert task["state"] == "waiting" and task["worker_name"] == "agent"
    assert sorted(task["tags"]) == sorted([
        f"pulp:consumer:{consumer_id}", f"pulp:repository:{repo_id}",
        "pulp:repository_distributor:d", "pulp:action:agent_bind"])
    (binding,) = api.get(f"{API}/consumers/{consumer_id}/bindings/{repo_id}/").json()
    assert binding["consumer_actions"][0]["id"] == link["task_id"]
    assert binding["consumer_actions"][0]["action"] == "bind"
    # Unbind: marked deleted until the agent confirms.
    unbind = task_of(api.delete(binding["_href"]))
    assert "pulp:action:agent_unbind" in api.get(unbind["_href"]).json()["tags"]
    assert api.get(binding["_href"]).json()["deleted"] is True
    # force: gone now.
    task_of(api.delete(binding["_href"], json={"force": True}))
    assert api.get(binding["_href"]).status_code == 404
    # A waiting agent request can be canceled like any waiting task.
    assert api.delete(link["_href"]).status_code == 200
    assert api.get(link["_href"]).json()["state"] == "canceled"
    events = [e["type"] for e in api.get(f"{API}/consumers/{consumer_id}/history/",
                                         params={"sort": "ascending"}).json()]
    assert events == ["consumer_registered", "repo_bound", "repo_unbound", "repo_bound",
                      "repo_unbound", "repo_unbound"]
    only = api.get(f"{API}/consumers/{consumer_id}/history/",
                   params={"event_type": "repo_bound", "limit": "1"}).json()
    assert [e["type"] for e in only] == ["repo_bound"]
    assert api.get(f"{API}/consumers/{consumer_id}/history/",
                   params={"event_type": "nope"}).status_code == 400


def test_bind_errors(api):
    consumer_id = register(api).json()["consumer"]["id"]
    repo_id = iso_repo(api)
    url = f"{API}/consumers/{consumer_id}/bindings/"
    assert api.post(url, json={"repo_id": repo_id}).json()["error"]["code"] == "PLP1004"
    assert api.post(url, json={"repo_id": "nope", "distributor_id": "d"}).status_code == 404
    assert api.post(url, json={"repo_id": repo_id, "distributor_id": "x"}).status_code == 404
    assert api.post(f"{API}/consumers/nobody/bindings/",
                    json={"repo_id": repo_id, "distributor_id": "d"}).status_code == 404
    assert api.post(url, json={"repo_id": repo_id, "distributor_id": "d",
                               "notify_agent": "yes"}).status_code == 400
    assert api.get(f"{API}/consumers/{consumer_id}/bindings/{repo_id}/d/").status_code == 404
    harness = f"h-{uuid.uuid4().hex[:8]}"   # a distributor type with no consumer payload
    assert api.post(f"{API}/repositories/", json={"id": harness, "distributors": [
        {"distributor_type_id": "demo_distributor", "distributor_id": "h"}]}).status_code == 201
    refused = api.post(url, json={"repo_id": harness, "distributor_id": "h"})
    assert refused.status_code == 400 and refused.json()["property_names"] == ["distributor_id"]
    assert api.get(f"{API}/consumers/{consumer_id}/bindings/").json() == []


def test_content_actions_are_agent_requests(api):
    consumer_id = register(api).json()["consumer"]["id"]
    units = [{"type_id": "iso", "unit_key": {"name": "a.iso"}}]
    for action in ("install", "update", "uninstall"):
        link = task_of(api.post(f"{API}/consumers/{consumer_id}/actions/content/{action}/",
                                json={"units": units, "options": {}}))
        task = api.get(link["_href"]).json()
        assert task["tags"] == [f"pulp:consumer:{consumer_id}", f"pulp:action:unit_{action}"]
        assert task["state"] == "waiting"
    bad = api.post(f"{API}/consumers/{consumer_id}/actions/content/install/",
                   json={"units": [{"unit_key": {}}], "options": {}})
    assert bad.status_code == 400
    assert api.post(f"{API}/consumers/{consumer_id}/actions/content/install/",
                    json={"units": units}).json()["error"]["code"] == "PLP1004"


def test_repository_and_distributor_changes_reach_bound_consumers(api):
    consumer_id = register(api).json()["consumer"]["id"]
    repo_id = iso_repo(api)
    task_of(api.post(f"{API}/consumers/{consumer_id}/bindings/",
                     json={"repo_id": repo_id, "distributor_id": "d"}))
    # A distributor update rebinds: its task spawns an agent_bind request.
    (update,) = api.wait_report(api.put(f"{API}/repositories/{repo_id}/distributors/d/",
                                        json={"distributor_config": {"relative_url": "moved"}}))
    assert update["state"] == "finished"
    (spawned,) = update["spawned_tasks"]
    assert "pulp:action:agent_bind" in api.get(spawned["_href"]).json()["tags"]
    # Deleting the repository unbinds: agent_unbind spawned, the binding is gone.
    (deleted,) = api.wait_report(api.delete(f"{API}/repositories/{repo_id}/"))
    assert deleted["state"] == "finished" and deleted["error"] is None
    (unbind,) = deleted["spawned_tasks"]
    assert "pulp:action:agent_unbind" in api.get(unbind["_href"]).json()["tags"]
    assert api.get(f"{API}/consumers/{consumer_id}/bindings/").json() == []


def test_a_consumer_certificate_reaches_only_its_own_resources(https_stack, tmp_path):
    api = https_stack.api
    mine, other = register(api).json(), register(api).json()
    me = mine["consumer"]["id"]
    pem = tmp_path / "consumer.pem"
    pem.write_text(mine["certificate"])
    base = https_stack.https_base + API

    class Session:  # verify per request: requests lets REQUESTS_CA_BUNDLE beat a session's
        @staticmethod
        def request(method, url, **kwargs):
            return requests.request(method, url, cert=str(pem), timeout=30,
                                    verify=str(https_stack.ca_cert), **kwargs)

        def get(self, url):
            return self.request("GET", url)

        def post(self, url):
            return self.request("POST", url)

    session = Session()

    def denied(r):
        return r.status_code == 401 and r.json()["error"]["code"] == "PLP0026"

    assert session.get(f"{base}/consumers/{me}/").json()["id"] == me
    assert session.get(f"{base}/consumers/{me}/bindings/").json() == []
    # Its own content schedules too, and not another consumer's.
    mine_scheduled = session.request(
        "POST", f"{base}/consumers/{me}/schedules/content/install/",
        json={"schedule": "2030-01-01T00:00:00Z/P1D", "units": []})
    assert mine_scheduled.status_code == 201, mine_scheduled.text
    assert session.get(mine_scheduled.json()["_href"].replace(API, base, 1)).json()[
        "_id"] == mine_scheduled.json()["_id"]
    other_scheduled = api.post(
        f"{API}/consumers/{other['consumer']['id']}/schedules/content/install/",
        json={"schedule": "2030-01-01T00:00:00Z/P1D", "units": []}).json()
    assert denied(session.get(
        f"{base}/consumers/{other['consumer']['id']}/schedules/content/install/"))
    assert denied(session.request("DELETE", other_scheduled["_href"].replace(API, base, 1)))
    assert denied(session.get(f"{base}/consumers/{other['consumer']['id']}/"))
    assert denied(session.get(f"{base}/consumers/"))
    assert denied(session.get(f"{base}/repositories/"))
    assert denied(session.get(f"{base}/users/"))
    assert denied(session.get(f"{base}/consumer_groups/"))
    assert denied(session.post(f"{base}/consumer_groups/search/"))
    assert denied(session.post(f"{base}/actions/login/"))
    assert api.delete(f"{API}/consumers/{me}/").status_code == 200
    revoked = session.get(f"{base}/consumers/{me}/")
    assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "PLP0025"
