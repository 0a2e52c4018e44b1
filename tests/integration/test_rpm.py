"""RPM content (issue 20, first slice): yum_importer + yum_distributor against the real stack,
and dnf installing from what pulp2ng published."""

import subprocess
import uuid

import pytest
import requests

from tests.conftest import require_tool

API = "/pulp/api/v2"


def yum_repo(api, feed, **config):
    repo_id = f"rpm-{uuid.uuid4().hex[:8]}"
    response = api.post(f"{API}/repositories/", json={
        "id": repo_id, "importer_type_id": "yum_importer",
        "importer_config": {"feed": feed, **config},
        "distributors": [{"distributor_type_id": "yum_distributor",
                          "distributor_id": "yum_distributor", "auto_publish": True,
                          "distributor_config": {"relative_url": f"fixtures/{repo_id}",
                                                 "http": True, "https": False}}]})
    assert response.status_code == 201, response.text
    return repo_id


def counts(api, repo_id):
    return api.get(f"{API}/repositories/{repo_id}/").json()["content_unit_counts"]


def names(api, repo_id, type_id="rpm"):
    units = api.post(f"{API}/repositories/{repo_id}/search/units/", json={
        "criteria": {"type_ids": [type_id]}}).json()
    return sorted(f"{u['metadata']['name']}-{u['metadata']['version']}" for u in units)


def unique_upstream(path, **kwargs):
    """A repository whose packages no other test stored (units are global)."""
    require_tool("rpmbuild")
    require_tool("createrepo_c")
    from tests.fixtures.make_rpm_repo import make_repo

    prefix = f"u{uuid.uuid4().hex[:8]}"
    make_repo(path, prefix=prefix, **kwargs)
    return prefix


