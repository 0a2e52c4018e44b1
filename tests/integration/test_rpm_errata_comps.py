"""RPM errata and comps (issue 20): yum_importer reads updateinfo and comps into erratum and
package_group/category/environment/langpacks units, yum_distributor publishes them, and dnf
sees them in what pulp2ng served."""

import datetime as dt
import gzip
import re
import subprocess
import uuid

import libcomps
import requests

from tests.conftest import require_tool
from tests.integration.test_rpm import counts, yum_repo

API = "/pulp/api/v2"
COMPS_COUNTS = {"package_group": 1, "package_category": 1, "package_environment": 1,
                "package_langpacks": 1}


def errata_upstream(path):
    """A repository with unique package names, errata ids and comps ids."""
    for tool in ("rpmbuild", "createrepo_c", "modifyrepo_c"):
        require_tool(tool)
    from tests.fixtures.rpm_errata_comps import make_errata_comps_repo

    prefix = f"e{uuid.uuid4().hex[:8]}"
    return prefix, make_errata_comps_repo(path, prefix=prefix)


def units(api, repo_id, type_id):
    response = api.post(f"{API}/repositories/{repo_id}/search/units/", json={
        "criteria": {"type_ids": [type_id]}})
    assert response.status_code == 200, response.text
    return {u["metadata"]["id"]: u["metadata"] for u in response.json()}


def repomd_types(api, repo_id):
    body = requests.get(f"{api.base}/pulp/repos/fixtures/{repo_id}/repodata/repomd.xml")
    assert body.status_code == 200
    return set(re.findall(r'<data type="([a-z_]+)"', body.text))


