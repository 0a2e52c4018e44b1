"""Unit search, copy, removal and units by type, through HTTP against a real stack."""

import uuid

import pytest

from tests.integration.test_iso import make_upstream

API = "/pulp/api/v2"
ASSOC_KEYS = {"_id", "id", "_ns", "repo_id", "unit_id", "unit_type_id", "created", "updated",
              "metadata"}


def new_repo(api, feed=None):
    repo_id = f"cu-{uuid.uuid4().hex[:8]}"
    body = {"id": repo_id, "importer_type_id": "iso_importer",
            "importer_config": {"feed": feed} if feed else {}}
    response = api.post(f"{API}/repositories/", json=body)
    assert response.status_code == 201, response.text
    return repo_id


@pytest.fixture(scope="module")
def source(stack, tmp_path_factory):
    """A repository synced from six files with unique contents (names file-1 … file-6)."""
    up = tmp_path_factory.mktemp("up")
    tag = uuid.uuid4().hex
    files = make_upstream(up, "--count", "0",
                          *[x for i in range(1, 7) for x in ("--extra", f"file-{i}.iso={tag}{i}")])
    repo_id = new_repo(stack.api, up.as_uri())
    response = stack.api.post(f"{API}/repositories/{repo_id}/actions/sync/", json={})
    [report] = stack.api.wait_report(response)
    assert report["state"] == "finished", report
    return repo_id, files


def search(api, repo_id, criteria, method="post"):
    if method == "post":
        return api.post(f"{API}/repositories/{repo_id}/search/units/", json={"criteria": criteria})
    return api.get(f"{API}/repositories/{repo_id}/search/units/", params=criteria)


def names(body):
    return [a["metadata"]["name"] for a in body]


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["http_status"] == status and body["error"]["code"] == code, body
    return body


