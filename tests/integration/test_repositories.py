"""Repository, importer and distributor calls of the v2 API, through HTTP to a real stack."""

import uuid

import requests

API = "/pulp/api/v2"
REPO_KEYS = {"_href", "_id", "_ns", "id", "display_name", "description", "notes", "scratchpad",
             "content_unit_counts", "last_unit_added", "last_unit_removed"}


def rid():
    return f"r-{uuid.uuid4().hex[:8]}"


def assert_error(response, status, code=None):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["http_status"] == status
    assert body["_href"] == requests.utils.urlparse(response.url).path
    assert body["http_request_method"] == response.request.method
    assert "error_message" in body
    if code:
        assert body["error"]["code"] == code
    return body


def test_create_returns_201_with_location_and_shape(api, repo_factory):
    repo_id = rid()
    response = api.post(f"{API}/repositories/", json={"id": repo_id, "notes": {"a": "b"}})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == REPO_KEYS
    assert body["_href"] == f"{API}/repositories/{repo_id}/"
    assert response.headers["Location"] == body["_href"]
    assert body["display_name"] == repo_id and body["notes"] == {"a": "b"}
    assert body["_ns"] == "repos" and body["content_unit_counts"] == {}
    api.delete(f"{API}/repositories/{repo_id}/")


def test_duplicate_id_is_409(api, repo_factory):
    repo = repo_factory()
    body = assert_error(api.post(f"{API}/repositories/", json={"id": repo["id"]}), 409, "PLP0018")
    assert body["resource_id"] == repo["id"]


def test_bad_ids_are_400(api):
    for bad in ["has space", "slash/", "ünï", ""]:
        assert_error(api.post(f"{API}/repositories/", json={"id": bad}), 400)
    assert_error(api.post(f"{API}/repositories/", json={"display_name": "x"}), 400, "PLP1004")


def test_create_with_importer_and_distributors_is_atomic(api):
    repo_id = rid()
    body = {"id": repo_id, "importer_type_id": "harness_importer",
            "importer_config": {"num_units": 2},
            "distributors": [{"distributor_type_id": "harness_distributor",
                              "distributor_id": "d1", "auto_publish": True}]}
    assert api.post(f"{API}/repositories/", json=body).status_code == 201
    repo = api.get(f"{API}/repositories/{repo_id}/?details=true").json()
    assert [i["importer_type_id"] for i in repo["importers"]] == ["harness_importer"]
    assert [d["id"] for d in repo["distributors"]] == ["d1"]
    assert repo["total_repository_units"] == 0
    api.delete(f"{API}/repositories/{repo_id}/")

    # Any failing part leaves nothing behind.
    for broken, code in [
        ({"importer_type_id": "nope"}, "PLP1008"),
        ({"importer_type_id": "harness_importer", "importer_config": {"invalid": 1}}, "PLP1010"),
        ({"distributors": [{"distributor_type_id": "nope"}]}, "PLP1008"),
        ({"distributors": [{"distributor_type_id": "harness_distributor",
                            "distributor_config": {"invalid": True}}]}, "PLP1010"),
        ({"distributors": [{"distributor_type_id": "harness_distributor",
                            "distributor_id": "bad id"}]}, "PLP1010"),
    ]:
        repo_id = rid()
        assert_error(api.post(f"{API}/repositories/", json={"id": repo_id, **broken}), 400, code)
        assert_error(api.get(f"{API}/repositories/{repo_id}/"), 404, "PLP0009")


def test_list_and_get_with_flags(api, repo_factory):
    repo = repo_factory(importer_type_id="harness_importer",
                        distributors=[{"distributor_type_id": "harness_distributor",
                                       "distributor_id": "dd"}])
    listed = {r["id"]: r for r in api.get(f"{API}/repositories/").json()}
    assert "importers" not in listed[repo["id"]]
    listed = {r["id"]: r for r in api.get(f"{API}/repositories/?importers=True").json()}
    assert listed[repo["id"]]["importers"][0]["id"] == "harness_importer"
    assert "distributors" not in listed[repo["id"]]
    listed = {r["id"]: r for r in api.get(f"{API}/repositories/?distributors=true").json()}
    assert listed[repo["id"]]["distributors"][0]["id"] == "dd"
    one = api.get(f"{API}/repositories/{repo['id']}/?details=true").json()
    assert {"importers", "distributors", "total_repository_units",
            "locally_stored_units"} <= set(one)


def test_missing_repository_is_404_with_resources(api):
    body = assert_error(api.get(f"{API}/repositories/nothing-here/"), 404, "PLP0009")
    assert body["resources"] == {"repository": "nothing-here"}
    for method, path in [("put", "/"), ("delete", "/"), ("post", "/actions/sync/"),
                         ("get", "/distributors/"), ("post", "/importers/"),
                         ("get", "/history/sync/")]:
        kwargs = {"json": {"importer_type_id": "harness_importer"}} if method == "post" else {}
        response = getattr(api, method)(f"{API}/repositories/nothing-here{path}", **kwargs)
        assert_error(response, 404, "PLP0009")


