"""``pulp2ng-admin``'s python, docker, ostree and rpm sections end to end (issue 21).

Each test drives the installed console script as a subprocess against the shared stack and a
real local upstream: ``repo create`` → ``sync run`` → ``publish run`` → ``content search``
(``--json`` compared with the API) → ``content copy`` into a second repository → ``content
remove`` (→ ``content upload`` where the type takes uploads: python here, docker image archives
and ostree repository tarballs in their own tests). iso, and rpm uploads, are covered by
test_admin_cli.py and test_admin_sections.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid

import pytest
import requests

from tests.conftest import FIXTURES
from tests.integration import test_ostree
from tests.integration.test_admin_cli import Cli, error_line
from tests.integration.test_docker_upload import docker_save, make_layout, tampered_oci, tar_dir
from tests.integration.test_ostree import ARM, DEBUG, REFS, X86, add_commit, history
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


def test_docker_upload_oci_layout_and_docker_save_archives(cli, api, tmp_path):
    tag = f"up{uuid.uuid4().hex[:8]}"  # a tag nobody used: images nobody stored
    layout = make_layout(tmp_path / "layout", f"{tag}=amd64", f"{tag}-multi=amd64,arm64")
    oci, saved = f"dkr-{uuid.uuid4().hex[:8]}", f"dkr-{uuid.uuid4().hex[:8]}"
    for repo_id in (oci, saved):
        cli("docker", "repo", "create", "--repo-id", repo_id)
    try:
        usage = cli("docker", "content", "upload", "--help").stdout
        assert "'docker save' tarball" in usage and "OCI image-layout archive" in usage
        archive = tar_dir(layout.root, tmp_path / "oci.tar")
        out = cli("docker", "content", "upload", "--repo-id", oci, "--file",
                  str(archive)).stdout
        assert re.search(r"Uploaded oci\.tar: [\d.]+ kB in [\d.]+ s", out), out
        assert f"Import upload of repository {oci}: finished" in out, out
        manifests = {layout.tags[tag], *layout.children(layout.tags[f"{tag}-multi"]).values()}
        found = searched(cli, "docker", oci)
        assert by_unit(found) == by_unit(api_units(api, oci, "docker_manifest"))
        assert {a["metadata"]["digest"] for a in found} == manifests
        assert {a["metadata"]["media_type"] for a in found} == {
            "application/vnd.oci.image.manifest.v1+json"}
        human = cli("docker", "content", "search", "--repo-id", oci).stdout
        assert all(digest[:19] in human for digest in manifests), human
        assert [a["metadata"]["digest"] for a in api_units(api, oci, "docker_manifest_list")
                ] == [layout.tags[f"{tag}-multi"]]
        published(cli, "docker", oci)
        tags = requests.get(f"{api.base}/v2/{oci}/tags/list", timeout=30).json()
        assert tags == {"name": oci, "tags": sorted([tag, f"{tag}-multi"])}

        # docker save's archive of one tag, under --json: the final task reports.
        finals = cli.json("docker", "content", "upload", "--repo-id", saved, "-f",
                          str(docker_save(layout, tag, tmp_path / "saved.tar")))
        assert [t["state"] for t in finals] == ["finished"]
        assert finals[0] == api.task(finals[0]["task_id"])
        assert finals[0]["result"]["summary"]["format"] == "docker-save"
        [unit] = searched(cli, "docker", saved)
        assert unit["metadata"]["media_type"] == \
            "application/vnd.docker.distribution.manifest.v2+json"
        assert [(a["metadata"]["name"], a["metadata"]["manifest_digest"]) for a in
                api_units(api, saved, "docker_tag")] == [(tag, unit["metadata"]["digest"])]

        # A corrupt archive (a flipped byte in a layer; not a tar at all): one error line,
        # a non-zero exit, nothing stored and no resume point left behind.
        garbage = tmp_path / "garbage.tar"
        garbage.write_bytes(b"this is not an image archive\n" * 100)
        for bad, reason in ((tampered_oci(layout, tmp_path, tag)[0], "does not match its "
                             "digest"), (garbage, "")):
            done = cli("docker", "content", "upload", "--repo-id", saved, "--file", str(bad),
                       ok=False)
            line = error_line(done)
            assert done.returncode == 1 and "PLP0047" in line and reason in line, line
            assert f"Import upload of repository {saved}: error" in done.stdout
        assert counts(api, saved) == {"docker_manifest": 1, "docker_tag": 1, "docker_blob": 3}
        state = cli.home / "pulp2ng" / "uploads.json"
        assert json.loads(state.read_text()) == {}
    finally:
        delete_repos(api, oci, saved)


def test_ostree_upload_tarball_then_append_to_a_ref(cli, api, upstream, tmp_path):
    up, heads = upstream
    repo_id = f"ostree-{uuid.uuid4().hex[:8]}"
    cli("ostree", "repo", "create", "--repo-id", repo_id)
    try:
        tarball = tmp_path / "repo.tar.gz"
        tarball.write_bytes(test_ostree._tar(up))
        out = cli("ostree", "content", "upload", "--repo-id", repo_id, "--file", str(tarball),
                  "--repository-name", "repo").stdout
        assert f"Import upload of repository {repo_id}: finished" in out, out
        found = searched(cli, "ostree", repo_id)
        assert by_unit(found) == by_unit(api_units(api, repo_id, "ostree"))
        assert sorted((a["metadata"]["branch"], a["metadata"]["commit"]) for a in found) == \
            sorted((ref, commit) for ref in REFS for commit in history(up, heads[ref]))
        human = cli("ostree", "content", "search", "--repo-id", repo_id, "--str-eq",
                    f"branch={ARM}").stdout
        assert ARM in human and heads[ARM] in human and heads[X86] not in human

        # --ref: only the commits that extend that ref, from a tarball of the grown upstream.
        new_head = add_commit(up, X86, 7)
        tarball.write_bytes(test_ostree._tar(up))
        finals = cli.json("ostree", "content", "upload", "--repo-id", repo_id, "--file",
                          str(tarball), "--ref", X86)
        assert [t["state"] for t in finals] == ["finished"]
        assert [(a["metadata"]["branch"], a["metadata"]["commit"]) for a in searched(
            cli, "ostree", repo_id, "--str-eq", f"commit={new_head}")] == [(X86, new_head)]
        assert len(searched(cli, "ostree", repo_id)) == len(found) + 1
        assert new_head in cli("ostree", "content", "search", "--repo-id", repo_id).stdout

        refused = cli("ostree", "content", "upload", "--repo-id", repo_id, "--file",
                      str(tarball), "--ref", "fixture/none", ok=False)
        assert "fixture/none" in error_line(refused)
        assert len(searched(cli, "ostree", repo_id)) == len(found) + 1
    finally:
        delete_repos(api, repo_id)


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
