"""The README's quick starts work verbatim (issue 16).

Each test takes a ```bash block of README.md as it is (the "## Quick start" preamble, then the
block under "### Files", "### RPM packages", "### Python packages", "### Containers" or
"### OSTree"), substitutes only addresses: the stack's port for 24817, a temporary directory
for /tmp/, a local upstream for a public one (pypi.org, Docker Hub) and a free port for a
block's own, runs it with ``bash`` under ``set -euo pipefail`` and checks what it produced, so
the README cannot rot.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, require_tool
from tests.stack import Stack, free_port

README = Path(__file__).resolve().parents[2] / "README.md"
#: A pip that sees only the index it is given (see tests/fixtures/README.md).
PIP_ENV = {"PIP_CONFIG_FILE": "/dev/null", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           "PIP_NO_INPUT": "1"}


def readme_block(heading: str) -> str:
    """The first ```bash block of the README section whose heading starts with ``heading``
    (a line starting with ``#`` inside a fence is a shell comment, not a heading)."""
    section, fence, block = None, None, []
    for line in README.read_text().splitlines(keepends=True):
        if fence is None and line.startswith("```"):
            fence = line.strip()
        elif fence is not None and line.strip() == "```":
            if section and fence == "```bash":
                return "".join(block)
            fence, block = None, []
        elif fence is not None:
            block.append(line)
        elif line.startswith("#"):
            section = line.lstrip("#").strip().startswith(heading)
    raise AssertionError(f"no ```bash block under {heading!r} in README.md")


def script(stack, tmp_path: Path, heading: str, subs: dict[str, str]) -> str:
    """Preamble + the block under ``heading``, with addresses and paths substituted."""
    text = readme_block("Quick start") + readme_block(heading)
    # The README's own paths first: a substituted path may itself lie under /tmp/.
    text = text.replace("/tmp/", f"{tmp_path}/")
    for old, new in subs.items():
        assert old in text, f"{old!r} is no longer in the README block {heading!r}"
        text = text.replace(old, new)
    text = text.replace("127.0.0.1:24817", f"127.0.0.1:{stack.port}")
    return "set -euo pipefail\n" + text


def run_block(text: str, cwd: Path, timeout: float = 600, env=None) -> str:
    """Run a block with bash in its own process group and kill whatever it left running
    (the files block starts a server in the background). Output goes to a file, not a pipe
    a background child would hold open."""
    out = cwd / "block.out"
    with open(out, "wb") as fh:
        proc = subprocess.Popen(["bash", "-c", text], cwd=cwd, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env={k: v for k, v in os.environ.items()
                                     if k != "PIP_FIND_LINKS"} | (env or {}))
        try:
            code = proc.wait(timeout)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            proc.wait(10)
    output = out.read_text(errors="replace")
    assert code == 0, f"README block failed ({code}):\n{text}\n--- output ---\n{output}"
    return output


def task_lines(output: str) -> list[tuple[str, str]]:
    """(task id, state) of every line ``follow`` printed."""
    return re.findall(r"^([0-9a-f-]{36}) (\w+)", output, re.M)


@pytest.fixture
def readme_repo(api):
    """Delete the repository a block created (its id is fixed by the README)."""
    ids = []
    yield ids.append
    for repo_id in ids:
        api.delete(f"/pulp/api/v2/repositories/{repo_id}/")


@pytest.fixture
def cwd(tmp_path):
    path = tmp_path / "cwd"
    path.mkdir()
    return path


def test_files_quick_start(stack, readme_repo, tmp_path, cwd):
    require_tool("curl")
    readme_repo("isos")
    text = script(stack, tmp_path, "Files", {"tests/fixtures/": f"{FIXTURES}/",
                                             "8001": str(free_port())})
    output = run_block(text, cwd)
    assert [state for _id, state in task_lines(output)] == ["finished", "finished"], output
    upstream = (tmp_path / "files" / "file-1.iso").read_bytes()
    assert (cwd / "file-1.iso").read_bytes() == upstream
    assert "file-1.iso," in output   # the published PULP_MANIFEST was printed


#: Fake releases of the projects the README's Python block names, with Django's dependencies.
PY_SPECS = ["Django==4.1.13", "Django==4.2:asgiref>=3.6,sqlparse>=0.3.1",
            "Django==4.2.1:asgiref>=3.6,sqlparse>=0.3.1",
            "Django==4.2.2:asgiref>=3.6,sqlparse>=0.3.1",
            "Django==5.0:asgiref>=3.7,sqlparse>=0.3.1",
            "requests==2.30.0", "requests==2.31.0", "asgiref==3.5.2", "asgiref==3.7.2",
            "sqlparse==0.4.4", "urllib3==2.0.0"]