def dnf(tmp_path, repo_id, api, *args):
    require_tool("dnf")
    reposdir = tmp_path / "repos.d"
    if not reposdir.exists():
        reposdir.mkdir()
        repo_file = requests.get(
            f"{api.base}/pulp/repos/fixtures/{repo_id}/{repo_id}.repo")
        assert repo_file.status_code == 200
        (reposdir / f"{repo_id}.repo").write_text(repo_file.text)
    run = subprocess.run(
        ["dnf", f"--installroot={tmp_path / 'root'}", f"--setopt=reposdir={reposdir}",
         f"--setopt=cachedir={tmp_path / 'cache'}", "--setopt=install_weak_deps=False",
         "--releasever=1", "--nogpgcheck", "-y", *args],
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_sync_publish_errata_and_comps_seen_by_dnf(api, serve, tmp_path):
    up = tmp_path / "up"
    prefix, made = errata_upstream(up)
    feed, _ = serve(up)
    repo_id = yum_repo(api, feed)
    sync_report, publish_report = api.sync(repo_id)
    assert sync_report["state"] == "finished", sync_report
    progress = sync_report["progress_report"]["yum_importer"]
    assert progress["errata"]["state"] == "FINISHED"
    assert progress["comps"]["state"] == "FINISHED"
    assert publish_report["state"] == "finished", publish_report
    assert counts(api, repo_id) == {"rpm": 5, "srpm": 1, "erratum": 2, **COMPS_COUNTS}

    errata = units(api, repo_id, "erratum")
    bugfix, security = made["errata"]
    assert set(errata) == {bugfix, security}
    fix = errata[bugfix]
    assert (fix["type"], fix["severity"], fix["from"]) == ("bugfix", "Low",
                                                           "fixtures@pulp2ng.test")
    assert fix["issued"] == "2026-01-02 03:04:05" and fix["updated"] == "2026-01-03 03:04:05"
    assert fix["references"] == [{"href": "https://bugzilla.example.com/show_bug.cgi?id=101",
                                  "id": "101", "title": "tusks too short",
                                  "type": "bugzilla"}]
    [collection] = fix["pkglist"]
    [package] = collection["packages"]
    assert (package["name"], package["version"], package["filename"]) == (
        f"{prefix}-walrus", "1.1", f"{prefix}-walrus-1.1-1.noarch.rpm")
    assert package["sum"][0] == "sha256" and len(package["sum"][1]) == 64

    group = units(api, repo_id, "package_group")[made["group"]]
    assert group["mandatory_package_names"] == [f"{prefix}-walrus"]
    assert group["default_package_names"] == [f"{prefix}-walrus-lib"]
    assert group["conditional_package_names"] == [[f"{prefix}-walrus-base", f"{prefix}-walrus"]]
    assert group["translated_name"] == {"de": f"{prefix}-Walross-Werkzeuge"}
    assert group["repo_id"] == repo_id and group["user_visible"] is True
    assert units(api, repo_id, "package_category")[made["category"]]["packagegroupids"] == [
        made["group"]]
    environment = units(api, repo_id, "package_environment")[made["environment"]]
    assert environment["group_ids"] == [made["group"]]
    assert environment["options"] == [{"group": f"{prefix}-extras", "default": True}]

    found = api.post(f"{API}/content/units/erratum/search/", json={"criteria": {
        "filters": {"id": bugfix}, "fields": ["id", "type"]}})
    assert found.status_code == 200 and [u["id"] for u in found.json()] == [bugfix]

    assert {"updateinfo", "group", "group_gz"} <= repomd_types(api, repo_id)
    # walrus 1.0 installed: the bugfix erratum (to 1.1) is available, the other one is not
    dnf(tmp_path, repo_id, api, "install", f"{prefix}-walrus-1.0")
    listing = dnf(tmp_path, repo_id, api, "updateinfo", "list", "--available")
    assert bugfix in listing
    everything = dnf(tmp_path, repo_id, api, "updateinfo", "list", "--all")
    assert bugfix in everything and security in everything
    info = dnf(tmp_path, repo_id, api, "updateinfo", "info", bugfix)
    assert "tusks too short" in info or "101" in info
    groups = dnf(tmp_path, repo_id, api, "group", "list", "--hidden")
    assert f"{prefix}-Walrus tools" in groups
    group_info = dnf(tmp_path, repo_id, api, "group", "info", made["group"])
    assert f"{prefix}-walrus" in group_info and f"{prefix}-walrus-lib" in group_info


def test_mirror_drops_erratum_and_group_gone_upstream(api, tmp_path):
    from tests.fixtures.rpm_errata_comps import comps_for, errata_for, set_comps, set_updateinfo

    up = tmp_path / "up"
    prefix, made = errata_upstream(up)
    repo_id = yum_repo(api, up.as_uri() + "/")
    [sync_report, _] = api.sync(repo_id)
    assert sync_report["state"] == "finished", sync_report
    assert counts(api, repo_id)["erratum"] == 2

    # the security erratum leaves upstream, the bugfix one is revised (later ``updated``)
    [bugfix] = errata_for(up, prefix)[:1]
    set_updateinfo(up, [{**bugfix, "title": "revised", "updated": dt.datetime(2026, 2, 1)}])
    comps = comps_for(prefix)
    comps.environments.clear()                          # the environment leaves too
    comps.groups[0].packages.append(libcomps.Package(f"{prefix}-walrus-base",
                                                     libcomps.PACKAGE_TYPE_MANDATORY))
    set_comps(up, comps)
    [sync_report, _] = api.sync(repo_id)
    assert sync_report["state"] == "finished", sync_report
    assert counts(api, repo_id)["erratum"] == 2      # additive: nothing removed
    assert counts(api, repo_id)["package_environment"] == 1
    # units still upstream are brought up to date in place
    revised = units(api, repo_id, "erratum")[made["errata"][0]]
    assert (revised["title"], revised["updated"]) == ("revised", "2026-02-01 00:00:00")
    group = units(api, repo_id, "package_group")[made["group"]]
    assert group["mandatory_package_names"] == [f"{prefix}-walrus", f"{prefix}-walrus-base"]

    [sync_report, publish_report] = api.sync(repo_id, remove_missing=True)
    assert sync_report["state"] == "finished", sync_report
    assert publish_report["state"] == "finished", publish_report
    assert set(units(api, repo_id, "erratum")) == {made["errata"][0]}
    got = counts(api, repo_id)
    assert "package_environment" not in got and got["package_group"] == 1
    updateinfo = _published_updateinfo(api, repo_id)
    assert made["errata"][0] in updateinfo and made["errata"][1] not in updateinfo
    # the dropped erratum is still a unit (other repositories may hold it), only unassociated
    stored = api.post(f"{API}/content/units/erratum/search/", json={"criteria": {
        "filters": {"id": made["errata"][1]}}}).json()
    assert len(stored) == 1


def _published_updateinfo(api, repo_id) -> str:
    base = f"{api.base}/pulp/repos/fixtures/{repo_id}/"
    repomd = requests.get(base + "repodata/repomd.xml").text
    href = re.search(r'<data type="updateinfo">.*?<location href="([^"]+)"', repomd, re.S)
    assert href, repomd
    body = requests.get(base + href.group(1)).content
    # a server may send .gz files with Content-Encoding: gzip, which requests undoes
    return (gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body).decode()


def test_skip_errata_and_groups(api, tmp_path):
    up = tmp_path / "up"
    _, made = errata_upstream(up)
    repo_id = yum_repo(api, up.as_uri() + "/", skip=["erratum", "package_group", "srpm"])
    [sync_report, _] = api.sync(repo_id)
    assert sync_report["state"] == "finished", sync_report
    assert sync_report["progress_report"]["yum_importer"]["errata"]["state"] == "SKIPPED"
    assert counts(api, repo_id) == {"rpm": 5, "package_category": 1,
                                    "package_environment": 1, "package_langpacks": 1}
    stored = api.post(f"{API}/content/units/erratum/search/", json={"criteria": {
        "filters": {"id": {"$in": made["errata"]}}}}).json()
    assert stored == []   # skipped errata are not even stored
    types = repomd_types(api, repo_id)
    assert "updateinfo" not in types and "group" in types   # category/environment remain


def test_bad_skip_type_is_refused(api):
    response = api.post(f"{API}/repositories/", json={
        "id": f"rpm-{uuid.uuid4().hex[:8]}", "importer_type_id": "yum_importer",
        "importer_config": {"skip": ["package_group", "walrus"]}})
    assert response.status_code == 400, response.text
    assert "skip" in response.text


def test_broken_updateinfo_fails_the_sync_and_stores_nothing(api, tmp_path):
    up = tmp_path / "up"
    prefix, _ = errata_upstream(up)
    broken = tmp_path / "updateinfo.xml"
    broken.write_text('<?xml version="1.0"?>\n<updates><update type="bugfix"><id>X</id>')
    subprocess.run(["modifyrepo_c", "--mdtype", "updateinfo", str(broken), str(up / "repodata")],
                   check=True, capture_output=True)
    repo_id = yum_repo(api, up.as_uri() + "/")
    [report] = api.sync(repo_id)
    assert report["state"] == "error", report
    assert report["error"]["code"] == "RPM1006"
    assert "updateinfo" in report["error"]["description"]
    assert report["progress_report"]["yum_importer"]["errata"]["state"] == "FAILED"
    assert counts(api, repo_id) == {}   # neither the packages nor the comps were saved
    stored = api.post(f"{API}/content/units/rpm/search/", json={"criteria": {
        "filters": {"name": {"$regex": f"^{prefix}"}}}}).json()
    assert stored == []


def test_distributor_skip_and_updateinfo_checksum_type(api, rpm_upstream, tmp_path):
    up = tmp_path / "up"
    _, made = errata_upstream(up)
    repo_id = f"rpm-{uuid.uuid4().hex[:8]}"
    bad = api.post(f"{API}/repositories/", json={"id": repo_id, "distributors": [{
        "distributor_type_id": "yum_distributor", "distributor_config": {
            "relative_url": "x", "http": True, "https": False,
            "updateinfo_checksum_type": "sha1"}}]})
    assert bad.status_code == 400 and "updateinfo_checksum_type" in bad.text, bad.text
    response = api.post(f"{API}/repositories/", json={
        "id": repo_id, "importer_type_id": "yum_importer",
        "importer_config": {"feed": up.as_uri() + "/"},
        "distributors": [{"distributor_type_id": "yum_distributor",
                          "distributor_id": "yum_distributor", "auto_publish": True,
                          "distributor_config": {
                              "relative_url": f"fixtures/{repo_id}", "http": True,
                              "https": False, "updateinfo_checksum_type": "sha512",
                              "skip": ["package_group", "package_category",
                                       "package_environment", "package_langpacks"]}}]})
    assert response.status_code == 201, response.text
    [sync_report, publish_report] = api.sync(repo_id)
    assert publish_report["state"] == "finished", (publish_report.get("error"),
                                                   publish_report.get("traceback"))
    assert counts(api, repo_id)["package_group"] == 1   # synced, just not published
    types = repomd_types(api, repo_id)
    assert "group" not in types and "updateinfo" in types
    repomd = requests.get(f"{api.base}/pulp/repos/fixtures/{repo_id}/repodata/repomd.xml").text
    record = repomd[repomd.index('<data type="updateinfo">'):]
    assert '<checksum type="sha512">' in record.split("</data>")[0]
    assert made["errata"][0] in _published_updateinfo(api, repo_id)
