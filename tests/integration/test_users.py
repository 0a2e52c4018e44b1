"""Users, roles and permissions over HTTP against the real stack: Pulp 2's shapes and codes,
and permissions enforced on every call (denial is 401 PLP0026, as in Pulp 2)."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.stack import Api

API = "/pulp/api/v2"


@pytest.fixture
def users(api):
    """Create users (and roles) with unique names; delete them afterwards."""
    made: list[tuple[str, str]] = []

    class Users:
        def user(self, password="pw", **body) -> tuple[str, Api]:
            login = body.pop("login", f"u-{uuid.uuid4().hex[:8]}")
            r = api.post(f"{API}/users/", json={"login": login, "password": password, **body})
            assert r.status_code == 201, r.text
            made.append(("users", login))
            return login, Api(api.base, auth=(login, password))

        def role(self, **body) -> str:
            role_id = body.pop("role_id", f"r-{uuid.uuid4().hex[:8]}")
            r = api.post(f"{API}/roles/", json={"role_id": role_id, **body})
            assert r.status_code == 201, r.text
            made.append(("roles", role_id))
            return role_id

        def grant(self, login, resource, *operations):
            r = api.post(f"{API}/permissions/actions/grant_to_user/",
                         json={"login": login, "resource": resource,
                               "operations": list(operations)})
            assert r.status_code == 200 and r.json() is None, r.text

    yield Users()
    for kind, name in reversed(made):
        api.delete(f"{API}/{kind}/{name}/")


def denied(response: requests.Response) -> bool:
    return response.status_code == 401 and response.json()["error"]["code"] == "PLP0026"


def test_user_crud_shapes_and_codes(api, users):
    login = f"u.{uuid.uuid4().hex[:6]}@example.com"
    r = api.post(f"{API}/users/", json={"login": login, "password": "pw"})
    assert r.status_code == 201
    user = r.json()
    assert r.headers["Location"] == user["_href"] == f"{API}/users/{login}/"
    assert user == {"_href": user["_href"], "_id": {"$oid": login}, "_ns": "users", "id": login,
                    "login": login, "name": login, "roles": []}
    assert api.get(f"{API}/users/{login}/").json() == user
    assert "password" not in str(api.get(f"{API}/users/").json())
    assert api.post(f"{API}/users/", json={"login": login}).json()["error"]["code"] == "PLP0018"
    bad = api.post(f"{API}/users/", json={"login": "no spaces"})
    assert bad.status_code == 400 and bad.json()["property_names"] == ["login"]
    extra = api.post(f"{API}/users/", json={"login": "x-extra", "admin": True})
    assert extra.status_code == 400 and "admin" in extra.text
    assert api.post(f"{API}/users/", json={"name": "x"}).json()["error"]["code"] == "PLP1004"
    missing = api.get(f"{API}/users/nobody-{uuid.uuid4().hex[:6]}/")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "PLP0009"

    found = api.post(f"{API}/users/search/",
                     json={"criteria": {"filters": {"login": login}, "fields": ["name"]}})
    assert [u["login"] for u in found.json()] == [login]
    r = api.put(f"{API}/users/{login}/", json={"delta": {"name": "Jo", "password": "new"}})
    assert r.status_code == 200 and r.json()["name"] == "Jo"
    me = Api(api.base, auth=(login, "new"))
    assert denied(me.get(f"{API}/repositories/"))                # authenticated: no grants
    assert Api(api.base, auth=(login, "pw")).get(f"{API}/repositories/").json()["error"][
        "code"] == "PLP0025"
    assert api.put(f"{API}/users/{login}/", json={"delta": {"roles": ["nope"]}}).status_code == 400
    assert api.put(f"{API}/users/{login}/", json={"delta": {"login": "x"}}).status_code == 400
    r = api.delete(f"{API}/users/{login}/")
    assert r.status_code == 200 and r.json() is None
    assert me.get(f"{API}/repositories/").json()["error"]["code"] == "PLP0025"


def test_a_changed_password_stops_working_at_once(api, users):
    login, client = users.user(password="one")
    users.grant(login, "/v2/repositories/", "READ")
    assert client.get(f"{API}/repositories/").status_code == 200  # now cached
    api.put(f"{API}/users/{login}/", json={"delta": {"password": "two"}})
    assert client.get(f"{API}/repositories/").status_code == 401
    assert Api(api.base, auth=(login, "two")).get(f"{API}/repositories/").status_code == 200


def test_read_on_one_repository_then_execute_after_the_grant(api, users, repo_factory):
    zoo = repo_factory(importer_type_id="harness_importer",
                       importer_config={"num_units": 2, "prefix": uuid.uuid4().hex[:6]})["id"]
    other = repo_factory()["id"]
    login, client = users.user()
    users.grant(login, f"{API}/repositories/{zoo}/", "READ")      # given with /pulp/api
    assert client.get(f"{API}/repositories/{zoo}/").json()["id"] == zoo
    assert client.get(f"{API}/repositories/{zoo}/importers/").status_code == 200  # below it
    assert denied(client.get(f"{API}/repositories/{other}/"))
    assert denied(client.get(f"{API}/repositories/"))
    assert denied(client.post(f"{API}/repositories/{zoo}/actions/sync/", json={}))
    assert denied(client.delete(f"{API}/repositories/{zoo}/"))
    users.grant(login, f"/v2/repositories/{zoo}/actions/sync/", "EXECUTE")
    r = client.post(f"{API}/repositories/{zoo}/actions/sync/", json={})
    assert r.status_code == 202
    task_id = r.json()["spawned_tasks"][0]["task_id"]
    assert client.wait_task(task_id)["state"] == "finished"  # readable: it reads the repo
    assert denied(client.get(f"{API}/tasks/"))
    stranger_login, stranger = users.user()
    assert denied(stranger.get(f"{API}/tasks/{task_id}/"))
    grants = api.get(f"{API}/permissions/", params={"resource": f"/v2/repositories/{zoo}/"})
    assert grants.json()[0]["users"][login] == ["READ"]


def test_a_role_grant_applies_to_every_member(api, users, repo_factory):
    repo_id = repo_factory()["id"]
    role = users.role(display_name="Readers")
    members = [users.user() for _ in range(2)]
    for login, _ in members:
        assert api.post(f"{API}/roles/{role}/users/", json={"login": login}).status_code == 200
    r = api.post(f"{API}/permissions/actions/grant_to_role/",
                 json={"role_id": role, "resource": "/v2/repositories/", "operations": ["READ"]})
    assert r.status_code == 200
    for _, client in members:
        assert client.get(f"{API}/repositories/{repo_id}/").status_code == 200
    shown = api.get(f"{API}/roles/{role}/").json()
    assert shown["permissions"] == {"/v2/repositories/": ["READ"]}
    assert sorted(shown["users"]) == sorted(login for login, _ in members)
    assert api.get(f"{API}/users/{members[0][0]}/").json()["roles"] == [role]
    api.delete(f"{API}/roles/{role}/users/{members[0][0]}/")
    assert denied(members[0][1].get(f"{API}/repositories/{repo_id}/"))   # at once
    assert members[1][1].get(f"{API}/repositories/{repo_id}/").status_code == 200
    api.post(f"{API}/permissions/actions/revoke_from_role/",
             json={"role_id": role, "resource": "/v2/repositories/", "operations": ["READ"]})
    assert denied(members[1][1].get(f"{API}/repositories/{repo_id}/"))


def test_the_creator_of_a_repository_may_do_anything_to_it(api, users):
    login, client = users.user()
    users.grant(login, "/v2/repositories/", "CREATE")
    repo_id = f"mine-{uuid.uuid4().hex[:8]}"
    assert client.post(f"{API}/repositories/", json={"id": repo_id}).status_code == 201
    assert client.get(f"{API}/repositories/{repo_id}/").status_code == 200
    assert client.put(f"{API}/repositories/{repo_id}/",
                      json={"delta": {"display_name": "Mine"}}).status_code == 200
    assert denied(client.get(f"{API}/repositories/"))          # only what it created
    r = client.delete(f"{API}/repositories/{repo_id}/")
    assert r.status_code == 202
    client.wait_report(r)
    assert api.get(f"{API}/permissions/", params={"resource": f"/v2/repositories/{repo_id}/"}
                   ).json() == []
    assert api.post(f"{API}/repositories/", json={"id": repo_id}).status_code == 201
    try:
        assert denied(client.get(f"{API}/repositories/{repo_id}/"))  # a new one: not its
    finally:
        api.wait_report(api.delete(f"{API}/repositories/{repo_id}/"))


def test_a_task_purge_keeps_grants_on_the_tasks_collection(api, users):
    login, client = users.user()
    users.grant(login, "/v2/tasks/", "READ")
    assert client.get(f"{API}/tasks/").status_code == 200
    assert api.delete(f"{API}/tasks/", params={"state": "skipped"}).status_code == 204
    assert client.get(f"{API}/tasks/").status_code == 200           # the grant is still there
    grants = api.get(f"{API}/permissions/", params={"resource": "/v2/tasks/"}).json()
    assert grants[0]["users"][login] == ["READ"]


def test_a_non_super_user_cannot_touch_users_or_roles(api, users):
    login, client = users.user()
    users.grant(login, "/v2/repositories/", "READ", "CREATE", "UPDATE", "DELETE", "EXECUTE")
    assert denied(client.get(f"{API}/users/"))
    assert denied(client.post(f"{API}/users/", json={"login": "sneaky", "password": "x"}))
    assert denied(client.put(f"{API}/users/{login}/", json={"delta": {"roles": ["super-users"]}}))
    assert denied(client.put(f"{API}/users/admin/", json={"delta": {"password": "x"}}))
    assert denied(client.get(f"{API}/roles/"))
    assert denied(client.post(f"{API}/roles/super-users/users/", json={"login": login}))
    assert denied(client.post(f"{API}/permissions/actions/grant_to_user/",
                              json={"login": login, "resource": "/", "operations": ["READ"]}))
    assert api.get(f"{API}/users/sneaky/").status_code == 404


def test_super_users_role_and_the_last_super_user(api, users):
    role = api.get(f"{API}/roles/super-users/").json()
    assert role["permissions"] == {"/": ["CREATE", "DELETE", "EXECUTE", "READ", "UPDATE"]}
    assert "admin" in role["users"]
    assert api.delete(f"{API}/roles/super-users/").status_code == 400
    assert api.post(f"{API}/permissions/actions/revoke_from_role/",
                    json={"role_id": "super-users", "resource": "/",
                          "operations": ["READ"]}).status_code == 400
    supers = [u["login"] for u in api.get(f"{API}/users/").json()
              if "super-users" in u["roles"]]
    boss, boss_client = users.user()
    api.put(f"{API}/users/{boss}/", json={"delta": {"roles": ["super-users"]}})
    assert boss_client.get(f"{API}/users/").status_code == 200          # every permission
    assert api.put(f"{API}/users/{boss}/", json={"delta": {"roles": []}}).status_code == 200
    assert denied(boss_client.get(f"{API}/users/"))                       # demoted at once
    if supers == ["admin"]:
        r = api.delete(f"{API}/users/admin/")
        assert r.status_code == 400 and "last super-user" in r.json()["error_message"]
        assert api.put(f"{API}/users/admin/",
                       json={"delta": {"roles": []}}).status_code == 400
        assert api.delete(f"{API}/roles/super-users/users/admin/").status_code == 400
    assert api.get(f"{API}/users/admin/").json()["roles"] == ["super-users"]


def test_every_endpoint_denies_a_user_without_permissions(api, users):
    """Each operation of the OpenAPI document, called as a user holding no grant: 401
    PLP0026 (only status, login and the documentation are open), never 200 or 500."""
    spec = api.get(f"{API}/docs/openapi.json").json()
    _, nobody = users.user()
    open_paths = {f"{API}/status/", f"{API}/actions/login/"}
    checked = 0
    for path, item in spec["paths"].items():
        if path in open_paths:
            continue
        concrete = path
        for param in item.get("parameters", []):
            value = (param["schema"].get("enum") or [f"x-{param['name']}"])[0]
            concrete = concrete.replace("{" + param["name"] + "}", str(value))
        for method in item:
            if method == "parameters":
                continue
            r = nobody.request(method.upper(), concrete, json={})
            assert denied(r), (method, concrete, r.status_code, r.text[:200])
            checked += 1
    assert checked > 50