def test_python_quick_start(stack, readme_repo, serve, tmp_path, cwd):
    """pypi.org's layout: the index on one host, the files on another (127.0.0.2 here, as
    files.pythonhosted.org), linked by absolute URLs."""
    require_tool("curl")
    readme_repo("pypi")
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, str(FIXTURES / "make_py_packages.py"), str(dist),
                    *[a for spec in PY_SPECS for a in ("--spec", spec)]],
                   check=True, capture_output=True)
    tree = tmp_path / "pypi-tree"
    tree.mkdir()
    index_url, _log = serve(tree)
    files_url, files_log = serve(tree, "--bind", "127.0.0.2")
    files_url = files_url.replace("127.0.0.1", "127.0.0.2")
    subprocess.run([sys.executable, str(FIXTURES / "make_simple_index.py"), str(dist),
                    str(tree), "--base-url", files_url], check=True, capture_output=True)
    for page in (tree / "simple").glob("*/index.*"):   # links to the files host
        page.write_text(page.read_text().replace("../../packages/", f"{files_url}packages/"))

    text = script(stack, tmp_path, "Python packages", {"https://pypi.org/": index_url})
    output = run_block(text, cwd, env=PIP_ENV)
    assert [state for _id, state in task_lines(output)] == ["finished", "finished"], output
    installed = re.search(r"^Successfully installed (.*)$", output, re.M)
    assert installed, output
    assert sorted(installed.group(1).lower().split()) == [
        "asgiref-3.7.2", "django-4.2.2", "sqlparse-0.4.4"], output
    # pulp2ng fetched the wheel from the files host
    assert re.search(r"GET /packages/django-4\.2\.2-py3-none-any\.whl 200",
                     files_log.read_text(), re.I)
    venv_python = tmp_path / "pulp-venv" / "bin" / "python"
    assert (tmp_path / "pulp-venv").is_dir()
    version = subprocess.run(
        [str(venv_python), "-c", "import importlib.metadata as m; print(m.version('django'))"],
        capture_output=True, text=True, check=True).stdout.strip()
    assert version == "4.2.2"


def test_containers_quick_start(stack, readme_repo, request, tmp_path, cwd):
    require_tool("curl")
    require_tool("skopeo")
    from tests.unit.docker.conftest import run, start_registry
    from tests.unit.docker.test_registry_client import Layout

    reg = start_registry(request, tmp_path / "registry")
    layout = tmp_path / "layout"
    run([sys.executable, str(FIXTURES / "make_oci_images.py"), str(layout),
         "--tag", "1.36.1=amd64", "--tag", "1.36.1-musl=amd64", "--tag", "1.37.0=amd64",
         "--push", f"{reg.url}/library/busybox"])
    digest = Layout(layout).tags["1.36.1"]
    readme_repo("busybox")

    text = script(stack, tmp_path, "Containers", {"https://registry-1.docker.io": reg.url})
    output = run_block(text, cwd)
    assert [state for _id, state in task_lines(output)] == ["finished", "finished"], output
    inspected = json.loads(output[output.rindex("\n{\n") + 1:])   # skopeo's JSON
    assert inspected["Digest"] == digest
    assert sorted(inspected["RepoTags"]) == ["1.36.1"]   # the filters left the others out


def test_rpm_quick_start(stack, readme_repo, tmp_path, cwd):
    require_tool("curl")
    for tool in ("rpmbuild", "createrepo_c", "dnf"):
        require_tool(tool)
    readme_repo("zoo")
    text = script(stack, tmp_path, "RPM packages", {"tests/fixtures/": f"{FIXTURES}/",
                                                    "8002": str(free_port())})
    output = run_block(text, cwd)
    assert [state for _id, state in task_lines(output)] == ["finished", "finished"], output
    # dnf installed walrus (the newest, 1.1) with its dependency chain from pulp2ng
    installed = tmp_path / "zoo-root/usr/share/pulp2ng-fixture"
    assert (installed / "walrus.txt").read_text() == "walrus 1.1\n"
    assert sorted(p.name for p in installed.iterdir()) == [
        "walrus-base.txt", "walrus-lib.txt", "walrus.txt"]