def test_search_shape_and_unit_filters(api, source):
    repo_id, files = source
    response = search(api, repo_id, {"type_ids": ["iso"],
                                     "filters": {"unit": {"name": {"$in": ["file-1.iso",
                                                                           "file-2.iso"]}}}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert sorted(names(body)) == ["file-1.iso", "file-2.iso"]
    doc = body[0]
    assert set(doc) == ASSOC_KEYS
    assert doc["_ns"] == "repo_content_units" and doc["repo_id"] == repo_id
    assert doc["unit_type_id"] == "iso" and doc["_id"] == {"$oid": doc["id"]}
    meta = doc["metadata"]
    assert meta["_id"] == doc["unit_id"] and meta["_content_type_id"] == "iso"
    assert meta["pulp_user_metadata"] == {}
    assert (meta["checksum"], meta["size"]) == files[meta["name"]]
    assert "_orphan_guard" not in meta


def test_search_association_filters_sort_limit_skip_fields(api, source):
    repo_id, _ = source
    old = {"association": {"created": {"$lt": "2000-01-01T00:00:00Z"}}}
    assert search(api, repo_id, {"filters": old}).json() == []
    new = {"association": {"created": {"$gte": {"$date": "2000-01-01T00:00:00Z"}}}}
    assert len(search(api, repo_id, {"filters": new}).json()) == 6
    body = search(api, repo_id, {"sort": {"unit": [["name", "descending"]]}, "skip": 1,
                                 "limit": 2, "fields": {"unit": ["name"]}}).json()
    assert names(body) == ["file-5.iso", "file-4.iso"]
    assert set(body[0]["metadata"]) == {"_id", "_content_type_id", "name"}
    page = search(api, repo_id, {"sort": {"association": [["unit_id", "ascending"]]},
                                 "limit": 3, "skip": 2}).json()
    every = search(api, repo_id, {"sort": {"association": [["unit_id", "ascending"]]}}).json()
    assert [a["unit_id"] for a in page] == [a["unit_id"] for a in every][2:5]
    assert len(search(api, repo_id, {"remove_duplicates": True}).json()) == 6
    got = search(api, repo_id, {"type_ids": "iso", "filters": '{"name": "file-3.iso"}'},
                 method="get")
    assert names(got.json()) == ["file-3.iso"], got.text


@pytest.mark.parametrize("criteria, field", [
    ({"filters": {"unit": {"name": {"$where": "1"}}}}, "criteria.filters.unit.name.$where"),
    ({"limit": "many"}, "criteria.limit"),
    ({"skip": -1}, "criteria.skip"),
    ({"type_ids": "iso"}, "criteria.type_ids"),
    ({"sort": {"unit": [["name", "sideways"]]}}, "criteria.sort.unit"),
    ({"filters": {"nowhere": {}}}, "criteria.filters"),
    ({"bogus": 1}, "criteria.bogus"),
])
def test_search_bad_criteria(api, source, criteria, field):
    body = assert_error(search(api, source[0], criteria), 400, "PLP1010")
    assert body["property_names"] == [field]


def test_search_errors(api, source):
    assert_error(search(api, "no-such-repo", {}), 404, "PLP0009")
    missing = api.post(f"{API}/repositories/{source[0]}/search/units/", json={})
    assert_error(missing, 400, "PLP1004")


def test_copy_subset_then_everything(api, source):
    src, files = source
    dest = new_repo(api)
    criteria = {"type_ids": ["iso"], "filters": {"unit": {"name": {"$regex": "^file-[12]"}}}}
    response = api.post(f"{API}/repositories/{dest}/actions/associate/",
                        json={"source_repo_id": src, "criteria": criteria})
    [report] = api.wait_report(response)
    assert report["state"] == "finished", report
    assert set(report["tags"]) == {f"pulp:repository:{src}", f"pulp:repository:{dest}",
                                   "pulp:action:associate"}
    keys = sorted(u["unit_key"]["name"] for u in report["result"]["units_successful"])
    assert keys == ["file-1.iso", "file-2.iso"]
    unit = report["result"]["units_successful"][0]
    assert unit["type_id"] == "iso" and set(unit["unit_key"]) == {"name", "checksum", "size"}
    repo = api.get(f"{API}/repositories/{dest}/").json()
    assert repo["content_unit_counts"] == {"iso": 2} and repo["last_unit_added"]
    response = api.post(f"{API}/repositories/{dest}/actions/associate/",
                        json={"source_repo_id": src})
    [report] = api.wait_report(response)
    assert report["state"] == "finished", report
    assert len(report["result"]["units_successful"]) == 6
    assert api.get(f"{API}/repositories/{dest}/").json()["content_unit_counts"] == {"iso": 6}
    assert sorted(names(search(api, dest, {}).json())) == sorted(files)


def test_copy_errors(api, source):
    src, _ = source
    bare = f"cu-{uuid.uuid4().hex[:8]}"
    assert api.post(f"{API}/repositories/", json={"id": bare}).status_code == 201
    url = f"{API}/repositories/{bare}/actions/associate/"
    assert_error(api.post(url, json={"source_repo_id": src}), 400, "PLP0044")
    assert_error(api.post(url, json={"source_repo_id": "nope"}), 400, "PLP1010")
    assert_error(api.post(url, json={}), 400, "PLP1004")
    body = assert_error(api.post(url, json={"source_repo_id": src,
                                            "criteria": {"limit": -3}}), 400, "PLP1010")
    assert body["property_names"] == ["criteria.limit"]
    assert_error(api.post(f"{API}/repositories/nope/actions/associate/",
                          json={"source_repo_id": src}), 404, "PLP0009")


def test_remove_by_criteria(api, source):
    src, _ = source
    dest = new_repo(api)
    api.wait_report(api.post(f"{API}/repositories/{dest}/actions/associate/",
                             json={"source_repo_id": src}))
    url = f"{API}/repositories/{dest}/actions/unassociate/"
    assert_error(api.post(url, json={}), 400, "PLP1004")
    response = api.post(url, json={"criteria": {"type_ids": ["iso"], "filters": {
        "unit": {"name": {"$in": ["file-3.iso", "file-4.iso"]}}}}})
    assert response.json()["result"]["removes"] == "matching units"
    [report] = api.wait_report(response)
    assert report["state"] == "finished", report
    assert set(report["tags"]) == {f"pulp:repository:{dest}", "pulp:action:unassociate"}
    assert sorted(u["unit_key"]["name"] for u in report["result"]["units_successful"]) == [
        "file-3.iso", "file-4.iso"]
    repo = api.get(f"{API}/repositories/{dest}/").json()
    assert repo["content_unit_counts"] == {"iso": 4} and repo["last_unit_removed"]
    response = api.post(url, json={"criteria": {}})
    assert response.json()["result"]["removes"] == "all units"
    [report] = api.wait_report(response)
    assert report["result"]["removed_count"] == 4
    assert api.get(f"{API}/repositories/{dest}/").json()["content_unit_counts"] == {}
    [report] = api.wait_report(api.post(url, json={"criteria": {}}))
    assert report["state"] == "finished" and report["result"] == {}


def test_units_by_type(api, source):
    src, files = source
    [assoc] = search(api, src, {"filters": {"unit": {"name": "file-6.iso"}}}).json()
    uid = assoc["unit_id"]
    listed = api.get(f"{API}/content/units/iso/").json()
    assert uid in {u["_id"] for u in listed}
    found = api.post(f"{API}/content/units/iso/search/", json={
        "criteria": {"filters": {"_id": uid}, "fields": ["name"]}, "include_repos": True}).json()
    assert [u["name"] for u in found] == ["file-6.iso"]
    assert src in found[0]["repository_memberships"]
    unit = api.get(f"{API}/content/units/iso/{uid}/").json()
    assert unit["_href"] == f"{API}/content/units/iso/{uid}/"
    assert (unit["checksum"], unit["size"]) == files["file-6.iso"]
    md_url = f"{API}/content/units/iso/{uid}/pulp_user_metadata/"
    assert api.get(md_url).json() == {}
    assert api.put(md_url, json={"owner": "qa"}).json() is None
    assert api.get(md_url).json() == {"owner": "qa"}
    got = search(api, src, {"filters": {"unit": {"pulp_user_metadata.owner": "qa"}}}).json()
    assert names(got) == ["file-6.iso"]
    assert_error(api.put(md_url, json=[1]), 400, "PLP1015")
    assert_error(api.get(f"{API}/content/units/iso/{'0' * 32}/"), 404, "PLP0009")
    for path in ("content/units/nosuchtype/", "content/units/nosuchtype/search/?limit=1",
                 f"content/units/nosuchtype/{uid}/", "content/orphans/nosuchtype/"):
        assert_error(api.get(f"{API}/{path}"), 404, "PLP0009")
    bad = api.post(f"{API}/content/units/iso/search/",
                   json={"criteria": {"filters": {"name": {"$function": "x"}}}})
    body = assert_error(bad, 400, "PLP1010")
    assert body["property_names"] == ["criteria.filters.name.$function"]


def test_search_association_fields(api, source):
    repo_id, _ = source
    body = search(api, repo_id, {"fields": {"association": ["created"], "unit": ["name"]},
                                 "limit": 1}).json()
    assert set(body[0]) == {"_id", "id", "_ns", "repo_id", "unit_id", "unit_type_id",
                            "created", "metadata"}
    assert set(body[0]["metadata"]) == {"_id", "_content_type_id", "name"}


def test_units_by_type_memberships(api, source):
    src, files = source
    dest = new_repo(api)
    criteria = {"filters": {"unit": {"name": "file-5.iso"}}}
    [report] = api.wait_report(api.post(f"{API}/repositories/{dest}/actions/associate/", json={
        "source_repo_id": src, "criteria": criteria, "override_config": {"validate": False}}))
    assert report["state"] == "finished", report
    url = f"{API}/content/units/iso/search/"
    # Other tests' upstreams name files alike: the checksums pick this source's two.
    query = {"criteria": {"filters": {"name": {"$in": ["file-5.iso", "file-6.iso"]},
                                      "checksum": {"$in": [files["file-5.iso"][0],
                                                           files["file-6.iso"][0]]}},
                          "sort": [["name", "ascending"]]}}
    with_repos = api.post(url, json={**query, "include_repos": True}).json()
    five, six = with_repos
    assert five["name"] == "file-5.iso" and {src, dest} <= set(five["repository_memberships"])
    assert dest not in six["repository_memberships"]
    assert all("repository_memberships" not in u for u in api.post(url, json=query).json())
    body = assert_error(api.post(f"{API}/repositories/{dest}/actions/associate/", json={
        "source_repo_id": src, "override_config": ["validate"]}), 400, "PLP1010")
    assert body["property_names"] == ["override_config"]


def test_copy_into_an_importer_of_other_types(api, source):
    src, _ = source
    repo_id = f"cu-{uuid.uuid4().hex[:8]}"
    assert api.post(f"{API}/repositories/", json={
        "id": repo_id, "importer_type_id": "python_importer"}).status_code == 201
    body = assert_error(api.post(f"{API}/repositories/{repo_id}/actions/associate/",
                                 json={"source_repo_id": src}), 400, "PLP0044")
    assert "iso" in body["error_message"] and body["error"]["data"]["unsupported_types"] == ["iso"]
    assert api.get(f"{API}/repositories/{repo_id}/").json()["content_unit_counts"] == {}


def test_copy_and_remove_many_units_in_batches(api, tmp_path):
    """Over a thousand units: copy streams them, removal goes a batch at a time, and a copied
    name replaces the destination's unit of that name (file names are unique per repo)."""
    files = make_upstream(tmp_path / "big", "--count", "1201", "--size-kb", "1")
    src = new_repo(api, (tmp_path / "big").as_uri())
    [report] = api.wait_report(api.post(f"{API}/repositories/{src}/actions/sync/", json={}))
    assert report["state"] == "finished", report
    other = tmp_path / "other"
    make_upstream(other, "--count", "0", "--extra", f"file-1.iso=other {uuid.uuid4()}")
    dest = new_repo(api, other.as_uri())
    [report] = api.wait_report(api.post(f"{API}/repositories/{dest}/actions/sync/", json={}))
    assert report["state"] == "finished", report
    
    [report] = api.wait_report(api.post(f"{API}/repositories/{dest}/actions/associate/",
                                        json={"source_repo_id": src}), timeout=300)
    assert report["state"] == "finished", report
    assert len(report["result"]["units_successful"]) == 1201
    assert api.get(f"{API}/repositories/{dest}/").json()["content_unit_counts"] == {"iso": 1201}
    [same] = search(api, dest, {"filters": {"unit": {"name": "file-1.iso"}}}).json()
    assert same["metadata"]["checksum"] == files["file-1.iso"][0]

    url = f"{API}/repositories/{dest}/actions/unassociate/"
    [report] = api.wait_report(api.post(url, json={"criteria": {"filters": {"unit": {
        "name": {"$regex": "^file-1[0-9][0-9]\\.iso$"}}}}}), timeout=300)
    assert report["state"] == "finished", report
    assert report["result"]["removed_count"] == 100  # file-100 … file-199
    [report] = api.wait_report(api.post(url, json={"criteria": {}}), timeout=300)
    assert report["result"]["removed_count"] == 1101
    assert api.get(f"{API}/repositories/{dest}/").json()["content_unit_counts"] == {}
    assert api.get(f"{API}/repositories/{src}/").json()["content_unit_counts"] == {"iso": 1201}