def test_update_delta_is_a_200_call_report(api, repo_factory):
    repo = repo_factory(notes={"keep": "1", "drop": "2"})
    response = api.put(f"{API}/repositories/{repo['id']}/",
                       json={"delta": {"display_name": "Updated", "description": "d",
                                       "notes": {"drop": None, "new": "3"}}})
    assert response.status_code == 200
    report = response.json()
    assert set(report) == {"result", "error", "spawned_tasks"}
    assert report["spawned_tasks"] == [] and report["error"] is None
    assert report["result"]["display_name"] == "Updated"
    assert report["result"]["notes"] == {"keep": "1", "new": "3"}
    assert_error(api.put(f"{API}/repositories/{repo['id']}/", json={"delta": "x"}), 400)


def test_update_with_distributor_configs_spawns_tagged_tasks(api, repo_factory):
    repo = repo_factory(importer_type_id="harness_importer",
                        distributors=[{"distributor_type_id": "harness_distributor",
                                       "distributor_id": "a"},
                                      {"distributor_type_id": "harness_distributor",
                                       "distributor_id": "b"}])
    response = api.put(f"{API}/repositories/{repo['id']}/", json={
        "importer_config": {"num_units": 7},
        "distributor_configs": {"a": {"k": "1"}, "b": {"k": "2"}}})
    assert response.status_code == 202
    reports = api.wait_report(response)
    assert len(reports) == 2
    for report, dist_id in zip(reports, ["a", "b"]):
        assert report["state"] == "finished"
        assert set(report["tags"]) == {f"pulp:repository:{repo['id']}",
                                       f"pulp:repository_distributor:{dist_id}",
                                       "pulp:action:update_distributor"}
        assert report["result"]["config"]["k"] in ("1", "2")
    imp = api.get(f"{API}/repositories/{repo['id']}/importers/harness_importer/").json()
    assert imp["config"] == {"num_units": 7}


def test_importer_lifecycle_tags_and_results(api, repo_factory):
    repo = repo_factory()
    base = f"{API}/repositories/{repo['id']}/importers/"
    assert api.get(base).json() == []
    response = api.post(base, json={"importer_type_id": "harness_importer",
                                    "importer_config": {"num_units": "5"}})
    [report] = api.wait_report(response)
    assert report["state"] == "finished"
    assert set(report["tags"]) == {f"pulp:repository:{repo['id']}",
                                   "pulp:repository_importer:harness_importer",
                                   "pulp:action:update_importer"}
    assert report["result"]["importer_type_id"] == "harness_importer"
    assert report["result"]["config"] == {"num_units": "5"}
    imp = api.get(f"{base}harness_importer/").json()
    assert imp["_href"] == f"{base}harness_importer/" and imp["repo_id"] == repo["id"]
    assert imp["_ns"] == "repo_importers" and imp["last_override_config"] == {}

    [report] = api.wait_report(api.put(f"{base}harness_importer/", json={
        "importer_config": {"num_units": None, "feed": "http://u:secret@example.com/x"}}))
    assert report["state"] == "finished"
    assert "pulp:action:update_importer" in report["tags"]
    config = report["result"]["config"]
    assert config["feed"] == "http://example.com/x"
    assert config["basic_auth_username"] == "u"
    assert config["basic_auth_password"] == "*****"  # secrets are never echoed
    assert "num_units" not in config
    assert "secret" not in api.get(f"{base}harness_importer/").text

    assert_error(api.put(f"{base}harness_importer/", json={}), 400, "PLP1004")
    assert_error(api.get(f"{base}other_importer/"), 404, "PLP0009")
    assert_error(api.post(base, json={"importer_type_id": "nope"}), 400, "PLP1008")
    assert_error(api.post(base, json={"importer_type_id": "harness_importer",
                                      "importer_config": {"invalid": 1}}), 400)

    [report] = api.wait_report(api.delete(f"{base}harness_importer/"))
    assert set(report["tags"]) == {f"pulp:repository:{repo['id']}",
                                   "pulp:repository_importer:harness_importer",
                                   "pulp:action:delete_importer"}
    assert api.get(base).json() == []


