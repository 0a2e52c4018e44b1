"""Every endpoint's real responses match the schema the OpenAPI document declares for them.

One call (at least) per path and method of the document, on repositories with the test
plugin's ``harness_importer``/``harness_distributor``: each body is validated by schemathesis
against the schema declared for its status (success and Pulp error bodies alike), and the
task reports of every spawned task too. The test fails when a body does not match, when a
success status is not declared, when a declared success response has no schema, and when an
operation of the document was never called.
"""

from __future__ import annotations

import uuid

import pytest
import requests

schemathesis = pytest.importorskip("schemathesis")

API = "/pulp/api/v2"
NO_BODY = {204}


class Checker:
    def __init__(self, api):
        self.api = api
        self.spec = api.get(f"{API}/docs/openapi.json").json()
        self.schema = schemathesis.openapi.from_dict(self.spec)
        self.called: set[tuple[str, str]] = set()
        self.tasks: list[str] = []

    def operation_doc(self, method: str, template: str) -> dict:
        return self.spec["paths"][API + template][method.lower()]

    def call(self, method: str, template: str, expected: int, path: str | None = None,
             auth: bool = True, **kwargs) -> requests.Response:
        """``method`` on ``path`` (default: the template itself), documented as ``template``
        (relative to the API root); the status must be ``expected`` and the body match."""
        url = self.api.url(API + (path or template))
        if auth:
            response = self.api.session.request(method, url, timeout=60, **kwargs)
        else:
            response = requests.request(method, url, timeout=60, **kwargs)
        assert response.status_code == expected, (method, url, response.status_code,
                                                  response.text[:500])
        self.validate(method, template, response)
        self.called.add((method.lower(), API + template))
        if response.status_code == 202:
            # A group call report (parallel applicability regeneration) lists no tasks.
            self.tasks += [t["task_id"] for t in response.json().get("spawned_tasks", [])]
        return response

    def validate(self, method: str, template: str, response: requests.Response) -> None:
        responses = self.operation_doc(method, template)["responses"]
        status = str(response.status_code)
        if response.status_code < 400:
            # A success status must be declared explicitly, with a schema unless bodiless.
            assert status in responses, (method, template, status, sorted(responses))
            if response.status_code not in NO_BODY:
                content = responses[status].get("content", {}).get("application/json", {})
                assert "schema" in content, (method, template, status, "no response schema")
        operation = self.schema[API + template][method.upper()]
        operation.validate_response(response)

    def wait_tasks(self) -> list[dict]:
        """Wait for every spawned task; validate each final task report."""
        reports = []
        while self.tasks:
            task_id = self.tasks.pop()
            report = self.api.wait_task(task_id)
            self.validate("GET", "/tasks/{task_id}/",
                          self.api.get(f"{API}/tasks/{task_id}/"))
            self.tasks += [t["task_id"] for t in report.get("spawned_tasks") or []]
            reports.append(report)
        return reports

    def operations(self) -> set[tuple[str, str]]:
        return {(method, path) for path, item in self.spec["paths"].items()
                for method in item if method != "parameters"}


def test_every_operation_has_a_response_schema(api):
    spec = api.get(f"{API}/docs/openapi.json").json()
    missing = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            successes = {s: r for s, r in operation["responses"].items()
                         if s.startswith("2")}
            assert successes, (method, path, "no success response")
            for status, response in successes.items():
                if int(status) in NO_BODY:
                    continue
                if "schema" not in response.get("content", {}).get("application/json", {}):
                    missing.append((method, path, status))
            # Errors: the Pulp error body, whatever the status.
            assert "default" in operation["responses"], (method, path)
    assert missing == []
    error = spec["components"]["responses"]["DEFAULT_ERROR"]["content"]["application/json"]
    assert error["schema"] == {"$ref": "#/components/schemas/PulpError"}
    assert {"http_status", "error_message", "_href"} <= set(
        spec["components"]["schemas"]["PulpError"]["required"])


def _fake_response(api, body: bytes, status: int = 200) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers["Content-Type"] = "application/json"
    response._content = body
    response.request = requests.Request("GET", api.url(f"{API}/repositories/x/")).prepare()
    return response