def test_ostree_quick_start(stack, readme_repo, tmp_path, cwd):
    require_tool("curl")
    ostree = require_tool("ostree")
    ref = "fedora/39/x86_64/silverblue"
    readme_repo("fedora")

    text = script(stack, tmp_path, "OSTree", {"tests/fixtures/": f"{FIXTURES}/",
                                              "8002": str(free_port())})
    output = run_block(text, cwd)
    assert [state for _id, state in task_lines(output)] == ["finished", "finished"], output
    head = subprocess.run([ostree, f"--repo={tmp_path / 'ostree-up'}", "rev-parse", ref],
                          capture_output=True, text=True, check=True).stdout.strip()
    pulled = subprocess.run([ostree, f"--repo={cwd / 'local'}", "rev-parse", f"pulp:{ref}"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert pulled == head
    refs = subprocess.run([ostree, f"--repo={cwd / 'local'}", "refs"],
                          capture_output=True, text=True, check=True).stdout.split()
    assert refs == [f"pulp:{ref}"]


def test_users_quick_start(stack, readme_repo, tmp_path, cwd):
    require_tool("curl")
    readme_repo("zoo")
    api = stack.api
    try:
        output = run_block(script(stack, tmp_path, "Users, roles", {}), cwd)
    finally:
        alice = api.get("/pulp/api/v2/users/alice/").json()
        api.delete("/pulp/api/v2/roles/readers/")
        api.delete("/pulp/api/v2/users/alice/")
    replies = json_values(output)
    assert replies[0]["login"] == "alice" and replies[1]["id"] == "zoo"
    assert replies[2] is None and replies[3]["id"] == "zoo"      # alice reads zoo
    assert replies[4]["error"]["code"] == "PLP0026"              # but not the collection
    assert replies[5]["id"] == "readers"
    assert [r["id"] for r in replies[8] if r["id"] == "zoo"] == ["zoo"]   # via the role
    assert replies[9][0]["users"]["alice"] == ["EXECUTE", "READ"]
    assert replies[10]["login"] == "alice" and len(replies) == 11
    assert alice["roles"] == ["readers"] and alice["name"] == "Alice"


def test_consumers_quick_start(stack, readme_repo, tmp_path, cwd):
    require_tool("curl")
    readme_repo("site-files")
    try:
        output = run_block(script(stack, tmp_path, "Consumers", {}), cwd)
    finally:
        stack.api.delete("/pulp/api/v2/consumers/web1/")
    href, rest = output.split("\n", 1)
    assert href == "/pulp/api/v2/consumers/web1/"
    replies = json_values(rest)
    assert replies[0]["id"] == "site-files"
    assert replies[1]["result"]["repo_id"] == "site-files" and replies[1]["spawned_tasks"] == []
    assert replies[2]["details"]["url"].endswith("/site-files/")
    assert replies[3]["profile_hash"] and replies[4][0]["consumers"] == ["web1"]
    assert [e["type"] for e in replies[5]][-1] == "consumer_registered"


def json_values(output: str) -> list:
    """The JSON bodies curl printed back to back (curl adds no newline)."""
    decoder, values, at = json.JSONDecoder(), [], 0
    while True:
        while at < len(output) and output[at].isspace():
            at += 1
        if at == len(output):
            return values
        value, at = decoder.raw_decode(output, at)
        values.append(value)


def test_follow_fails_with_the_error_of_a_failed_task(stack, readme_repo, tmp_path, cwd):
    """The preamble's ``follow`` prints a failed task's error and exits non-zero (so a pasted
    block under ``set -e`` stops there), and echoes a body that is no call report."""
    require_tool("curl")
    readme_repo("readme-broken")
    text = script(stack, tmp_path, "Quick start", {}) + f"""
curl $A -X POST $P/repositories/ -d '{{"id": "readme-broken", "importer_type_id": "iso_importer",
  "importer_config": {{"feed": "http://127.0.0.1:{free_port()}/"}}}}' > /dev/null
if curl $A -X POST $P/repositories/readme-broken/actions/sync/ -d '{{}}' | follow; then
  exit 3
fi
if curl $A -X POST $P/repositories/no-such-repo/actions/sync/ -d '{{}}' | follow; then
  exit 4
fi
"""
    output = run_block(text, cwd)
    assert [state for _id, state in task_lines(output)] == ["error"], output
    assert re.search(r"^[0-9a-f-]{36} error \S", output, re.M), output   # with a description
    assert '"http_status": 404' in output, output


@pytest.fixture(scope="module")
def https_stack(database, tmp_path_factory):
    """A stack serving HTTPS as ``make run`` does, for the blocks that use port 24818."""
    s = Stack(tmp_path_factory.mktemp("readme-https"), database, workers=1, https=True)
    yield s
    s.stop()


def https_subs(stack) -> dict[str, str]:
    return {"127.0.0.1:24818": f"127.0.0.1:{stack.https_port}",
            "var/pulp2ng-state/pki/ca.crt": str(stack.ca_cert)}


def test_https_quick_start(https_stack, tmp_path, cwd):
    require_tool("curl")
    output = run_block(script(https_stack, tmp_path, "HTTPS and login", https_subs(https_stack)),
                       cwd)
    # The login certificate alone (no password) listed the repositories over HTTPS.
    assert isinstance(json.loads(output), list), output


def test_agent_quick_start(https_stack, tmp_path, cwd):
    require_tool("curl")
    api = https_stack.api
    subs = {**https_subs(https_stack), "tests/fixtures/": f"{FIXTURES}/",
            ".venv/bin/": f"{Path(sys.executable).parent}/"}
    try:
        output = run_block(script(https_stack, tmp_path, "A consumer host", subs), cwd)
    finally:
        api.delete("/pulp/api/v2/repositories/site/")
        api.delete("/pulp/api/v2/consumers/host1/")
    # sync + auto-publish, then the install the daemon carried out
    assert [state for _id, state in task_lines(output)] == ["finished"] * 3, output
    installed = tmp_path / "host1-root" / "iso" / "files" / "file-1.iso"
    assert installed.read_bytes() == (tmp_path / "site" / "file-1.iso").read_bytes()
    assert "registered consumer host1" in output and "unregistered consumer host1" in output
    profile, _ = json.JSONDecoder().raw_decode(
        output, output.index("{", output.index("file-1.iso\n")))
    assert [p["name"] for p in profile["profile"]] == ["file-1.iso"], output
    assert api.get("/pulp/api/v2/consumers/host1/").status_code == 404