def test_distributor_lifecycle(api, repo_factory):
    repo = repo_factory()
    base = f"{API}/repositories/{repo['id']}/distributors/"
    response = api.post(base, json={"distributor_type_id": "harness_distributor",
                                    "distributor_config": {"x": 1}, "distributor_id": "web"})
    assert response.status_code == 201
    dist = response.json()
    assert response.headers["Location"] == f"{base}web/" == dist["_href"]
    assert dist["auto_publish"] is False and dist["_ns"] == "repo_distributors"
    generated = api.post(base, json={"distributor_type_id": "harness_distributor"}).json()
    assert len(generated["id"]) >= 8
    assert {d["id"] for d in api.get(base).json()} == {"web", generated["id"]}

    [report] = api.wait_report(api.put(f"{base}web/", json={
        "distributor_config": {"x": None, "y": 2}, "delta": {"auto_publish": True}}))
    assert set(report["tags"]) == {f"pulp:repository:{repo['id']}",
                                   "pulp:repository_distributor:web",
                                   "pulp:action:update_distributor"}
    updated = api.get(f"{base}web/").json()
    assert updated["config"] == {"y": 2} and updated["auto_publish"] is True

    [report] = api.wait_report(api.put(f"{base}web/", json={"distributor_config": {"invalid": 1}}))
    assert report["state"] == "error" and report["error"]["code"] == "PLP1010"

    [report] = api.wait_report(api.delete(f"{base}web/"))
    assert set(report["tags"]) == {f"pulp:repository:{repo['id']}",
                                   "pulp:repository_distributor:web",
                                   "pulp:action:remove_distributor"}
    assert_error(api.get(f"{base}web/"), 404, "PLP0009")


def test_delete_repository_is_a_tagged_task(api):
    repo_id = rid()
    api.post(f"{API}/repositories/", json={"id": repo_id, "importer_type_id": "harness_importer"})
    [report] = api.wait_report(api.delete(f"{API}/repositories/{repo_id}/"))
    assert report["state"] == "finished" and report["result"] is None
    assert set(report["tags"]) == {f"pulp:repository:{repo_id}", "pulp:action:delete"}
    assert api.get(f"{API}/repositories/{repo_id}/").status_code == 404


def test_failing_removal_hook_is_a_non_fatal_task_error(api):
    repo_id = rid()
    api.post(f"{API}/repositories/", json={
        "id": repo_id, "distributors": [{
            "distributor_type_id": "harness_distributor", "distributor_id": "d",
            "distributor_config": {"fail_removal": True}}]})
    [report] = api.wait_report(api.delete(f"{API}/repositories/{repo_id}/"))
    assert report["state"] == "finished"                  # the repository is gone anyway
    assert report["error"]["code"] == "PLP0007"
    assert "told to fail its removal" in report["error"]["description"]
    assert api.get(f"{API}/repositories/{repo_id}/").status_code == 404


def test_search_repositories_and_distributors(api, repo_factory):
    tag = uuid.uuid4().hex[:6]
    a = repo_factory(id=f"s-{tag}-a", notes={"team": tag},
                     distributors=[{"distributor_type_id": "demo_distributor",
                                    "distributor_id": f"d-{tag}"}])
    repo_factory(id=f"s-{tag}-b", notes={"team": tag})
    criteria = {"filters": {"notes.team": tag}, "sort": [["id", "descending"]]}
    found = api.post(f"{API}/repositories/search/", json={"criteria": criteria}).json()
    assert [r["id"] for r in found] == [f"s-{tag}-b", f"s-{tag}-a"]
    limited = api.post(f"{API}/repositories/search/", json={
        "criteria": {**criteria, "limit": 1, "skip": 1}, "distributors": True}).json()
    assert [r["id"] for r in limited] == [a["id"]]
    assert limited[0]["distributors"][0]["id"] == f"d-{tag}"
    got = api.get(f"{API}/repositories/search/",
                  params={"filters": f'{{"notes.team": "{tag}"}}', "field": "id"}).json()
    assert sorted(r["id"] for r in got) == [f"s-{tag}-a", f"s-{tag}-b"]
    assert "notes" not in got[0]
    dists = api.post(f"{API}/distributors/search/",
                     json={"criteria": {"filters": {"id": f"d-{tag}"}}}).json()
    assert [(d["repo_id"], d["id"]) for d in dists] == [(a["id"], f"d-{tag}")]
    got = api.get(f"{API}/distributors/search/",
                  params={"filters": f'{{"id": "d-{tag}"}}', "field": "auto_publish"}).json()
    assert [(d["repo_id"], d["id"], d["auto_publish"]) for d in got] == [(a["id"], f"d-{tag}", False)]
    assert "config" not in got[0]
    assert_error(api.post(f"{API}/repositories/search/", json={}), 400, "PLP1004")
    assert_error(api.post(f"{API}/repositories/search/",
                          json={"criteria": {"filters": {"$where": "1"}}}), 400, "PLP1010")
    assert_error(api.post(f"{API}/repositories/search/",
                          json={"criteria": {"limit": -1}}), 400, "PLP1010")