def test_the_checker_rejects_a_body_that_does_not_match(api):
    """The validation really bites: a repository without ``id`` and with an unknown key."""
    from schemathesis.core.failures import Failure, FailureGroup

    checker = Checker(api)
    with pytest.raises((Failure, FailureGroup)):
        checker.validate("GET", "/repositories/{repo_id}/",
                         _fake_response(api, b'{"_href": "/x/", "surprise": 1}'))
    with pytest.raises((Failure, FailureGroup)):  # an error body must be a Pulp error body
        checker.validate("GET", "/repositories/{repo_id}/",
                         _fake_response(api, b'{"message": "nope"}', 404))


def test_the_checker_rejects_an_undeclared_response_schema(api):
    checker = Checker(api)
    responses = checker.operation_doc("GET", "/repositories/{repo_id}/")["responses"]
    del responses["200"]["content"]
    with pytest.raises(AssertionError, match="no response schema"):
        checker.validate("GET", "/repositories/{repo_id}/", _fake_response(api, b"{}"))
    del responses["200"]
    with pytest.raises(AssertionError):
        checker.validate("GET", "/repositories/{repo_id}/", _fake_response(api, b"{}"))


def test_every_response_matches_its_declared_schema(api, repo_factory):
    c = Checker(api)
    tag = uuid.uuid4().hex[:8]
    repo = f"schemas-{tag}"
    dest = f"schemas-dest-{tag}"
    bare = f"schemas-bare-{tag}"
    orphaned = f"schemas-orph-{tag}"
    harness = {"importer_type_id": "harness_importer",
               "importer_config": {"num_units": 3, "prefix": f"u-{tag}"},
               "distributors": [{"distributor_type_id": "harness_distributor",
                                 "distributor_id": "dist", "distributor_config": {}}]}

    # -- status, plugins ----------------------------------------------------------------------
    c.call("GET", "/status/", 200, auth=False)
    c.call("GET", "/repositories/", 401, auth=False)
    c.call("POST", "/actions/login/", 200)
    c.call("POST", "/actions/login/", 401, auth=False)
    c.call("GET", "/plugins/types/", 200)
    c.call("GET", "/plugins/types/{type_id}/", 200, "/plugins/types/harness_unit/")
    c.call("GET", "/plugins/types/{type_id}/", 404, "/plugins/types/no-such-type/")
    c.call("GET", "/content/types/", 200)
    c.call("GET", "/content/types/{type_id}/", 200, "/content/types/harness_unit/")
    c.call("GET", "/content/types/{type_id}/", 404, "/content/types/no-such-type/")
    c.call("GET", "/plugins/{kind}/", 200, "/plugins/importers/")
    c.call("GET", "/plugins/{kind}/{plugin_id}/", 200, "/plugins/distributors/harness_distributor/")

    # -- repositories -------------------------------------------------------------------------
    c.call("POST", "/repositories/", 201, json={"id": repo, **harness})
    repo_factory(id=dest, importer_type_id="harness_importer")
    repo_factory(id=bare)
    repo_factory(id=orphaned, importer_type_id="harness_importer",
                 importer_config={"num_units": 2, "prefix": f"o-{tag}"})
    c.call("POST", "/repositories/", 400, json={"display_name": "no id"})
    c.call("GET", "/repositories/", 200, params={"details": "true"})
    c.call("GET", "/repositories/search/", 200,
           params={"filters": f'{{"id": "{repo}"}}', "details": "true"})
    c.call("POST", "/repositories/search/", 200,
           json={"criteria": {"filters": {"id": repo}, "fields": ["id"]}, "importers": True})
    c.call("GET", "/repositories/{repo_id}/", 200, f"/repositories/{repo}/",
           params={"details": "true"})
    c.call("GET", "/repositories/{repo_id}/", 404, "/repositories/no-such-repo/")
    c.call("PUT", "/repositories/{repo_id}/", 200, f"/repositories/{repo}/",
           json={"delta": {"display_name": "Schemas", "notes": {"k": "v"}}})
    c.call("PUT", "/repositories/{repo_id}/", 202, f"/repositories/{repo}/",
           json={"distributor_configs": {"dist": {"relative_url": f"schemas/{tag}"}}})

    # -- importers and distributors ------------------------------------------------------------
    c.call("GET", "/repositories/{repo_id}/importers/", 200, f"/repositories/{repo}/importers/")
    c.call("GET", "/repositories/{repo_id}/importers/{importer_id}/", 200,
           f"/repositories/{repo}/importers/harness_importer/")
    c.call("POST", "/repositories/{repo_id}/importers/", 202, f"/repositories/{bare}/importers/",
           json={"importer_type_id": "harness_importer", "importer_config": {}})
    c.wait_tasks()
    c.call("PUT", "/repositories/{repo_id}/importers/{importer_id}/", 202,
           f"/repositories/{bare}/importers/harness_importer/",
           json={"importer_config": {"num_units": 1}})
    c.wait_tasks()
    c.call("DELETE", "/repositories/{repo_id}/importers/{importer_id}/", 202,
           f"/repositories/{bare}/importers/harness_importer/")
    c.call("GET", "/repositories/{repo_id}/distributors/", 200,
           f"/repositories/{repo}/distributors/")
    c.call("POST", "/repositories/{repo_id}/distributors/", 201,
           f"/repositories/{repo}/distributors/",
           json={"distributor_type_id": "harness_distributor", "distributor_id": "d2",
                 "distributor_config": {"relative_url": f"schemas-d2/{tag}"}})
    c.call("GET", "/repositories/{repo_id}/distributors/{dist_id}/", 200,
           f"/repositories/{repo}/distributors/d2/")
    c.call("PUT", "/repositories/{repo_id}/distributors/{dist_id}/", 202,
           f"/repositories/{repo}/distributors/d2/",
           json={"distributor_config": {"relative_url": f"schemas-d2b/{tag}"}})
    c.wait_tasks()
    c.call("DELETE", "/repositories/{repo_id}/distributors/{dist_id}/", 202,
           f"/repositories/{repo}/distributors/d2/")
    c.call("GET", "/distributors/search/", 200, params={"filters": f'{{"repo_id": "{repo}"}}'})
    c.call("POST", "/distributors/search/", 200, json={"criteria": {"filters": {"repo_id": repo}}})
    c.wait_tasks()

    # -- sync, publish, history ----------------------------------------------------------------
    c.call("POST", "/repositories/{repo_id}/actions/sync/", 202,
           f"/repositories/{repo}/actions/sync/", json={})
    c.call("POST", "/repositories/{repo_id}/actions/sync/", 202,
           f"/repositories/{orphaned}/actions/sync/", json={})
    c.wait_tasks()
    c.call("POST", "/repositories/{repo_id}/actions/publish/", 202,
           f"/repositories/{repo}/actions/publish/", json={"id": "dist"})
    c.call("POST", "/repositories/{repo_id}/actions/publish/", 400,
           f"/repositories/{repo}/actions/publish/", json={})
    c.wait_tasks()
    c.call("GET", "/repositories/{repo_id}/history/sync/", 200,
           f"/repositories/{repo}/history/sync/")
    c.call("GET", "/repositories/{repo_id}/history/publish/{dist_id}/", 200,
           f"/repositories/{repo}/history/publish/dist/")

    # -- repository groups ---------------------------------------------------------------------
    group = f"g-{tag}"
    gurl = f"/repo_groups/{group}/"
    c.call("POST", "/repo_groups/", 201, json={"id": group, "repo_ids": [bare], "distributors": [
        {"distributor_type_id": "group_catalog_distributor", "distributor_id": "cat"}]})
    c.call("POST", "/repo_groups/", 409, json={"id": group})
    c.call("GET", "/repo_groups/", 200)
    c.call("GET", "/repo_groups/search/", 200)
    c.call("POST", "/repo_groups/search/", 200, json={"criteria": {"filters": {"id": group}}})
    c.call("GET", "/repo_groups/{group_id}/", 200, gurl)
    c.call("GET", "/repo_groups/{group_id}/", 404, "/repo_groups/no-such-group/")
    c.call("PUT", "/repo_groups/{group_id}/", 200, gurl, json={"notes": {"k": "v"}})
    c.call("POST", "/repo_groups/{group_id}/actions/associate/", 200, f"{gurl}actions/associate/",
           json={"criteria": {"filters": {"id": {"$in": [dest]}}}})
    c.call("POST", "/repo_groups/{group_id}/actions/unassociate/", 200,
           f"{gurl}actions/unassociate/", json={"criteria": {"filters": {"id": dest}}})
    c.call("GET", "/repo_groups/{group_id}/distributors/", 200, f"{gurl}distributors/")
    c.call("POST", "/repo_groups/{group_id}/distributors/", 201, f"{gurl}distributors/",
           json={"distributor_type_id": "group_catalog_distributor", "distributor_id": "c2",
                 "distributor_config": {"relative_url": f"{group}-2"}})
    c.call("GET", "/repo_groups/{group_id}/distributors/{dist_id}/", 200,
           f"{gurl}distributors/c2/")
    c.call("PUT", "/repo_groups/{group_id}/distributors/{dist_id}/", 200,
           f"{gurl}distributors/c2/", json={"distributor_config": {"relative_url": None}})
    c.call("DELETE", "/repo_groups/{group_id}/distributors/{dist_id}/", 200,
           f"{gurl}distributors/c2/")
    c.call("POST", "/repo_groups/{group_id}/actions/publish/", 202, f"{gurl}actions/publish/",
           json={"id": "cat"})
    c.wait_tasks()
    c.call("DELETE", "/repo_groups/{group_id}/", 200, gurl)

    # -- schedules -----------------------------------------------------------------------------
    for kind, owner in (("sync", "importers/{owner_id}"), ("publish", "distributors/{owner_id}")):
        owner_id = "harness_importer" if kind == "sync" else "dist"
        base = f"/repositories/{{repo_id}}/{owner}/schedules/{kind}/"
        real = f"/repositories/{repo}/{owner.split('/')[0]}/{owner_id}/schedules/{kind}/"
        created = c.call("POST", base, 201, real,
                         json={"schedule": "2030-01-01T00:00:00Z/PT24H",
                               "override_config": {"k": 1}}).json()
        c.call("GET", base, 200, real)
        item = base + "{schedule_id}/"
        c.call("GET", item, 200, f"{real}{created['_id']}/")
        c.call("PUT", item, 200, f"{real}{created['_id']}/", json={"enabled": False})
        c.call("DELETE", item, 200, f"{real}{created['_id']}/")

    # -- repository units ----------------------------------------------------------------------
    c.call("GET", "/repositories/{repo_id}/search/units/", 200,
           f"/repositories/{repo}/search/units/", params={"type_ids": "harness_unit"})
    associations = c.call("POST", "/repositories/{repo_id}/search/units/", 200,
                          f"/repositories/{repo}/search/units/",
                          json={"criteria": {"type_ids": ["harness_unit"]}}).json()
    assert len(associations) == 3
    c.call("POST", "/repositories/{repo_id}/actions/associate/", 202,
           f"/repositories/{dest}/actions/associate/", json={"source_repo_id": repo})
    c.wait_tasks()
    c.call("POST", "/repositories/{repo_id}/actions/unassociate/", 202,
           f"/repositories/{orphaned}/actions/unassociate/", json={"criteria": {}})
    c.wait_tasks()

    # -- units by type -------------------------------------------------------------------------
    c.call("GET", "/content/units/{type_id}/", 200, "/content/units/harness_unit/")
    found = c.call("GET", "/content/units/{type_id}/search/", 200,
                   "/content/units/harness_unit/search/",
                   params={"filters": f'{{"name": "u-{tag}-0"}}', "include_repos": "true"}).json()
    c.call("POST", "/content/units/{type_id}/search/", 200, "/content/units/harness_unit/search/",
           json={"criteria": {"filters": {"name": f"u-{tag}-0"}}, "include_repos": True})
    unit = f"/content/units/harness_unit/{found[0]['_id']}/"
    c.call("GET", "/content/units/{type_id}/{unit_id}/", 200, unit)
    c.call("PUT", "/content/units/{type_id}/{unit_id}/pulp_user_metadata/", 200,
           f"{unit}pulp_user_metadata/", json={"owner": "schemas"})
    c.call("GET", "/content/units/{type_id}/{unit_id}/pulp_user_metadata/", 200,
           f"{unit}pulp_user_metadata/")

    # -- uploads -------------------------------------------------------------------------------
    upload = c.call("POST", "/content/uploads/", 201).json()
    c.call("GET", "/content/uploads/", 200)
    c.call("PUT", "/content/uploads/{upload_id}/{offset}/", 200,
           f"/content/uploads/{upload['upload_id']}/0/", data=b"payload",
           headers={"Content-Type": "application/octet-stream"})
    c.call("POST", "/repositories/{repo_id}/actions/import_upload/", 202,
           f"/repositories/{dest}/actions/import_upload/",
           json={"upload_id": upload["upload_id"], "unit_type_id": "harness_unit",
                 "unit_key": {"name": f"up-{tag}"}})
    c.wait_tasks()  # the harness importer refuses uploads: a failed task report
    second = c.call("POST", "/content/uploads/", 201).json()
    c.call("DELETE", "/content/uploads/{upload_id}/", 200,
           f"/content/uploads/{second['upload_id']}/")

    # -- orphans -------------------------------------------------------------------------------
    c.call("GET", "/content/orphans/", 200)
    orphans = c.call("GET", "/content/orphans/{type_id}/", 200,
                     "/content/orphans/harness_unit/").json()
    mine = [o for o in orphans if o["name"].startswith(f"o-{tag}-")]
    assert len(mine) == 2, orphans
    c.call("GET", "/content/orphans/{type_id}/{unit_id}/", 200,
           f"/content/orphans/harness_unit/{mine[0]['_id']}/")
    c.call("DELETE", "/content/orphans/{type_id}/{unit_id}/", 202,
           f"/content/orphans/harness_unit/{mine[0]['_id']}/")
    c.wait_tasks()
    c.call("DELETE", "/content/orphans/{type_id}/", 202, "/content/orphans/harness_unit/")
    c.wait_tasks()
    c.call("DELETE", "/content/orphans/", 202)
    c.wait_tasks()

    # -- tasks ---------------------------------------------------------------------------------
    tasks = c.call("GET", "/tasks/", 200).json()
    c.call("GET", "/tasks/search/", 200, params={"filters": '{"state": "finished"}'})
    c.call("POST", "/tasks/search/", 200, json={"criteria": {"filters": {"state": "error"}}})
    c.call("GET", "/tasks/{task_id}/", 200, f"/tasks/{tasks[0]['task_id']}/")
    c.call("GET", "/tasks/{task_id}/", 404, "/tasks/no-such-task/")
    c.call("DELETE", "/tasks/{task_id}/", 200, f"/tasks/{tasks[0]['task_id']}/")
    c.call("DELETE", "/tasks/", 204, params={"state": "skipped"})

    # -- users, roles, permissions -------------------------------------------------------------
    login, role = f"user-{tag}", f"role-{tag}"
    c.call("POST", "/users/", 201, json={"login": login, "password": "pw"})
    c.call("POST", "/users/", 400, json={"login": login, "colour": "red"})
    c.call("POST", "/users/", 409, json={"login": login})
    c.call("GET", "/users/", 200)
    c.call("GET", "/users/search/", 200, params={"filters": f'{{"login": "{login}"}}'})
    c.call("POST", "/users/search/", 200, json={"criteria": {"filters": {"login": login}}})
    c.call("GET", "/users/{login}/", 200, f"/users/{login}/")
    c.call("GET", "/users/{login}/", 404, "/users/no-such-user/")
    c.call("PUT", "/users/{login}/", 200, f"/users/{login}/", json={"delta": {"name": "N"}})
    c.call("POST", "/roles/", 201, json={"role_id": role, "display_name": "R"})
    c.call("GET", "/roles/", 200)
    c.call("GET", "/roles/{role_id}/", 200, f"/roles/{role}/")
    c.call("PUT", "/roles/{role_id}/", 200, f"/roles/{role}/",
           json={"delta": {"description": "d"}})
    c.call("POST", "/roles/{role_id}/users/", 200, f"/roles/{role}/users/",
           json={"login": login})
    c.call("DELETE", "/roles/{role_id}/users/{login}/", 200, f"/roles/{role}/users/{login}/")
    grant = {"resource": f"/v2/repositories/{repo}/", "operations": ["READ"]}
    c.call("POST", "/permissions/actions/grant_to_user/", 200, json={"login": login, **grant})
    c.call("POST", "/permissions/actions/grant_to_user/", 400,
           json={"login": login, "resource": "/v2/", "operations": ["FLY"]})
    c.call("POST", "/permissions/actions/revoke_from_user/", 200, json={"login": login, **grant})
    c.call("POST", "/permissions/actions/grant_to_role/", 200, json={"role_id": role, **grant})
    c.call("POST", "/permissions/actions/revoke_from_role/", 200,
           json={"role_id": role, **grant})
    c.call("GET", "/permissions/", 200, params={"resource": f"/v2/users/{login}/"})
    c.call("DELETE", "/roles/{role_id}/", 200, f"/roles/{role}/")
    c.call("DELETE", "/users/{login}/", 200, f"/users/{login}/")
    # -- event listeners -----------------------------------------------------------------------
    hook = {"notifier_type_id": "http", "event_types": ["repo.sync.start"],
            "notifier_config": {"url": "http://127.0.0.1:9/", "username": "u",
                                "password": "p"}}
    listener = c.call("POST", "/events/", 201, json=hook).json()
    c.call("POST", "/events/", 400, json={**hook, "notifier_type_id": "pigeon"})
    c.call("GET", "/events/", 200)
    c.call("GET", "/events/{listener_id}/", 200, f"/events/{listener['id']}/")
    c.call("GET", "/events/{listener_id}/", 404, "/events/no-such-listener/")
    c.call("PUT", "/events/{listener_id}/", 200, f"/events/{listener['id']}/",
           json={"event_types": ["*"]})
    c.call("DELETE", "/events/{listener_id}/", 200, f"/events/{listener['id']}/")

    # -- consumers -----------------------------------------------------------------------------
    c.wait_tasks()
    consumer, bound = f"consumer-{tag}", f"schemas-iso-{tag}"
    c.call("POST", "/repositories/", 201, json={
        "id": bound, "distributors": [{"distributor_type_id": "iso_distributor",
                                       "distributor_id": "iso"}]})
    c.call("POST", "/consumers/", 201, json={"id": consumer, "notes": {"a": "b"}})
    c.call("POST", "/consumers/", 409, json={"id": consumer})
    c.call("GET", "/consumers/", 200, params={"bindings": "true"})
    c.call("GET", "/consumers/search/", 200, params={"filters": f'{{"id": "{consumer}"}}'})
    c.call("POST", "/consumers/search/", 200,
           json={"criteria": {"filters": {"id": consumer}}, "details": True})
    c.call("GET", "/consumers/{consumer_id}/", 200, f"/consumers/{consumer}/")
    c.call("GET", "/consumers/{consumer_id}/", 404, "/consumers/no-such-consumer/")
    c.call("PUT", "/consumers/{consumer_id}/", 200, f"/consumers/{consumer}/",
           json={"delta": {"display_name": "C"}})
    c.call("POST", "/consumers/{consumer_id}/bindings/", 200, f"/consumers/{consumer}/bindings/",
           json={"repo_id": bound, "distributor_id": "iso", "notify_agent": False})
    c.call("POST", "/consumers/{consumer_id}/bindings/", 202, f"/consumers/{consumer}/bindings/",
           json={"repo_id": bound, "distributor_id": "iso"})
    c.call("GET", "/consumers/{consumer_id}/bindings/", 200, f"/consumers/{consumer}/bindings/")
    c.call("GET", "/consumers/{consumer_id}/bindings/{repo_id}/", 200,
           f"/consumers/{consumer}/bindings/{bound}/")
    binding = f"/consumers/{consumer}/bindings/{bound}/iso/"
    c.call("GET", "/consumers/{consumer_id}/bindings/{repo_id}/{distributor_id}/", 200, binding)
    c.call("GET", "/consumers/binding/search/", 200,
           params={"filters": f'{{"consumer_id": "{consumer}"}}'})
    c.call("POST", "/consumers/binding/search/", 200,
           json={"criteria": {"filters": {"consumer_id": consumer}}})
    c.call("DELETE", "/consumers/{consumer_id}/bindings/{repo_id}/{distributor_id}/", 202,
           binding, json={"force": True})
    c.call("POST", "/consumers/{consumer_id}/actions/content/{action}/", 202,
           f"/consumers/{consumer}/actions/content/install/",
           json={"units": [{"type_id": "iso", "unit_key": {"name": "a"}}], "options": {}})
    # The agent's side (a user may act for it): claim, heartbeat, result.
    claimed = c.call("GET", "/consumers/{consumer_id}/agent/requests/", 200,
                     f"/consumers/{consumer}/agent/requests/", params={"wait": 0}).json()
    assert claimed, "the bind and install requests were waiting"
    request = f"/consumers/{consumer}/agent/requests/{claimed[0]['task_id']}/"
    c.call("POST", "/consumers/{consumer_id}/agent/requests/{task_id}/heartbeat/", 200,
           request + "heartbeat/")
    c.call("POST", "/consumers/{consumer_id}/agent/requests/{task_id}/", 200, request,
           json={"succeeded": False, "details": {"message": "no handler"}})
    c.call("POST", "/consumers/{consumer_id}/agent/requests/{task_id}/", 404,
           f"/consumers/{consumer}/agent/requests/no-such-task/", json={"succeeded": True})
    c.call("GET", "/consumers/{consumer_id}/history/", 200, f"/consumers/{consumer}/history/")
    sbase = "/consumers/{consumer_id}/schedules/content/{action}/"
    sreal = f"/consumers/{consumer}/schedules/content/install/"
    scheduled = c.call("POST", sbase, 201, sreal, json={
        "schedule": "2030-01-01T00:00:00Z/PT24H", "options": {"k": 1},
        "units": [{"type_id": "iso", "unit_key": {"name": "a"}}]}).json()
    c.call("POST", sbase, 400, sreal, json={"schedule": "PT1H", "units": "a"})
    c.call("GET", sbase, 200, sreal)
    sitem = sbase + "{schedule_id}/"
    c.call("GET", sitem, 200, f"{sreal}{scheduled['_id']}/")
    c.call("GET", sitem, 404, f"{sreal}no-such-schedule/")
    c.call("PUT", sitem, 200, f"{sreal}{scheduled['_id']}/", json={"enabled": False})
    c.call("DELETE", sitem, 200, f"{sreal}{scheduled['_id']}/")

    # -- consumer groups -------------------------------------------------------------------
    cgroup = f"cgroup-{tag}"
    cgurl = f"/consumer_groups/{cgroup}/"
    c.call("POST", "/consumer_groups/", 201, json={"id": cgroup, "consumer_ids": [consumer]})
    c.call("POST", "/consumer_groups/", 409, json={"id": cgroup})
    c.call("POST", "/consumer_groups/", 400, json={"id": f"x-{tag}", "consumer_ids": ["nobody"]})
    c.call("GET", "/consumer_groups/", 200)
    c.call("GET", "/consumer_groups/search/", 200, params={"filters": f'{{"id": "{cgroup}"}}'})
    c.call("POST", "/consumer_groups/search/", 200, json={"criteria": {"filters": {"id": cgroup}}})
    c.call("GET", "/consumer_groups/{group_id}/", 200, cgurl)
    c.call("GET", "/consumer_groups/{group_id}/", 404, "/consumer_groups/no-such-group/")
    c.call("PUT", "/consumer_groups/{group_id}/", 200, cgurl, json={"notes": {"k": "v"}})
    c.call("POST", "/consumer_groups/{group_id}/actions/unassociate/", 200,
           f"{cgurl}actions/unassociate/", json={"criteria": {"filters": {"id": consumer}}})
    c.call("POST", "/consumer_groups/{group_id}/actions/associate/", 200,
           f"{cgurl}actions/associate/", json={"criteria": {"filters": {"id": consumer}}})
    c.call("POST", "/consumer_groups/{group_id}/bindings/", 202, f"{cgurl}bindings/",
           json={"repo_id": bound, "distributor_id": "iso"})
    c.call("POST", "/consumer_groups/{group_id}/bindings/", 404, f"{cgurl}bindings/",
           json={"repo_id": bound, "distributor_id": "nope"})
    c.call("DELETE", "/consumer_groups/{group_id}/bindings/{repo_id}/{distributor_id}/", 202,
           f"{cgurl}bindings/{bound}/iso/", json={"force": True})
    c.call("POST", "/consumer_groups/{group_id}/actions/content/{action}/", 202,
           f"{cgurl}actions/content/update/",
           json={"units": [{"type_id": "iso", "unit_key": {"name": "a"}}], "options": {}})
    c.call("DELETE", "/consumer_groups/{group_id}/", 200, cgurl)
    # Agent requests wait for an agent that never comes: validated as waiting, then canceled.
    for task_id in c.tasks:
        c.validate("GET", "/tasks/{task_id}/", api.get(f"{API}/tasks/{task_id}/"))
        if api.get(f"{API}/tasks/{task_id}/").json()["worker_name"] == "agent":
            assert api.delete(f"{API}/tasks/{task_id}/").status_code == 200
        else:
            api.wait_task(task_id)
    c.tasks.clear()

    # -- consumer profiles and applicability ---------------------------------------------------
    c.call("POST", "/consumers/{consumer_id}/bindings/", 200, f"/consumers/{consumer}/bindings/",
           json={"repo_id": bound, "distributor_id": "iso", "notify_agent": False})
    purl = f"/consumers/{consumer}/profiles/"
    c.call("POST", "/consumers/{consumer_id}/profiles/", 201, purl,
           json={"content_type": "iso", "profile": [{"name": "a", "checksum": "b", "size": 1}]})
    c.call("POST", "/consumers/{consumer_id}/profiles/", 404, "/consumers/no-such/profiles/",
           json={"content_type": "iso", "profile": []})
    c.call("GET", "/consumers/{consumer_id}/profiles/", 200, purl)
    c.call("GET", "/consumers/{consumer_id}/profiles/{content_type}/", 200, f"{purl}iso/")
    c.call("PUT", "/consumers/{consumer_id}/profiles/{content_type}/", 200, f"{purl}iso/",
           json={"profile": []})
    c.call("GET", "/consumers/profile/search/", 200)
    c.call("POST", "/consumers/profile/search/", 200,
           json={"criteria": {"filters": {"consumer_id": consumer}}})
    c.call("POST", "/consumers/content/applicability/", 200,
           json={"criteria": {"filters": {"id": consumer}}})
    c.call("POST", "/consumers/actions/content/regenerate_applicability/", 202,
           json={"consumer_criteria": {"filters": {"id": consumer}}})
    c.call("POST", "/consumers/{consumer_id}/actions/content/regenerate_applicability/", 202,
           f"/consumers/{consumer}/actions/content/regenerate_applicability/")
    c.call("POST", "/repositories/actions/content/regenerate_applicability/", 202,
           json={"repo_criteria": {"filters": {"id": bound}}})
    c.wait_tasks()
    group = c.call("POST", "/repositories/actions/content/regenerate_applicability/", 202,
                   json={"repo_criteria": {"filters": {"id": bound}}, "parallel": True}).json()
    gpath = f"/task_groups/{group['group_id']}/"
    listed = c.call("GET", "/task_groups/{group_id}/", 200, gpath).json()
    c.tasks += [t["task_id"] for t in listed]
    c.call("GET", "/task_groups/{group_id}/state_summary/", 200, f"{gpath}state_summary/")
    c.wait_tasks()
    c.call("DELETE", "/task_groups/{group_id}/", 200, gpath)
    c.call("GET", "/task_groups/{group_id}/", 404, "/task_groups/no-such-group/")
    c.call("DELETE", "/consumers/{consumer_id}/profiles/{content_type}/", 200, f"{purl}iso/")
    c.call("DELETE", "/consumers/{consumer_id}/", 200, f"/consumers/{consumer}/")
    c.call("DELETE", "/repositories/{repo_id}/", 202, f"/repositories/{bound}/")
    c.wait_tasks()

    # -- deletion ------------------------------------------------------------------------------
    c.call("DELETE", "/repositories/{repo_id}/", 202, f"/repositories/{repo}/")
    c.wait_tasks()

    assert c.operations() - c.called == set()