def test_sync_publish_search_and_dnf_install(api, rpm_upstream, tmp_path):
    repo_id = yum_repo(api, rpm_upstream["url"])
    sync_report, publish_report = api.sync(repo_id)
    assert sync_report["state"] == "finished", sync_report
    progress = sync_report["progress_report"]["yum_importer"]
    assert progress["metadata"]["state"] == "FINISHED"
    assert progress["content"]["state"] == "FINISHED"
    assert progress["content"]["items_left"] == 0
    assert publish_report["state"] == "finished", publish_report
    assert publish_report["result"]["result"] == "success"
    # 3 walrus packages (two versions of walrus) + 3 fillers; walrus-base's source RPM
    assert counts(api, repo_id) == {"rpm": 7, "srpm": 1}
    assert names(api, repo_id, "srpm") == ["walrus-base-1.0"]

    found = api.post(f"{API}/content/units/rpm/search/", json={"criteria": {
        "filters": {"name": {"$regex": "^walrus"}}, "fields": ["name", "version", "requires"]}})
    assert found.status_code == 200, found.text
    assert {(u["name"], u["version"]) for u in found.json()} >= {
        ("walrus", "1.0"), ("walrus", "1.1"), ("walrus-lib", "1.0"), ("walrus-base", "1.0")}
    in_repo = api.post(f"{API}/repositories/{repo_id}/search/units/", json={"criteria": {
        "filters": {"unit": {"name": {"$regex": "^walrus"}}}, "type_ids": ["rpm"]}}).json()
    assert sorted(u["metadata"]["name"] for u in in_repo) == [
        "walrus", "walrus", "walrus-base", "walrus-lib"]
    lib = next(u["metadata"] for u in in_repo if u["metadata"]["name"] == "walrus-lib")
    assert [d["name"] for d in lib["requires"]] == ["walrus-base"]
    assert lib["checksumtype"] == "sha256" and lib["filename"] == "walrus-lib-1.0-1.noarch.rpm"

    base = f"{api.base}/pulp/repos/fixtures/{repo_id}/"
    assert requests.get(base + "repodata/repomd.xml").status_code == 200
    repo_file = requests.get(f"{base}{repo_id}.repo")
    assert repo_file.status_code == 200 and f"baseurl={base}" in repo_file.text

    require_tool("dnf")
    reposdir = tmp_path / "repos.d"
    reposdir.mkdir()
    (reposdir / f"{repo_id}.repo").write_text(repo_file.text)
    root = tmp_path / "root"
    run = subprocess.run(
        ["dnf", f"--installroot={root}", f"--setopt=reposdir={reposdir}",
         f"--setopt=cachedir={tmp_path / 'cache'}", "--setopt=install_weak_deps=False",
         "--releasever=1", "--nogpgcheck", "-y", "install", "walrus"],
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    fixture = root / "usr/share/pulp2ng-fixture"
    assert (fixture / "walrus.txt").read_text() == "walrus 1.1\n"  # the newest version
    assert (fixture / "walrus-lib.txt").exists() and (fixture / "walrus-base.txt").exists()
    assert not (fixture / "filler-1.txt").exists()


def test_file_feed_mirror_and_additive(api, tmp_path):
    up = tmp_path / "up"
    prefix = unique_upstream(up, fillers=1)
    repo_id = yum_repo(api, up.as_uri() + "/")
    [sync_report, _] = api.sync(repo_id)
    assert sync_report["state"] == "finished", sync_report
    assert counts(api, repo_id) == {"rpm": 5, "srpm": 1}

    # walrus 1.0 and the filler leave upstream
    for name in (f"{prefix}-walrus-1.0-1.noarch.rpm", f"{prefix}-filler-1-1.0-1.noarch.rpm"):
        (up / name).unlink()
    subprocess.run(["createrepo_c", "-q", "--update", str(up)], check=True)
    [sync_report, _] = api.sync(repo_id)
    assert sync_report["state"] == "finished", sync_report
    assert counts(api, repo_id) == {"rpm": 5, "srpm": 1}   # additive: nothing removed

    [sync_report, _] = api.sync(repo_id, remove_missing=True)
    assert sync_report["state"] == "finished", sync_report
    assert names(api, repo_id) == [f"{prefix}-walrus-1.1", f"{prefix}-walrus-base-1.0",
                                   f"{prefix}-walrus-lib-1.0"]
    packages = f"{api.base}/pulp/repos/fixtures/{repo_id}/Packages/{prefix[0]}/"
    assert requests.get(f"{packages}{prefix}-walrus-1.1-1.noarch.rpm").status_code == 200
    assert requests.get(f"{packages}{prefix}-walrus-1.0-1.noarch.rpm").status_code == 404


def test_skip_srpm(api, tmp_path):
    up = tmp_path / "up"
    unique_upstream(up, fillers=0)
    repo_id = yum_repo(api, up.as_uri() + "/", skip=["srpm"])
    [sync_report, _] = api.sync(repo_id)
    assert sync_report["state"] == "finished", sync_report
    assert counts(api, repo_id) == {"rpm": 4}


@pytest.mark.parametrize("fault", ["corrupt", "truncated", "missing"])
def test_bad_package_fails_the_sync_and_stores_nothing(api, serve, tmp_path, fault):
    up = tmp_path / "up"
    prefix = unique_upstream(up, fillers=2)
    victim = up / f"{prefix}-walrus-lib-1.0-1.noarch.rpm"
    if fault == "corrupt":  # same size, other bytes: only the checksum can tell
        victim.write_bytes(b"x" * victim.stat().st_size)
    elif fault == "truncated":
        victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    else:
        victim.unlink()
    feed, _ = serve(up)
    repo_id = yum_repo(api, feed)
    [report] = api.sync(repo_id)
    assert report["state"] == "error", report
    assert report["error"]["code"] == "RPM1103"
    description = report["error"]["description"]
    assert victim.name in description
    assert {"corrupt": "Checksum mismatch", "truncated": "Size mismatch",
            "missing": "404"}[fault] in description, description
    assert counts(api, repo_id) == {}
    stored = api.post(f"{API}/content/units/rpm/search/", json={"criteria": {
        "filters": {"name": {"$regex": f"^{prefix}"}}}}).json()
    assert stored == []   # the good packages of the failed sync were not stored either
    assert requests.get(
        f"{api.base}/pulp/repos/fixtures/{repo_id}/repodata/repomd.xml").status_code == 404


def test_distributor_requires_http_https_and_relative_url(api):
    response = api.post(f"{API}/repositories/", json={
        "id": f"rpm-{uuid.uuid4().hex[:8]}",
        "distributors": [{"distributor_type_id": "yum_distributor",
                          "distributor_config": {"relative_url": "x"}}]})
    assert response.status_code == 400, response.text
    assert "http" in response.text and "https" in response.text
