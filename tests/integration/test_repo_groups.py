"""Repository groups, group distributors, group publish and content types, over HTTP."""

import uuid

import pytest

from tests.integration.test_repositories import assert_error

API = "/pulp/api/v2"
GROUP_KEYS = {"_href", "_id", "_ns", "id", "display_name", "description", "repo_ids", "notes"}
GDIST_KEYS = {"_href", "_id", "_ns", "id", "distributor_type_id", "repo_group_id", "config",
              "last_publish", "scratchpad"}


def gid():
    return f"g-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def group_factory(api):
    created = []

    def make(**body) -> dict:
        body.setdefault("id", gid())
        response = api.post(f"{API}/repo_groups/", json=body)
        assert response.status_code == 201, response.text
        created.append(body["id"])
        return response.json()

    yield make
    for group_id in created:
        api.delete(f"{API}/repo_groups/{group_id}/")


def test_create_201_shape_location_get_list(api, repo_factory, group_factory):
    repo = repo_factory()
    group_id = gid()
    response = api.post(f"{API}/repo_groups/", json={
        "id": group_id, "display_name": "G", "description": "d", "notes": {"a": "b"},
        "repo_ids": [repo["id"]]})
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == GROUP_KEYS
    assert body == {"_href": f"{API}/repo_groups/{group_id}/", "_id": {"$oid": group_id},
                    "_ns": "repo_groups", "id": group_id, "display_name": "G",
                    "description": "d", "repo_ids": [repo["id"]], "notes": {"a": "b"}}
    assert response.headers["Location"] == body["_href"]
    assert api.get(body["_href"]).json() == body
    assert body in api.get(f"{API}/repo_groups/").json()
    assert api.delete(body["_href"]).status_code == 200
    assert_error(api.get(body["_href"]), 404, "PLP0009")


def test_create_errors(api, group_factory):
    group = group_factory()
    assert_error(api.post(f"{API}/repo_groups/", json={"id": group["id"]}), 409, "PLP0018")
    for bad in ["has space", "dot.ted", "slash/", ""]:
        assert_error(api.post(f"{API}/repo_groups/", json={"id": bad}), 400)
    assert_error(api.post(f"{API}/repo_groups/", json={"display_name": "x"}), 400, "PLP1004")
    assert_error(api.post(f"{API}/repo_groups/", json={"id": gid(), "bogus": 1}), 400)
    assert_error(api.post(f"{API}/repo_groups/", json={"id": gid(), "notes": []}), 400)
    assert_error(api.post(f"{API}/repo_groups/", json={"id": gid(), "repo_ids": ["nope-x"]}),
                 404, "PLP0009")
    assert_error(api.post(f"{API}/repo_groups/", json={
        "id": gid(), "distributors": [{"distributor_type_id": "no_such"}]}), 400)
    for path in ("", "distributors/", "distributors/x/"):
        assert_error(api.get(f"{API}/repo_groups/nope-g/{path}"), 404, "PLP0009")
    assert_error(api.put(f"{API}/repo_groups/nope-g/", json={"display_name": "x"}), 404)
    assert_error(api.delete(f"{API}/repo_groups/nope-g/"), 404, "PLP0009")


