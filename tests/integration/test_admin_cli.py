"""``pulp2ng-admin``, the installed console script, driven as a subprocess against real stacks.

Each call runs with its own config home (``XDG_CONFIG_HOME``), so no admin.conf or login
certificate of the machine leaks in; the server and credentials come from the environment.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from tests.integration.test_iso import unique_upstream
from tests.stack import Stack, free_port

API = "/pulp/api/v2"
ADMIN = str(Path(sys.executable).parent / "pulp2ng-admin")


class Cli:
    """``pulp2ng-admin`` with an environment: ``cli("repo", "list")``."""

    def __init__(self, home: Path, server: str, username="admin", password="admin", **env):
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PULP2NG_ADMIN_")}
        self.env.update({"XDG_CONFIG_HOME": str(home), "HOME": str(home), "COLUMNS": "250",
                         "PULP2NG_ADMIN_SERVER": server, **env})
        if username:
            self.env["PULP2NG_ADMIN_USERNAME"] = username
        if password:
            self.env["PULP2NG_ADMIN_PASSWORD"] = password

    def __call__(self, *args, ok=True, timeout=180) -> subprocess.CompletedProcess:
        done = subprocess.run([ADMIN, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        assert "Traceback" not in done.stderr + done.stdout, done.stderr
        if ok:
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    def json(self, *args):
        return json.loads(self("--json", *args).stdout)


def error_line(done: subprocess.CompletedProcess) -> str:
    """A failure is exactly one line on stderr, and a non-zero exit."""
    assert done.returncode != 0, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    return lines[0]


@pytest.fixture
def cli(stack, tmp_path):
    return Cli(tmp_path / "config", stack.api.base)


@pytest.fixture
def iso_upstream(serve, tmp_path):
    unique_upstream(tmp_path / "up", count=3)
    feed, _ = serve(tmp_path / "up")
    return feed


def test_help_reads_well(cli):
    top = cli("--help").stdout
    for word in ("--server", "--ca", "--username", "--password", "--json",
                 "login", "logout", "repo", "tasks", "orphan", "server", "iso", "python",
                 "docker", "ostree", "rpm", "auth", "event", "consumer"):
        assert word in top
    assert "Create, change and list iso repositories" in cli("iso", "--help").stdout
    sync_help = cli("iso", "sync", "run", "--help").stdout
    assert "--repo-id" in sync_help and "--bg" in sync_help
    create_help = cli("iso", "repo", "create", "--help").stdout
    for option in ("--feed", "--display-name", "--remove-missing", "--relative-url",
                   "--max-downloads", "--basic-auth-username", "--basic-auth-password"):
        assert option in create_help
    assert cli("iso").stdout.startswith("Usage: pulp2ng-admin iso")  # a bare group: its help


def complete(cli: Cli, words: str, cword: int) -> list[str]:
    """What click's bash completion offers for ``words`` (the shell's COMP_WORDS, joined)."""
    done = subprocess.run([ADMIN], env={**cli.env, "COMP_WORDS": words, "COMP_CWORD": str(cword),
                                        "_PULP2NG_ADMIN_COMPLETE": "bash_complete"},
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0 and not done.stderr, done.stderr
    return done.stdout.splitlines()


def test_shell_completion_through_click(tmp_path):
    """No server is asked: completion reads the command tree, sections included."""
    cli = Cli(tmp_path / "config", f"http://127.0.0.1:{free_port()}")
    source = subprocess.run([ADMIN], env={**cli.env, "_PULP2NG_ADMIN_COMPLETE": "bash_source"},
                            capture_output=True, text=True, timeout=60, check=True).stdout
    assert "_pulp2ng_admin_completion()" in source
    assert "complete -o nosort -F _pulp2ng_admin_completion pulp2ng-admin" in source

    assert complete(cli, "pulp2ng-admin is", 1) == ["plain,iso"]
    assert complete(cli, "pulp2ng-admin ta", 1) == ["plain,tasks"]
    assert complete(cli, "pulp2ng-admin iso ", 2) == [
        "plain,content", "plain,publish", "plain,repo", "plain,sync"]
    assert complete(cli, "pulp2ng-admin rpm content u", 3) == ["plain,upload"]
    assert "plain,--repo-id" in complete(cli, "pulp2ng-admin iso sync run --", 4)

    # The README's line, run by bash: the function it defines fills COMPREPLY.
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    line = re.search(r'`(eval "\$\(_PULP2NG_ADMIN_COMPLETE=bash_source pulp2ng-admin\)")`',
                     readme).group(1)
    shell = (f"{line}\nCOMP_WORDS=(pulp2ng-admin docker sync r); COMP_CWORD=3\n"
             "_pulp2ng_admin_completion pulp2ng-admin\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    env = {**cli.env, "PATH": f"{Path(ADMIN).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", shell], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout.split() == ["run"], (done.stdout, done.stderr)


def test_iso_create_list_sync_publish_search_and_delete(cli, api, iso_upstream):
    repo_id = f"iso-{uuid.uuid4().hex[:8]}"
    out = cli("iso", "repo", "create", "--repo-id", repo_id, "--feed", iso_upstream,
              "--display-name", "Admin zoo", "--max-downloads", "2", "--remove-missing",
              "--basic-auth-username", "feeduser", "--basic-auth-password", "s3cret").stdout
    assert f"Repository [{repo_id}] created." in out
    importer = api.get(f"{API}/repositories/{repo_id}/importers/iso_importer/").json()
    assert importer["config"] == {"feed": iso_upstream, "max_downloads": 2,
                                  "remove_missing": True, "basic_auth_username": "feeduser",
                                  "basic_auth_password": "*****"}

    listed = cli("iso", "repo", "list", "--details").stdout
    assert repo_id in listed and "Admin zoo" in listed
    assert "*****" in listed and "s3cret" not in listed

    sync = cli("iso", "sync", "run", "--repo-id", repo_id).stdout
    assert f"Sync of repository {repo_id}: finished (added 3, removed 0" in sync
    assert f"Publish of repository {repo_id}: finished (success)" in sync
    manifest = requests.get(f"{api.base}/pulp/isos/{repo_id}/PULP_MANIFEST", timeout=30)
    assert manifest.status_code == 200 and manifest.text.count("\n") == 3

    found = cli("iso", "content", "search", "--repo-id", repo_id).stdout
    assert all(f"file-{i}.iso" in found for i in (1, 2, 3))
    one = cli.json("iso", "content", "search", "--repo-id", repo_id,
                   "--str-eq", "name=file-2.iso")
    assert [a["metadata"]["name"] for a in one] == ["file-2.iso"]

    publish = cli("iso", "publish", "run", "--repo-id", repo_id).stdout
    assert f"Publish of repository {repo_id}: finished" in publish

    cli("iso", "repo", "update", "--repo-id", repo_id, "--display-name", "Renamed",
        "--relative-url", f"moved/{repo_id}", "--basic-auth-password", "")
    repo = api.get(f"{API}/repositories/{repo_id}/", params={"details": "true"}).json()
    assert repo["display_name"] == "Renamed"
    assert repo["distributors"][0]["config"]["relative_url"] == f"moved/{repo_id}"
    assert "basic_auth_password" not in repo["importers"][0]["config"]

    assert f"Repository [{repo_id}] deleted." in cli("repo", "delete", "--repo-id",
                                                      repo_id).stdout
    assert api.get(f"{API}/repositories/{repo_id}/").status_code == 404


def test_json_prints_the_api_body_unchanged(cli, api, repo_factory):
    repo_id = f"iso-{uuid.uuid4().hex[:8]}"
    created = cli.json("iso", "repo", "create", "--repo-id", repo_id)
    try:
        assert created == api.get(f"{API}/repositories/{repo_id}/").json()
        repo_factory()  # a repository of another kind: in `repo list`, not in `iso repo list`
        assert cli.json("repo", "list") == api.get(f"{API}/repositories/").json()
        assert cli.json("repo", "list", "--details") == api.get(
            f"{API}/repositories/", params={"details": "true"}).json()
        iso_repos = cli.json("iso", "repo", "list")
        assert repo_id in [r["id"] for r in iso_repos]
        assert all(r["notes"].get("_repo-type") == "iso-repo" for r in iso_repos)
        assert cli.json("repo", "search", "--str-eq", f"id={repo_id}") == [created]
        assert cli.json("server", "status")["api_version"] == "2"
        assert cli.json("orphan", "list").keys() == api.get(f"{API}/content/orphans/"
                                                              ).json().keys()

        # --bg: the call report; then the task through `tasks details` and `tasks list`.
        report = cli.json("iso", "publish", "run", "--repo-id", repo_id, "--bg")
        assert set(report) == {"result", "error", "spawned_tasks"}
        task_id = report["spawned_tasks"][0]["task_id"]
        api.wait_task(task_id)
        assert cli.json("tasks", "details", "--task-id", task_id) == api.task(task_id)
        assert cli.json("tasks", "list", "--repo-id", repo_id) == api.get(
            f"{API}/tasks/", params={"tag": f"pulp:repository:{repo_id}"}).json()
        listed = cli("tasks", "list", "--repo-id", repo_id).stdout
        assert task_id in listed and "publish" in listed
        # Without --bg, --json prints the final task reports.
        finals = cli.json("iso", "publish", "run", "--repo-id", repo_id)
        assert [t["state"] for t in finals] == ["finished"]
        assert finals[0] == api.task(finals[0]["task_id"])
    finally:
        api.delete(f"{API}/repositories/{repo_id}/")


def test_human_output_of_the_platform_commands(cli):
    status = cli("server", "status").stdout
    assert "API version" in status and "Worker" in status
    assert "Type" in cli("orphan", "list").stdout
    cli("tasks", "list", "--state", "finished", "--limit", "3")


def test_a_failed_sync_exits_non_zero_with_its_error(cli, serve, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    feed, _ = serve(empty)  # no PULP_MANIFEST: the sync fails
    repo_id = f"iso-{uuid.uuid4().hex[:8]}"
    cli("iso", "repo", "create", "--repo-id", repo_id, "--feed", feed)
    try:
        done = cli("iso", "sync", "run", "--repo-id", repo_id, ok=False)
        assert done.returncode == 1
        line = error_line(done)
        assert f"(sync of repository {repo_id}) error:" in line
        assert "PULP_MANIFEST" in line
        assert f"Sync of repository {repo_id}: error" in done.stdout
    finally:
        cli("repo", "delete", "--repo-id", repo_id)


def test_bad_input_gives_one_clean_line(cli, stack):
    missing = f"nope-{uuid.uuid4().hex[:8]}"
    line = error_line(cli("iso", "sync", "run", "--repo-id", missing, ok=False))
    assert "HTTP 404 PLP0009" in line and missing in line
    assert "HTTP 404" in error_line(cli("--json", "repo", "delete", "--repo-id", missing,
                                        ok=False))
    assert "HTTP 404" in error_line(cli("tasks", "details", "--task-id", missing, ok=False))
    assert "HTTP 400" in error_line(cli("iso", "repo", "create", "--repo-id", "bad id!",
                                        ok=False))
    usage = cli("iso", "repo", "create", "--repo-id", "x", "--max-downloads", "zero",
                ok=False)
    assert usage.returncode == 2 and "--max-downloads" in error_line(usage)
    assert "No such command" in error_line(cli("repo", "lst", ok=False))
    assert "--filters" in error_line(cli("repo", "search", "--filters", "{bad", ok=False))
    assert "--state" in error_line(cli("tasks", "purge", ok=False))
    refused = Cli(stack.root / "nowhere", f"http://127.0.0.1:{free_port()}")
    assert "cannot connect" in error_line(refused("repo", "list", ok=False))


def test_a_user_without_permission_gets_a_clear_401(api, stack, tmp_path):
    login, password = f"u-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    assert api.post(f"{API}/users/", json={"login": login, "password": password}
                    ).status_code == 201
    try:
        user = Cli(tmp_path / "user", stack.api.base, login, password)
        assert "HTTP 401 PLP0026" in error_line(user("repo", "list", ok=False))
        assert "HTTP 401 PLP0026" in error_line(
            user("iso", "repo", "create", "--repo-id", f"x-{uuid.uuid4().hex[:6]}", ok=False))
        wrong = Cli(tmp_path / "wrong", stack.api.base, login, "wrong")
        assert "HTTP 401 PLP0025" in error_line(wrong("repo", "list", ok=False))
        anonymous = Cli(tmp_path / "anon", stack.api.base, None, None)
        line = error_line(anonymous("repo", "list", ok=False))
        assert "HTTP 401 PLP0025" in line and "login" in line
        assert anonymous("server", "status").returncode == 0  # status needs no auth
    finally:
        api.delete(f"{API}/users/{login}/")


@pytest.fixture(scope="module")
def https_stack(database, tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("admin-https"), database, workers=0, https=True)
    yield s
    s.stop()


def test_login_stores_a_certificate_used_over_https_and_logout_removes_it(https_stack,
                                                                          tmp_path):
    api = https_stack.api
    login, password = f"u-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    assert api.post(f"{API}/users/", json={"login": login, "password": password}
                    ).status_code == 201
    assert api.post(f"{API}/permissions/actions/grant_to_user/", json={
        "login": login, "resource": "/v2/repositories/", "operations": ["READ"]}
    ).status_code == 200
    try:
        home = tmp_path / "config"
        ca = str(https_stack.ca_cert)
        with_password = Cli(home, https_stack.https_base, login, password)
        out = with_password("--ca", ca, "login").stdout
        assert f"Logged in as {login}" in out
        stored = [home / "pulp2ng" / "login-cert.pem", home / "pulp2ng" / "login-key.pem"]
        for path in stored:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert "BEGIN CERTIFICATE" in stored[0].read_text()

        certified = Cli(home, https_stack.https_base, login, None)
        assert certified.json("--ca", ca, "repo", "list") == api.get(
            f"{API}/repositories/").json()
        # The certificate is only presented over HTTPS; plain HTTP says so.
        plain = Cli(home, api.base, login, None)
        assert "only presented over HTTPS" in error_line(plain("repo", "list", ok=False))
        # Without --ca, the private CA is not trusted: one line, no traceback.
        assert "TLS" in error_line(certified("repo", "list", ok=False))

        assert "Logged out." in certified("logout").stdout
        assert not any(path.exists() for path in stored)
        assert "HTTP 401 PLP0025" in error_line(certified("--ca", ca, "repo", "list",
                                                         ok=False))
    finally:
        api.delete(f"{API}/users/{login}/")


def test_python_section_create_sync_and_search(cli, api, serve, tmp_path):
    """The python section has the iso section's shape with python's selection options."""
    from tests.conftest import FIXTURES

    project = f"admcli{uuid.uuid4().hex[:8]}"  # units are global: a project nobody stored
    dist, tree = tmp_path / "dist", tmp_path / "index"
    tree.mkdir()
    subprocess.run([sys.executable, str(FIXTURES / "make_py_packages.py"), str(dist),
                    "--spec", f"{project}==1.0", "--spec", f"{project}==2.0"],
                   check=True, capture_output=True)
    feed, _ = serve(tree)
    subprocess.run([sys.executable, str(FIXTURES / "make_simple_index.py"), str(dist),
                    str(tree), "--base-url", feed], check=True, capture_output=True)
    repo_id = f"py-{uuid.uuid4().hex[:8]}"
    cli("python", "repo", "create", "--repo-id", repo_id, "--feed", feed,
        "--include", f"{project}==2.0")
    try:
        repo = api.get(f"{API}/repositories/{repo_id}/", params={"details": "true"}).json()
        assert repo["importers"][0]["config"]["includes"] == [f"{project}==2.0"]
        assert repo["notes"]["_repo-type"] == "PYTHON"
        assert repo_id in [r["id"] for r in cli.json("python", "repo", "list")]
        out = cli("python", "sync", "run", "--repo-id", repo_id).stdout
        assert f"Sync of repository {repo_id}: finished (added 2, removed 0" in out
        found = cli.json("python", "content", "search", "--repo-id", repo_id)
        assert sorted(a["metadata"]["version"] for a in found) == ["2.0", "2.0"]
        assert project in cli("python", "content", "search", "--repo-id", repo_id).stdout
    finally:
        api.delete(f"{API}/repositories/{repo_id}/")
