"""Error bodies, authentication, status and plugin listings."""

import requests

from tests.integration.test_repositories import assert_error

API = "/pulp/api/v2"


def test_invalid_json_is_plp1009(api):
    response = api.post(f"{API}/repositories/", data=b"{not json",
                        headers={"Content-Type": "application/json"})
    assert_error(response, 400, "PLP1009")


def test_body_that_is_not_an_object_is_400(api):
    assert_error(api.post(f"{API}/repositories/", json=[1, 2]), 400, "PLP1015")


def test_wrong_field_type_is_400_naming_the_field(api):
    body = assert_error(api.post(f"{API}/repositories/", json={"id": "x", "notes": "str"}), 400)
    assert body["property_names"] == ["notes"]
    body = assert_error(api.post(f"{API}/repositories/", json={"id": 5}), 400)
    assert body["property_names"] == ["id"]


def test_unknown_url_is_a_json_404(api):
    body = assert_error(api.get(f"{API}/no/such/thing/"), 404, "PLP0009")
    assert body["error_message"]
    assert_error(api.get("/definitely-not-here"), 404)


def test_wrong_method_is_a_json_405(api):
    assert_error(api.request("PATCH", f"{API}/repositories/"), 405)


def test_auth_required_except_status(stack):
    base = stack.api.base
    response = requests.get(f"{base}{API}/repositories/")
    body = assert_error(response, 401, "PLP0025")
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert body["error_message"]
    assert_error(requests.get(f"{base}{API}/repositories/", auth=("admin", "wrong")),
                 401, "PLP0025")
    assert_error(requests.get(f"{base}{API}/repositories/", auth=("nobody", "admin")),
                 401, "PLP0025")
    assert requests.get(f"{base}{API}/status/").status_code == 200


def test_status(stack):
    body = requests.get(f"{stack.api.base}{API}/status/").json()
    assert body["api_version"] == "2"
    assert body["versions"]["platform_version"]
    assert body["database_connection"] == {"connected": True}
    assert body["messaging_connection"] == {"connected": True}
    names = {w["name"] for w in body["known_workers"]}
    assert {f"w1@{stack.name}", f"w2@{stack.name}"} <= names
    assert all(w["last_heartbeat"].endswith("Z") for w in body["known_workers"])


def test_plugin_listings(api):
    types = {t["id"]: t for t in api.get(f"{API}/plugins/types/").json()}
    assert types["harness_unit"]["unit_key"] == ["name"]
    assert types["harness_unit"]["_href"] == f"{API}/plugins/types/harness_unit/"
    one = api.get(f"{API}/plugins/types/harness_unit/").json()
    assert one["_ns"] == "content_types"
    importers = {i["id"]: i for i in api.get(f"{API}/plugins/importers/").json()}
    assert importers["harness_importer"]["types"] == ["harness_unit"]
    assert api.get(f"{API}/plugins/importers/harness_importer/").json()["display_name"]
    dists = {d["id"] for d in api.get(f"{API}/plugins/distributors/").json()}
    assert {"harness_distributor", "demo_distributor"} <= dists
    for path in ("types/nope/", "importers/nope/", "distributors/nope/"):
        assert_error(api.get(f"{API}/plugins/{path}"), 404, "PLP0009")


def test_openapi_document_and_swagger_ui(api):
    spec = api.get(f"{API}/docs/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert "/pulp/api/v2/repositories/" in spec["paths"]
    assert "/pulp/api/v2/tasks/{task_id}/" in spec["paths"]
    ui = api.get(f"{API}/docs/swagger-ui")
    assert ui.status_code == 200 and "swagger" in ui.text.lower()
