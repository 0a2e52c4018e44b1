"""Consumer groups over HTTP against the real stack: Pulp 2's shapes and codes, criteria
membership, and binds, unbinds and content actions fanned out to every member as tagged
agent requests."""

from __future__ import annotations

import uuid

from tests.integration.test_consumers import iso_repo, register
from tests.integration.test_repositories import assert_error

API = "/pulp/api/v2"
GROUP_KEYS = {"_href", "_id", "_ns", "id", "display_name", "description", "consumer_ids",
              "notes", "scratchpad"}


def gid() -> str:
    return f"cg-{uuid.uuid4().hex[:8]}"


def consumers(api, count: int, **body) -> list[str]:
    return [register(api, **body).json()["consumer"]["id"] for _ in range(count)]


def make_group(api, **body) -> dict:
    body.setdefault("id", gid())
    response = api.post(f"{API}/consumer_groups/", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def spawned(api, response) -> list[dict]:
    """The tasks a 202 spawned, as task reports."""
    assert response.status_code == 202, response.text
    report = response.json()
    assert report["result"] is None and report["error"] is None
    return [api.get(link["_href"]).json() for link in report["spawned_tasks"]]


def test_create_shape_location_get_update_delete(api):
    c1, c2 = consumers(api, 2)
    group_id = gid()
    response = api.post(f"{API}/consumer_groups/", json={
        "id": group_id, "display_name": "G", "description": "d", "notes": {"a": "b", "c": "d"},
        "consumer_ids": [c1, c2, c1]})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body == {"_href": f"{API}/consumer_groups/{group_id}/", "_id": {"$oid": group_id},
                    "_ns": "consumer_groups", "id": group_id, "display_name": "G",
                    "description": "d", "consumer_ids": [c1, c2],
                    "notes": {"a": "b", "c": "d"}, "scratchpad": None}
    assert response.headers["Location"] == body["_href"]
    assert api.get(body["_href"]).json() == body
    assert body in api.get(f"{API}/consumer_groups/").json()

    # PUT is a plain delta: names replaced, notes merged with null removing a key.
    updated = api.put(body["_href"], json={"display_name": "G2", "notes": {"a": None, "e": "f"}})
    assert updated.status_code == 200, updated.text
    assert updated.json() == {**body, "display_name": "G2", "notes": {"c": "d", "e": "f"}}
    assert api.get(body["_href"]).json()["display_name"] == "G2"

    # Deleting the group leaves its consumers registered.
    deleted = api.delete(body["_href"])
    assert deleted.status_code == 200 and deleted.json() is None
    assert_error(api.get(body["_href"]), 404, "PLP0009")
    for consumer_id in (c1, c2):
        assert api.get(f"{API}/consumers/{consumer_id}/").status_code == 200


def test_bad_input_is_400_and_missing_is_404(api):
    (c1,) = consumers(api, 1)
    group = make_group(api, consumer_ids=[c1])
    url = f"{API}/consumer_groups/"
    assert_error(api.post(url, json={"id": group["id"]}), 409, "PLP0018")
    for bad in ("a b", "x/y", "", "é"):
        assert_error(api.post(url, json={"id": bad}), 400)
    assert_error(api.post(url, json={"display_name": "x"}), 400, "PLP1004")
    assert_error(api.post(url, json={"id": gid(), "bogus": 1}), 400)
    assert_error(api.post(url, json={"id": gid(), "notes": []}), 400)
    assert_error(api.post(url, json={"id": gid(), "consumer_ids": "c"}), 400)
    # Every member must exist; nothing is created otherwise.
    absent = gid()
    response = api.post(url, json={"id": absent, "consumer_ids": [c1, "no-such-consumer"]})
    assert_error(response, 400, "PLP1010")
    assert response.json()["property_names"] == ["consumer_ids"]
    assert_error(api.get(f"{url}{absent}/"), 404, "PLP0009")
    assert_error(api.put(group["_href"], json={"consumer_ids": []}), 400)
    assert_error(api.put(group["_href"], json={"notes": "x"}), 400)

    missing = f"{url}no-such-group/"
    assert_error(api.get(missing), 404, "PLP0009")
    assert_error(api.put(missing, json={"display_name": "x"}), 404, "PLP0009")
    assert_error(api.delete(missing), 404, "PLP0009")
    assert_error(api.post(f"{missing}actions/associate/", json={"criteria": {}}), 404,
                 "PLP0009")
    assert_error(api.post(f"{missing}bindings/", json={"repo_id": "r", "distributor_id": "d"}),
                 404, "PLP0009")
    assert_error(api.delete(f"{missing}bindings/r/d/"), 404, "PLP0009")
    assert_error(api.post(f"{missing}actions/content/install/",
                          json={"units": [], "options": {}}), 404, "PLP0009")


def test_search(api):
    tag = uuid.uuid4().hex[:8]
    first = make_group(api, notes={"tag": tag})
    second = make_group(api, notes={"tag": tag})
    make_group(api)
    found = api.post(f"{API}/consumer_groups/search/", json={
        "criteria": {"filters": {"notes.tag": tag}, "sort": [["id", "ascending"]]}})
    assert found.status_code == 200, found.text
    assert found.json() == sorted([first, second], key=lambda g: g["id"])
    by_get = api.get(f"{API}/consumer_groups/search/",
                     params={"filters": f'{{"id": "{first["id"]}"}}', "field": "display_name"})
    assert by_get.status_code == 200
    (only,) = by_get.json()
    assert set(only) == {"_href", "_id", "id", "display_name"} and only["id"] == first["id"]
    assert_error(api.post(f"{API}/consumer_groups/search/", json={}), 400, "PLP1004")


def test_associate_and_unassociate_by_consumer_criteria(api):
    site = uuid.uuid4().hex[:8]
    c1, c2 = consumers(api, 2, notes={"site": site})
    (c3,) = consumers(api, 1)
    group = make_group(api)
    url = f"{group['_href']}actions/"
    added = api.post(f"{url}associate/", json={"criteria": {"filters": {"notes.site": site}}})
    assert added.status_code == 200, added.text
    assert sorted(added.json()) == sorted([c1, c2])
    added = api.post(f"{url}associate/",
                     json={"criteria": {"filters": {"id": {"$in": [c3, c1, "no-such"]}}}})
    assert sorted(added.json()) == sorted([c1, c2, c3])
    removed = api.post(f"{url}unassociate/",
                       json={"criteria": {"filters": {"id": {"$in": [c1, "no-such"]}}}})
    assert removed.status_code == 200
    assert sorted(removed.json()) == sorted([c2, c3])
    assert sorted(api.get(group["_href"]).json()["consumer_ids"]) == sorted([c2, c3])
    assert_error(api.post(f"{url}associate/", json={}), 400, "PLP1004")
    assert_error(api.post(f"{url}associate/", json={"criteria": {"filters": "x"}}), 400)


def bindings_of(api, consumer_id: str) -> list[dict]:
    return api.get(f"{API}/consumers/{consumer_id}/bindings/").json()


def test_group_bind_and_unbind_fan_out_to_members(api):
    members = consumers(api, 2)
    (outsider,) = consumers(api, 1)
    repo_id = iso_repo(api)
    group = make_group(api, consumer_ids=members)
    tasks = spawned(api, api.post(f"{group['_href']}bindings/",
                                  json={"repo_id": repo_id, "distributor_id": "d"}))
    assert len(tasks) == 2
    for task in tasks:
        assert task["state"] == "waiting"
    assert sorted(t["tags"][0] for t in tasks) == sorted(f"pulp:consumer:{c}" for c in members)
    for task in tasks:
        assert task["tags"][1:] == [f"pulp:repository:{repo_id}",
                                    "pulp:repository_distributor:d", "pulp:action:agent_bind"]
    for consumer_id in members:
        (binding,) = bindings_of(api, consumer_id)
        assert (binding["repo_id"], binding["distributor_id"], binding["deleted"]) == \
            (repo_id, "d", False)
        assert binding["consumer_actions"][0]["action"] == "bind"
    assert bindings_of(api, outsider) == []

    # The outsider bound alone keeps its binding through the group's unbind.
    spawned(api, api.post(f"{API}/consumers/{outsider}/bindings/",
                          json={"repo_id": repo_id, "distributor_id": "d"}))
    tasks = spawned(api, api.delete(f"{group['_href']}bindings/{repo_id}/d/"))
    assert sorted(t["tags"][0] for t in tasks) == sorted(f"pulp:consumer:{c}" for c in members)
    for task in tasks:
        assert task["tags"][1:] == [f"pulp:repository:{repo_id}",
                                    "pulp:repository_distributor:d", "pulp:action:agent_unbind"]
    for consumer_id in members:   # marked deleted until each agent confirms
        assert [b["deleted"] for b in bindings_of(api, consumer_id)] == [True]
    assert [b["deleted"] for b in bindings_of(api, outsider)] == [False]
    # Pending unbinds are not sent twice; force deletes the bindings now.
    assert spawned(api, api.delete(f"{group['_href']}bindings/{repo_id}/d/")) == []
    forced = spawned(api, api.delete(f"{group['_href']}bindings/{repo_id}/d/",
                                     json={"force": True}))
    assert len(forced) == 2
    for consumer_id in members:
        assert bindings_of(api, consumer_id) == []
    assert len(bindings_of(api, outsider)) == 1


def test_group_bind_without_agent_and_bind_errors(api):
    members = consumers(api, 2)
    repo_id = iso_repo(api)
    group = make_group(api, consumer_ids=members)
    url = f"{group['_href']}bindings/"
    # Checked once, before any member is bound.
    assert_error(api.post(url, json={"repo_id": repo_id}), 400, "PLP1004")
    assert_error(api.post(url, json={"repo_id": "no-such-repo", "distributor_id": "d"}), 404)
    assert_error(api.post(url, json={"repo_id": repo_id, "distributor_id": "x"}), 404)
    assert_error(api.post(url, json={"repo_id": repo_id, "distributor_id": "d",
                                     "notify_agent": "yes"}), 400)
    harness = f"h-{uuid.uuid4().hex[:8]}"   # a distributor type with no consumer payload
    assert api.post(f"{API}/repositories/", json={"id": harness, "distributors": [
        {"distributor_type_id": "demo_distributor", "distributor_id": "h"}]}).status_code == 201
    assert_error(api.post(url, json={"repo_id": harness, "distributor_id": "h"}), 400)
    for consumer_id in members:
        assert bindings_of(api, consumer_id) == []
    assert_error(api.delete(f"{url}no-such-repo/d/"), 404)

    # notify_agent false: every member is bound, no agent request.
    assert spawned(api, api.post(url, json={"repo_id": repo_id, "distributor_id": "d",
                                            "notify_agent": False})) == []
    for consumer_id in members:
        (binding,) = bindings_of(api, consumer_id)
        assert binding["notify_agent"] is False and binding["consumer_actions"] == []
    # ... and unbound at once.
    assert spawned(api, api.delete(f"{url}{repo_id}/d/")) == []
    for consumer_id in members:
        assert bindings_of(api, consumer_id) == []


def test_group_content_actions_are_one_agent_request_per_member(api):
    members = consumers(api, 3)
    group = make_group(api, consumer_ids=members)
    units = [{"type_id": "iso", "unit_key": {"name": "a.iso"}}]
    for action in ("install", "update", "uninstall"):
        tasks = spawned(api, api.post(f"{group['_href']}actions/content/{action}/",
                                      json={"units": units, "options": {"reboot": False}}))
        assert sorted(t["tags"] for t in tasks) == sorted(
            [f"pulp:consumer:{c}", f"pulp:action:unit_{action}"] for c in members)
        assert {t["state"] for t in tasks} == {"waiting"}
    assert_error(api.post(f"{group['_href']}actions/content/install/",
                          json={"units": [{"unit_key": {}}], "options": {}}), 400)
    assert_error(api.post(f"{group['_href']}actions/content/install/", json={"units": units}),
                 400, "PLP1004")
    assert api.post(f"{group['_href']}actions/content/erase/",
                    json={"units": units, "options": {}}).status_code in (404, 405)
    empty = make_group(api)
    assert spawned(api, api.post(f"{empty['_href']}actions/content/install/",
                                 json={"units": units, "options": {}})) == []


def test_unregistering_a_consumer_drops_it_from_every_group(api):
    c1, c2 = consumers(api, 2)
    first = make_group(api, consumer_ids=[c1, c2])
    second = make_group(api, consumer_ids=[c1])
    assert api.delete(f"{API}/consumers/{c1}/").status_code == 200
    assert api.get(first["_href"]).json()["consumer_ids"] == [c2]
    assert api.get(second["_href"]).json()["consumer_ids"] == []
    # A re-registered consumer of the same id is not a member again.
    register(api, c1)
    assert api.get(second["_href"]).json()["consumer_ids"] == []