def test_update_and_search(api, group_factory):
    group = group_factory(notes={"keep": "1", "drop": "2"}, display_name="old")
    response = api.put(group["_href"], json={"display_name": "new", "description": "dd",
                                              "notes": {"drop": None, "add": "3"}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["display_name"] == "new" and body["description"] == "dd"
    assert body["notes"] == {"keep": "1", "add": "3"}
    assert_error(api.put(group["_href"], json={"repo_ids": []}), 400)
    criteria = {"filters": {"id": group["id"]}}
    found = api.post(f"{API}/repo_groups/search/", json={"criteria": criteria}).json()
    assert [g["id"] for g in found] == [group["id"]]
    found = api.get(f"{API}/repo_groups/search/",
                    params={"filters": f'{{"id": "{group["id"]}"}}', "field": "notes"}).json()
    assert found == [{"_href": group["_href"], "_id": group["_id"], "id": group["id"],
                      "notes": {"keep": "1", "add": "3"}}]
    assert api.post(f"{API}/repo_groups/search/", json={
        "criteria": {"filters": {"id": "nothing-like-it"}}}).json() == []
    assert_error(api.post(f"{API}/repo_groups/search/", json={}), 400, "PLP1004")


def test_associate_unassociate_and_repo_deletion(api, stack, repo_factory, group_factory):
    r1, r2, r3 = repo_factory(), repo_factory(), repo_factory()
    group = group_factory(repo_ids=[r1["id"]])
    url = f"{group['_href']}actions/"
    response = api.post(f"{url}associate/", json={
        "criteria": {"filters": {"id": {"$in": [r2["id"], r3["id"], "missing-repo"]}}}})
    assert response.status_code == 200, response.text
    assert sorted(response.json()) == sorted([r1["id"], r2["id"], r3["id"]])
    response = api.post(f"{url}unassociate/", json={
        "criteria": {"filters": {"id": {"$in": [r1["id"], "missing-repo"]}}}})
    assert response.status_code == 200
    assert sorted(response.json()) == sorted([r2["id"], r3["id"]])
    assert_error(api.post(f"{url}associate/", json={}), 400, "PLP1004")
    assert_error(api.post(f"{API}/repo_groups/nope-g/actions/associate/",
                          json={"criteria": {}}), 404)
    other = group_factory(repo_ids=[r2["id"]])
    stack.api.wait_report(api.delete(f"{API}/repositories/{r2['id']}/"))
    assert api.get(group["_href"]).json()["repo_ids"] == [r3["id"]]
    assert api.get(other["_href"]).json()["repo_ids"] == []


def test_group_distributors_and_publish(api, repo_factory, group_factory):
    repo = repo_factory(distributors=[{"distributor_type_id": "harness_distributor",
                                       "distributor_id": "web"}])
    group = group_factory(repo_ids=[repo["id"]], distributors=[
        {"distributor_type_id": "group_catalog_distributor", "distributor_id": "cat"}])
    dists = api.get(f"{group['_href']}distributors/").json()
    assert [d["id"] for d in dists] == ["cat"] and set(dists[0]) == GDIST_KEYS
    assert dists[0]["_ns"] == "repo_group_distributors"
    assert dists[0]["repo_group_id"] == group["id"] and dists[0]["last_publish"] is None

    response = api.post(f"{group['_href']}distributors/", json={
        "distributor_type_id": "group_catalog_distributor", "distributor_id": "cat2",
        "distributor_config": {"relative_url": f"{group['id']}-two"}})
    assert response.status_code == 201, response.text
    cat2 = response.json()
    assert response.headers["Location"] == cat2["_href"]
    assert cat2["config"] == {"relative_url": f"{group['id']}-two"}
    assert api.get(cat2["_href"]).json() == cat2
    response = api.put(cat2["_href"], json={"distributor_config": {"relative_url": None}})
    assert response.status_code == 200 and response.json()["config"] == {}
    assert_error(api.put(cat2["_href"], json={
        "distributor_config": {"relative_url": "../out"}}), 400, "PLP1010")
    assert api.delete(cat2["_href"]).status_code == 200
    assert_error(api.get(cat2["_href"]), 404, "PLP0009")
    assert_error(api.post(f"{group['_href']}distributors/", json={
        "distributor_type_id": "iso_distributor"}), 400)

    response = api.post(f"{group['_href']}actions/publish/", json={"id": "cat"})
    assert response.status_code == 202, response.text
    report = response.json()
    assert report["result"] is None and report["error"] is None
    [task] = api.wait_report(response)
    assert task["state"] == "finished", task
    assert set(task["tags"]) == {f"pulp:repository_group:{group['id']}",
                                 "pulp:repository_group_distributor:cat", "pulp:action:publish"}
    assert task["result"]["summary"] == {"repositories": 1}
    catalog = api.get(f"/pulp/groups/{group['id']}/catalog.json")
    assert catalog.status_code == 200
    members = catalog.json()["repositories"]
    assert [m["id"] for m in members] == [repo["id"]]
    assert [d["id"] for d in members[0]["distributors"]] == ["web"]
    assert api.get(f"{group['_href']}distributors/cat/").json()["last_publish"]

    assert_error(api.post(f"{group['_href']}actions/publish/", json={}), 400, "PLP1004")
    assert_error(api.post(f"{group['_href']}actions/publish/", json={"id": "nope"}), 404)
    assert_error(api.post(f"{API}/repo_groups/nope-g/actions/publish/", json={"id": "x"}), 404)
    assert api.delete(group["_href"]).status_code == 200
    assert api.get(f"/pulp/groups/{group['id']}/catalog.json").status_code == 404


def test_content_types_are_plugin_types(api):
    types = api.get(f"{API}/content/types/")
    assert types.status_code == 200
    assert types.json() == api.get(f"{API}/plugins/types/").json()
    assert any(t["id"] == "iso" and t["unit_key"] for t in types.json())
    one = api.get(f"{API}/content/types/iso/")
    assert one.status_code == 200 and one.json() == api.get(f"{API}/plugins/types/iso/").json()
    assert_error(api.get(f"{API}/content/types/no_such_type/"), 404, "PLP0009")
