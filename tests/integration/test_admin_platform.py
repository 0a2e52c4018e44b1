"""``pulp2ng-admin``'s platform sections: ``auth``, ``event listener``, ``repo group`` and
``consumer``, driven as a subprocess against the shared stack (unique names throughout)."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.test_admin_cli import Cli, error_line

API = "/pulp/api/v2"


@pytest.fixture
def cli(stack, tmp_path):
    return Cli(tmp_path / "config", stack.api.base)


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_auth_users_roles_and_permissions(cli, api, stack, tmp_path):
    login, role_id, password = uid("u"), uid("role"), uuid.uuid4().hex
    resource = f"/v2/repositories/{uid('r')}/"
    try:
        made = cli.json("auth", "user", "create", "--login", login, "--password", password,
                        "--name", "Ann Admin")
        assert made == api.get(f"{API}/users/{login}/").json()
        assert "password" not in made
        assert cli.json("auth", "user", "list") == api.get(f"{API}/users/").json()
        listed = cli("auth", "user", "list").stdout
        assert login in listed and "Ann Admin" in listed
        cli("auth", "user", "update", "--login", login, "--name", "Ann B")
        assert api.get(f"{API}/users/{login}/").json()["name"] == "Ann B"
        assert "--password or --name" in error_line(
            cli("auth", "user", "update", "--login", login, ok=False))

        assert f"Role [{role_id}] created." in cli(
            "auth", "role", "create", "--role-id", role_id, "--display-name", "Readers").stdout
        cli("auth", "role", "user", "add", "--role-id", role_id, "--login", login)
        out = cli("auth", "permission", "grant", "--role-id", role_id, "--resource",
                  "/v2/repositories/", "-o", "read").stdout
        assert f"READ on /v2/repositories/ granted to role [{role_id}]." in out
        roles = {r["id"]: r for r in cli.json("auth", "role", "list")}
        assert roles[role_id]["users"] == [login]
        assert roles[role_id]["permissions"] == {"/v2/repositories/": ["READ"]}
        assert login in cli("auth", "role", "list").stdout

        # The role's grant works: the new user may now list repositories.
        as_user = Cli(tmp_path / "user", stack.api.base, login, password)
        assert as_user.json("repo", "list") == api.get(f"{API}/repositories/").json()
        cli("auth", "role", "user", "remove", "--role-id", role_id, "--login", login)
        assert "HTTP 401 PLP0026" in error_line(as_user("repo", "list", ok=False))

        cli("auth", "permission", "grant", "--login", login, "--resource", resource,
            "-o", "READ", "-o", "UPDATE")
        perms = cli.json("auth", "permission", "list", "--resource", resource)
        assert perms == api.get(f"{API}/permissions/", params={"resource": resource}).json()
        assert perms[0]["users"] == {login: ["READ", "UPDATE"]}
        assert login in cli("auth", "permission", "list", "--resource", resource).stdout
        cli("auth", "permission", "revoke", "--login", login, "--resource", resource,
            "-o", "UPDATE")
        assert cli.json("auth", "permission", "list", "--resource", resource)[0]["users"] == {
            login: ["READ"]}
        both = cli("auth", "permission", "grant", "--login", login, "--role-id", role_id,
                   "--resource", resource, "-o", "READ", ok=False)
        assert both.returncode == 2 and "--login or --role-id" in error_line(both)
        bad_op = cli("auth", "permission", "grant", "--login", login, "--resource", resource,
                     "-o", "FLY", ok=False)
        assert bad_op.returncode == 2

        assert cli.json("auth", "role", "delete", "--role-id", role_id) is None
        assert api.get(f"{API}/roles/{role_id}/").status_code == 404
        assert f"User [{login}] deleted." in cli("auth", "user", "delete", "--login",
                                                  login).stdout
        assert "HTTP 404" in error_line(cli("auth", "user", "delete", "--login", login,
                                            ok=False))
    finally:
        api.delete(f"{API}/users/{login}/")
        api.delete(f"{API}/roles/{role_id}/")


def test_event_listener_http_lifecycle(cli, api):
    made = cli.json("event", "listener", "http", "create", "--url", "http://127.0.0.1:9/hook",
                    "--username", "hook", "--password", "s3cret",
                    "--event-type", "repo.sync.finish")
    listener_id = made["id"]
    try:
        assert made["notifier_config"] == {"url": "http://127.0.0.1:9/hook",
                                           "username": "hook", "password": "*****"}
        listed = cli("event", "listener", "list").stdout
        assert listener_id in listed and "s3cret" not in listed
        assert listener_id in [x["id"] for x in cli.json("event", "listener", "list")]
        cli("event", "listener", "http", "update", "--listener-id", listener_id,
            "--event-type", "task.error", "--event-type", "repo.sync.finish",
            "--password", "")
        now = api.get(f"{API}/events/{listener_id}/").json()
        assert sorted(now["event_types"]) == ["repo.sync.finish", "task.error"]
        assert now["notifier_config"] == {"url": "http://127.0.0.1:9/hook", "username": "hook"}
        assert "HTTP 400" in error_line(cli("event", "listener", "http", "update",
                                            "--listener-id", listener_id, "--url", "ftp://x",
                                            ok=False))
        assert f"Event listener [{listener_id}] deleted." in cli(
            "event", "listener", "delete", "--listener-id", listener_id).stdout
        assert api.get(f"{API}/events/{listener_id}/").status_code == 404
    finally:
        api.delete(f"{API}/events/{listener_id}/")


def test_repo_group_members(cli, api, repo_factory):
    repos = [repo_factory()["id"] for _ in range(3)]
    group_id = uid("grp")
    try:
        made = cli.json("repo", "group", "create", "--group-id", group_id, "--display-name",
                        "Group", "--repo-id", repos[0])
        assert made["repo_ids"] == [repos[0]]
        out = cli("repo", "group", "members", "add", "--group-id", group_id,
                  "--repo-id", repos[1], "--repo-id", repos[2]).stdout
        assert f"Repositories added to [{group_id}]" in out
        assert sorted(api.get(f"{API}/repo_groups/{group_id}/").json()["repo_ids"]) == sorted(
            repos)
        assert sorted(cli.json("repo", "group", "members", "remove", "--group-id", group_id,
                               "--str-eq", f"id={repos[1]}")) == sorted([repos[0], repos[2]])
        listed = cli("repo", "group", "list").stdout
        assert group_id in listed and repos[2] in listed
        assert group_id in [g["id"] for g in cli.json("repo", "group", "list")]
        usage = cli("repo", "group", "members", "add", "--group-id", group_id, ok=False)
        assert usage.returncode == 2
        cli("repo", "group", "delete", "--group-id", group_id)
        assert api.get(f"{API}/repo_groups/{group_id}/").status_code == 404
    finally:
        api.delete(f"{API}/repo_groups/{group_id}/")


def test_consumer_list_bind_unbind_history_and_unregister(cli, api):
    repo_id, consumer_id = uid("iso"), uid("host")
    cli("iso", "repo", "create", "--repo-id", repo_id)
    assert api.post(f"{API}/consumers/", json={"id": consumer_id,
                                                "display_name": "Web host"}).status_code == 201
    try:
        listed = cli("consumer", "list").stdout
        assert consumer_id in listed and "Web host" in listed
        found = cli.json("consumer", "search", "--str-eq", f"id={consumer_id}")
        assert [(c["id"], c["display_name"]) for c in found] == [(consumer_id, "Web host")]
        assert found == [api.get(f"{API}/consumers/{consumer_id}/").json()]

        report = cli.json("consumer", "bind", "--consumer-id", consumer_id, "--repo-id",
                          repo_id, "--distributor-id", "iso_distributor", "--no-notify-agent")
        assert report["result"]["repo_id"] == repo_id and report["spawned_tasks"] == []
        detailed = cli("consumer", "list", "--details").stdout
        assert f"{repo_id}/iso_distributor" in detailed
        out = cli("consumer", "unbind", "--consumer-id", consumer_id, "--repo-id", repo_id,
                  "--distributor-id", "iso_distributor", "--force").stdout
        assert f"Consumer [{consumer_id}] unbound from {repo_id}/iso_distributor." in out
        assert api.get(f"{API}/consumers/{consumer_id}/bindings/").json() == []

        history = cli.json("consumer", "history", "--consumer-id", consumer_id)
        assert history == api.get(f"{API}/consumers/{consumer_id}/history/").json()
        types = [e["type"] for e in history]
        assert "consumer_registered" in types and "repo_bound" in types, types
        assert "repo_bound" in cli("consumer", "history", "--consumer-id", consumer_id,
                                   "--event-type", "repo_bound").stdout

        cli("consumer", "unregister", "--consumer-id", consumer_id)
        assert api.get(f"{API}/consumers/{consumer_id}/").status_code == 404
        assert "HTTP 404" in error_line(cli("consumer", "history", "--consumer-id",
                                            consumer_id, ok=False))
    finally:
        api.delete(f"{API}/consumers/{consumer_id}/")
        api.delete(f"{API}/repositories/{repo_id}/")
