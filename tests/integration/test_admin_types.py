"""``pulp2ng-admin``'s python, docker, ostree and rpm sections end to end (issue 21).

Each test drives the installed console script as a subprocess against the shared stack and a
real local upstream: ``repo create`` → ``sync run`` → ``publish run`` → ``content search``
(``--json`` compared with the API) → ``content copy`` into a second repository → ``content
remove`` (→ ``content upload`` where the type takes uploads). iso, and rpm uploads, are covered
by test_admin_cli.py and test_admin_sections.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid

import pytest
import requests

from tests.conftest import FIXTURES
from tests.integration import test_ostree
from tests.integration.test_admin_cli import Cli
from tests.integration.test_ostree import ARM, DEBUG, X86
from tests.integration.test_python import published_files
from tests.unit.docker import conftest as docker_fixtures

API = "/pulp/api/v2"

# Fixtures of other modules, used by name (assigned, not imported, so pyflakes stays quiet).
upstream_src, upstream = test_ostree.upstream_src, test_ostree.upstream
images, registry = docker_fixtures.images, docker_fixtures.registry


@pytest.fixture
def cli(stack, tmp_path):
    return Cli(tmp_path / "config", stack.api.base)


def api_units(api, repo_id, type_id):
    """The repository's units of one type, as the API's unit search answers."""
    response = api.post(f"{API}/repositories/{repo_id}/search/units/",
                        json={"criteria": {"type_ids": [type_id]}})
    assert response.status_code == 200, response.text
    return response.json()


def by_unit(units):
    return sorted(units, key=lambda a: a["unit_id"])


def searched(cli, section, repo_id, *criteria):
    return cli.json(section, "content", "search", "--repo-id", repo_id, *criteria)


def counts(api, repo_id):
    return api.get(f"{API}/repositories/{repo_id}/").json()["content_unit_counts"]


def synced(cli, section, repo_id) -> int:
    """``sync run`` (with its auto publish) in human form; the number of units it added."""
    out = cli(section, "sync", "run", "--repo-id", repo_id).stdout
    found = re.search(rf"Sync of repository {repo_id}: finished \(added (\d+), removed 0",
                      out)
    assert found, out
    assert f"Publish of repository {repo_id}: finished" in out
    return int(found.group(1))


def published(cli, section, repo_id):
    out = cli(section, "publish", "run", "--repo-id", repo_id).stdout
    assert f"Publish of repository {repo_id}: finished" in out, out


def copied(cli, section, src, dst, *criteria) -> str:
    out = cli(section, "content", "copy", "--from-repo-id", src, "--to-repo-id", dst,
              *criteria).stdout
    assert f"Copy from repository {src} into repository {dst}: finished" in out, out
    return out


def removed(cli, section, repo_id, *criteria) -> int:
    out = cli(section, "content", "remove", "--repo-id", repo_id, *criteria).stdout
    found = re.search(rf"Unassociate of repository {repo_id}: finished \(removed (\d+)\)", out)
    assert found, out
    return int(found.group(1))


def delete_repos(api, *repo_ids):
    for repo_id in repo_ids:
        api.delete(f"{API}/repositories/{repo_id}/")


def make_py_packages(out, *specs):
    subprocess.run([sys.executable, str(FIXTURES / "make_py_packages.py"), str(out),
                    *[a for spec in specs for a in ("--spec", spec)]],
                   check=True, capture_output=True)
    return sorted(p.name for p in out.iterdir())


def test_python_sync_publish_search_copy_remove_upload(cli, api, serve, tmp_path):
    project = f"admtypes{uuid.uuid4().hex[:8]}"  # units are global: a project nobody stored
    dist, tree = tmp_path / "dist", tmp_path / "index"
    tree.mkdir()
    files = make_py_packages(dist, f"{project}==1.0", f"{project}==2.0")
    assert len(files) == 4  # a wheel and an sdist of each release
    feed, _ = serve(tree)
    subprocess.run([sys.executable, str(FIXTURES / "make_simple_index.py"), str(dist),
                    str(tree), "--base-url", feed], check=True, capture_output=True)
    src, dst = f"py-{uuid.uuid4().hex[:8]}", f"py-{uuid.uuid4().hex[:8]}"
    cli("python", "repo", "create", "--repo-id", src, "--feed", feed,
        "--package-names", project)
    cli("python", "repo", "create", "--repo-id", dst)
    try:
        assert synced(cli, "python", src) == 4
        published(cli, "python", src)
        assert published_files(api, src) == set(files)

        found = searched(cli, "python", src)
        assert by_unit(found) == by_unit(api_units(api, src, "python_package"))
        assert sorted(a["metadata"]["filename"] for a in found) == files
        human = cli("python", "content", "search", "--repo-id", src).stdout
        assert all(name in human for name in files)

        copied(cli, "python", src, dst, "--str-eq", "version=1.0")
        assert sorted(a["metadata"]["filename"] for a in searched(cli, "python", dst)) == [
            name for name in files if "-1.0" in name]
        assert removed(cli, "python", dst, "--str-eq", "packagetype=sdist") == 1
        assert [a["metadata"]["packagetype"] for a in searched(cli, "python", dst)] == [
            "bdist_wheel"]

        # An upload: a release the index does not have, its metadata read from the file.
        extra = make_py_packages(tmp_path / "extra", f"{project}==3.0")
        wheel = next(tmp_path / "extra" / n for n in extra if n.endswith(".whl"))
        out = cli("python", "content", "upload", "--repo-id", dst, "--file", str(wheel)).stdout
        assert f"Import upload of repository {dst}: finished" in out
        found = searched(cli, "python", dst, "--str-eq", "version=3.0")
        assert [(a["metadata"]["filename"], a["metadata"]["name"]) for a in found] == [
            (wheel.name, project)]
        published(cli, "python", dst)
        assert published_files(api, dst) == {wheel.name} | {
            n for n in files if n.endswith("-1.0-py3-none-any.whl")}
        assert counts(api, src) == {"python_package": 4}  # the source is untouched
    finally:
        delete_repos(api, src, dst)


def test_docker_sync_publish_search_copy_remove(cli, api, registry):
    src, dst = f"dkr-{uuid.uuid4().hex[:8]}", f"dkr-{uuid.uuid4().hex[:8]}"
    served = f"admin/{src}"
    cli("docker", "repo", "create", "--repo-id", src, "--feed", registry.url,
        "--upstream-name", "fixtures/app", "--tags", "v1,v2", "--repo-registry-id", served)
    cli("docker", "repo", "create", "--repo-id", dst, "--feed", registry.url,
        "--upstream-name", "fixtures/app")
    try:
        added = synced(cli, "docker", src)
        stored = counts(api, src)
        assert stored["docker_tag"] == 2 and added == sum(stored.values())
        published(cli, "docker", src)
        tags = requests.get(f"{api.base}/v2/{served}/tags/list", timeout=30).json()
        assert tags == {"name": served, "tags": ["v1", "v2"]}

        found = searched(cli, "docker", src)
        assert by_unit(found) == by_unit(api_units(api, src, "docker_manifest"))
        assert len(found) == stored["docker_manifest"]
        assert all(a["metadata"]["digest"][:7] in cli("docker", "content", "search",
                                                      "--repo-id", src).stdout
                   for a in found)

        copied(cli, "docker", src, dst, "--type", "docker_tag", "--str-eq", "name=v1")
        after = counts(api, dst)
        assert after["docker_tag"] == 1 and after["docker_manifest"] == 1
        assert [a["metadata"]["name"] for a in api_units(api, dst, "docker_tag")] == ["v1"]
        v1 = api_units(api, dst, "docker_tag")[0]["metadata"]["manifest_digest"]
        assert [a["metadata"]["digest"] for a in searched(cli, "docker", dst)] == [v1]

        assert removed(cli, "docker", dst, "--type", "docker_tag", "--str-eq",
                       "name=v1") >= 1
        assert api_units(api, dst, "docker_tag") == []
        assert counts(api, src) == stored  # the source is untouched
    finally:
        delete_repos(api, src, dst)


def test_ostree_sync_publish_search_copy_remove(cli, api, serve, upstream):
    up, heads = upstream
    feed, _ = serve(up.parent)
    src, dst = f"ostree-{uuid.uuid4().hex[:8]}", f"ostree-{uuid.uuid4().hex[:8]}"
    cli("ostree", "repo", "create", "--repo-id", src, "--feed", feed + "repo/",
        "--branches", f"{X86},{ARM}", "--depth", "0")
    cli("ostree", "repo", "create", "--repo-id", dst)
    try:
        assert synced(cli, "ostree", src) == 2  # the head of each of the two branches
        published(cli, "ostree", src)
        for ref in (X86, ARM):
            served = requests.get(f"{api.base}/pulp/ostree/web/{src}/refs/heads/{ref}",
                                  timeout=30)
            assert served.status_code == 200 and served.text.strip() == heads[ref]
        assert requests.get(f"{api.base}/pulp/ostree/web/{src}/refs/heads/{DEBUG}",
                            timeout=30).status_code == 404

        found = searched(cli, "ostree", src)
        assert by_unit(found) == by_unit(api_units(api, src, "ostree"))
        assert sorted((a["metadata"]["branch"], a["metadata"]["commit"]) for a in found) == \
            sorted((ref, heads[ref]) for ref in (X86, ARM))
        assert heads[X86] in cli("ostree", "content", "search", "--repo-id", src).stdout

        copied(cli, "ostree", src, dst, "--str-eq", f"branch={X86}")
        assert [a["metadata"]["commit"] for a in searched(cli, "ostree", dst)] == [heads[X86]]
        assert counts(api, dst) == {"ostree": 1}
        # The commit's objects (internal ostree_object units) go along but are not counted.
        assert removed(cli, "ostree", dst, "--str-eq", f"branch={X86}") == 1
        assert searched(cli, "ostree", dst) == []
        assert not any(counts(api, dst).values())
        published(cli, "ostree", dst)
        assert requests.get(f"{api.base}/pulp/ostree/web/{dst}/refs/heads/{X86}",
                            timeout=30).status_code == 404
        assert len(searched(cli, "ostree", src)) == 2  # the source is untouched
    finally:
        delete_repos(api, src, dst)


def test_rpm_sync_publish_search_copy_remove(cli, api, rpm_upstream):
    src, dst = f"rpm-{uuid.uuid4().hex[:8]}", f"rpm-{uuid.uuid4().hex[:8]}"
    cli("rpm", "repo", "create", "--repo-id", src, "--feed", rpm_upstream["url"],
        "--serve-http")
    cli("rpm", "repo", "create", "--repo-id", dst, "--relative-url", f"admin/{dst}")
    try:
        added = synced(cli, "rpm", src)
        stored = counts(api, src)
        assert added == sum(stored.values()) and stored.get("rpm")
        published(cli, "rpm", src)
        repomd = requests.get(f"{api.base}/pulp/repos/{src}/repodata/repomd.xml", timeout=30)
        assert repomd.status_code == 200 and "primary" in repomd.text

        found = searched(cli, "rpm", src)
        assert by_unit(found) == by_unit(api_units(api, src, "rpm"))
        binaries = sorted(n for n in rpm_upstream["packages"] if not n.endswith(".src.rpm"))
        assert sorted(a["metadata"]["filename"] for a in found) == binaries
        name = found[0]["metadata"]["name"]
        picked = sorted(a["metadata"]["filename"] for a in found
                        if a["metadata"]["name"] == name)
        assert name in cli("rpm", "content", "search", "--repo-id", src).stdout

        copied(cli, "rpm", src, dst, "--str-eq", f"name={name}")
        assert sorted(a["metadata"]["filename"] for a in searched(cli, "rpm", dst)) == picked
        published(cli, "rpm", dst)
        primary = requests.get(f"{api.base}/pulp/repos/admin/{dst}/repodata/repomd.xml",
                               timeout=30)
        assert primary.status_code == 200

        assert removed(cli, "rpm", dst, "--str-eq", f"name={name}") == len(picked)
        assert searched(cli, "rpm", dst) == []
        assert counts(api, src) == stored  # the source is untouched
    finally:
        delete_repos(api, src, dst)
