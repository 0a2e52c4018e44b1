"""Bad input never gives a 500: each case answers a Pulp error body with a 4xx and a PLP code."""

import json

import pytest

from tests.integration.test_repositories import assert_error

API = "/pulp/api/v2"
HUGE = 10**30


# -- integers BSON cannot hold -------------------------------------------------------------


@pytest.mark.parametrize("key", ["limit", "skip"])
def test_huge_search_limit_or_skip_is_400(api, repo_factory, key):
    repo = repo_factory()["id"]
    for path in (f"{API}/repositories/search/", f"{API}/tasks/search/",
                 f"{API}/content/units/harness_unit/search/"):
        assert_error(api.post(path, json={"criteria": {key: HUGE}}), 400)
        assert_error(api.get(path, params={key: str(HUGE)}), 400)
    assert_error(api.post(f"{API}/repositories/{repo}/search/units/",
                          json={"criteria": {key: 1 << 63}}), 400)
    assert_error(api.get(f"{API}/repositories/search/", params={key: "\u00b2"}), 400)
    # The largest int64 is still a valid (if generous) limit.
    assert api.post(f"{API}/repositories/search/",
                    json={"criteria": {key: (1 << 63) - 1}}).status_code == 200


def test_history_limit_out_of_range_is_400(api, repo_factory):
    repo = repo_factory(importer_type_id="harness_importer")["id"]
    assert_error(api.get(f"{API}/repositories/{repo}/history/sync/",
                         params={"limit": str(HUGE)}), 400)


@pytest.mark.parametrize("body", [
    {"notes": {"n": HUGE}},
    {"notes": {"deep": [1, {"n": -(1 << 63) - 1}]}},
    {"importer_type_id": "harness_importer", "importer_config": {"size": 1 << 63}},
    {"distributors": [{"distributor_type_id": "harness_distributor",
                       "distributor_config": {"n": HUGE}}]},
])
def test_out_of_range_integer_anywhere_in_a_body_is_400(api, body):
    body = {"id": "int-range", **body}
    response = assert_error(api.post(f"{API}/repositories/", json=body), 400, "PLP1010")
    assert "64-bit" in response["error_message"]
    assert api.get(f"{API}/repositories/int-range/").status_code == 404


def test_out_of_range_integer_in_an_update_is_400(api, repo_factory):
    repo = repo_factory()["id"]
    body = assert_error(api.put(f"{API}/repositories/{repo}/",
                                json={"delta": {"notes": {"x": HUGE}}}), 400)
    assert body["property_names"] == ["delta.notes.x"]


# -- body size -------------------------------------------------------------------------------


def test_large_json_body_is_413_before_it_is_parsed(api):
    big = b'{"id": "big", "notes": {"x": "' + b"a" * (50 << 20) + b'"}}'
    response = api.post(f"{API}/repositories/", data=big,
                        headers={"Content-Type": "application/json"})
    body = assert_error(response, 413, "PLP0000")
    assert "exceeds the limit of 4194304 bytes" in body["error_message"]
    # Not only JSON-typed bodies: the limit is the body's, whatever it claims to be.
    assert_error(api.post(f"{API}/repositories/search/", data=b"x" * (5 << 20)), 413)


def test_upload_chunks_are_not_limited(api):
    upload = api.post(f"{API}/content/uploads/").json()
    href = upload["_href"]
    chunk = b"z" * (6 << 20)
    assert api.put(f"{href}0/", data=chunk).status_code == 200
    api.delete(href)


# -- nesting ---------------------------------------------------------------------------------


def test_deeply_nested_json_is_400(api):
    deep = '{"id": "deep", "notes": ' + "[" * 5000 + "]" * 5000 + "}"
    assert_error(api.post(f"{API}/repositories/", data=deep,
                          headers={"Content-Type": "application/json"}), 400, "PLP1009")
    nested = {"criteria": {"filters": json.loads('{"a":' * 200 + "1" + "}" * 200)}}
    assert_error(api.post(f"{API}/repositories/search/", json=nested), 400)
    assert_error(api.post(f"{API}/content/units/harness_unit/search/", json=nested), 400)


# -- control characters in URLs --------------------------------------------------------------


@pytest.mark.parametrize("char", ["%00", "%01", "%0a", "%1f", "%7f"])
def test_control_characters_in_urls_are_404(api, char):
    for path in (f"{API}/repositories/a{char}b/", f"{API}/tasks/{char}/",
                 f"{API}/content/units/harness_unit/{char}/",
                 f"{API}/repositories/a{char}/importers/", f"/pulp/harness/x{char}y/units.txt",
                 f"/pulp/isos/{char}", f"/pulp/{char}"):
        assert_error(api.get(path), 404, "PLP0009")
    assert_error(api.delete(f"{API}/repositories/a{char}b/"), 404)
    assert_error(api.put(f"{API}/repositories/a{char}b/", json={"delta": {}}), 404)


# -- ids and publish paths that leave the published tree -------------------------------------


@pytest.mark.parametrize("repo_id", [".", "..", "..."])
def test_repository_id_of_only_dots_is_400(api, repo_id):
    body = assert_error(api.post(f"{API}/repositories/", json={"id": repo_id}), 400, "PLP1010")
    assert body["property_names"] == ["id"]
    # Dots inside an id are still fine.
    assert api.post(f"{API}/repositories/", json={"id": f"a{repo_id}b"}).status_code == 201
    api.delete(f"{API}/repositories/a{repo_id}b/")


@pytest.mark.parametrize("relative_url", ["..", "a/../../x", "/abs", "a/./b"])
def test_relative_url_leaving_the_tree_is_400(api, relative_url):
    body = {"id": "rel-url", "distributors": [{
        "distributor_type_id": "iso_distributor",
        "distributor_config": {"relative_url": relative_url}}]}
    assert_error(api.post(f"{API}/repositories/", json=body), 400)


def test_publish_path_is_contained_whatever_the_plugin_allows(api, repo_factory):
    """The harness distributor does not check ``relative_url``; the platform does."""
    repo = repo_factory(distributors=[{
        "distributor_type_id": "harness_distributor", "distributor_id": "esc",
        "distributor_config": {"relative_url": "../escaped"}}])["id"]
    [report] = api.wait_report(api.post(f"{API}/repositories/{repo}/actions/publish/",
                                        json={"id": "esc"}))
    assert report["state"] == "error"
    assert report["error"]["code"] == "PLP0034"
    assert "leaves the published tree" in report["error"]["description"]


# -- unknown paths and methods ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_unknown_api_path_is_404_for_every_method(api, method):
    for path in (f"{API}/no/such/thing/", f"{API}/", "/pulp/api/", "/pulp/api/v3/x/"):
        assert_error(api.request(method, path, json={}), 404, "PLP0009")


def test_known_api_path_with_wrong_method_is_405(api, repo_factory):
    repo = repo_factory()["id"]
    assert_error(api.request("PATCH", f"{API}/repositories/{repo}/"), 405)
    assert_error(api.post(f"{API}/repositories/{repo}/", json={}), 405)
    assert_error(api.put(f"{API}/tasks/search/", json={}), 405)
    # Published content is read-only; unknown published paths remain 404s.
    assert_error(api.post("/pulp/harness/x/units.txt"), 405)
    assert_error(api.get("/pulp/harness/nothing/here"), 404)


def test_control_characters_in_registry_urls_are_not_500(api):
    """The registry apps mounted beside the API answer in their own (docker) error format."""
    for path in ("/v2/a%00/manifests/latest", "/v2/a/manifests/%00", "/v2/a/blobs/%01",
                 "/v2/%00/tags/list", "/extensions/v2/%00"):
        assert api.get(path).status_code in (400, 404), path


def test_upload_offset_beyond_any_file_is_400(api):
    href = api.post(f"{API}/content/uploads/").json()["_href"]
    assert_error(api.put(f"{href}{10**17}/", data=b"x"), 400)
    assert_error(api.put(f"{href}{10**30}/", data=b"x"), 400)
    api.delete(href)
