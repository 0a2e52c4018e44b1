"""RPM signatures (issue 20): ``signing_key`` on every package unit, and ``require_signature``
/ ``allowed_keys`` on sync, upload and copy; uploads of packages, errata and comps units; dnf
with ``gpgcheck=1`` verifying what pulp2ng published.

Every test builds its own upstream with a unique prefix (units are global), signed with two
throw-away keys made once for the module: ``<p>-signed-a`` and ``<p>-signed-b`` (requires a)
with key one, ``<p>-other`` with key two, ``<p>-plain`` unsigned."""

import subprocess
import tempfile
import uuid
from pathlib import Path

import createrepo_c as cr
import pytest
import requests

from tests.conftest import require_tool
from tests.integration.test_rpm import counts, yum_repo

API = "/pulp/api/v2"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    for tool in ("gpg", "rpmsign", "rpmbuild", "createrepo_c"):
        require_tool(tool)
    from tests.fixtures.rpm_signing import make_key

    root = tmp_path_factory.mktemp("rpm-keys")
    return make_key(root / "one", "Pulp2ng Fixture One"), \
        make_key(root / "two", "Pulp2ng Fixture Two")


def signed_upstream(path: Path, keys) -> tuple[str, dict]:
    """A yum repository of the four packages; returns ``(prefix, {label: file})``."""
    from tests.fixtures.make_rpm_repo import build_rpms
    from tests.fixtures.rpm_signing import sign

    p = f"s{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as work:
        built = build_rpms(path, [(f"{p}-signed-a", "1.0", "", False),
                                  (f"{p}-signed-b", "1.0", f"{p}-signed-a", False),
                                  (f"{p}-other", "1.0", "", False),
                                  (f"{p}-plain", "1.0", "", True)], Path(work))
    files = {label: next(f for f in built if f.name == f"{p}-{label}-1.0-1.noarch.rpm")
             for label in ("signed-a", "signed-b", "other", "plain")}
    files["plain-src"] = next(f for f in built if f.name.endswith(".src.rpm"))
    one, two = keys
    sign([files["signed-a"], files["signed-b"]], one)
    sign([files["other"]], two)
    subprocess.run(["createrepo_c", "-q", str(path)], check=True, capture_output=True)
    return p, files


def repo_packages(api, repo_id, type_id="rpm") -> dict:
    units = api.post(f"{API}/repositories/{repo_id}/search/units/", json={
        "criteria": {"type_ids": [type_id]}}).json()
    return {u["metadata"]["name"]: u["metadata"] for u in units}


def test_sync_records_signing_keys_and_dnf_verifies_them(api, keys, tmp_path):
    one, two = keys
    prefix, _ = signed_upstream(tmp_path / "up", keys)
    repo_id = yum_repo(api, (tmp_path / "up").as_uri() + "/")
    sync_report, publish_report = api.sync(repo_id)
    assert sync_report["state"] == "finished", sync_report
    assert publish_report["state"] == "finished", publish_report
    found = repo_packages(api, repo_id)
    assert {name: unit["signing_key"] for name, unit in found.items()} == {
        f"{prefix}-signed-a": one.short_id, f"{prefix}-signed-b": one.short_id,
        f"{prefix}-other": two.short_id, f"{prefix}-plain": None}
    assert repo_packages(api, repo_id, "srpm")[f"{prefix}-plain"]["signing_key"] is None
    # unit search works on the new field
    by_key = api.post(f"{API}/content/units/rpm/search/", json={"criteria": {
        "filters": {"signing_key": two.short_id}, "fields": ["name"]}}).json()
    assert [u["name"] for u in by_key] == [f"{prefix}-other"]

    # the distributor's gpgkey: served beside the repodata, and named by the .repo file
    response = api.put(f"{API}/repositories/{repo_id}/distributors/yum_distributor/", json={
        "distributor_config": {"gpgkey": one.public_key.read_text()}})
    assert [r["state"] for r in api.wait_report(response)] == ["finished"]
    response = api.post(f"{API}/repositories/{repo_id}/actions/publish/",
                        json={"id": "yum_distributor"})
    assert [r["state"] for r in api.wait_report(response)] == ["finished"]
    base = f"{api.base}/pulp/repos/fixtures/{repo_id}/"
    assert requests.get(f"{base}RPM-GPG-KEY").text == one.public_key.read_text()
    repo_file = requests.get(f"{base}{repo_id}.repo").text
    assert "gpgcheck=1\n" in repo_file and f"gpgkey={base}RPM-GPG-KEY\n" in repo_file

    require_tool("dnf")
    reposdir = tmp_path / "repos.d"
    reposdir.mkdir()
    (reposdir / "pulp.repo").write_text(repo_file)

    def dnf_install(name):
        return subprocess.run(
            ["dnf", f"--installroot={tmp_path / 'root'}", f"--setopt=reposdir={reposdir}",
             f"--setopt=cachedir={tmp_path / 'cache'}", "--setopt=install_weak_deps=False",
             "--releasever=1", "-y", "install", name],
            capture_output=True, text=True, timeout=300)

    run = dnf_install(f"{prefix}-signed-b")   # and signed-a, its dependency
    assert run.returncode == 0, run.stdout + run.stderr
    fixture = tmp_path / "root/usr/share/pulp2ng-fixture"
    assert (fixture / f"{prefix}-signed-a.txt").exists()
    # gpgcheck is really on: the unsigned and the other key's package are refused
    for name in (f"{prefix}-plain", f"{prefix}-other"):
        run = dnf_install(name)
        assert run.returncode != 0, run.stdout
        assert not (fixture / f"{name}.txt").exists()


def test_sync_refuses_unsigned_and_other_keys(api, keys, tmp_path):
    one, two = keys
    prefix, _ = signed_upstream(tmp_path / "up", keys)
    feed = (tmp_path / "up").as_uri() + "/"
    strict = yum_repo(api, feed, require_signature=True, allowed_keys=[one.short_id.upper()])
    [report, _] = api.sync(strict)
    assert report["state"] == "finished", report
    assert set(repo_packages(api, strict)) == {f"{prefix}-signed-a", f"{prefix}-signed-b"}
    assert counts(api, strict) == {"rpm": 2}   # the unsigned source RPM too was refused
    content = report["progress_report"]["yum_importer"]["content"]
    refused = {e["name"]: e for e in content["error_details"]}
    assert set(refused) == {f"{prefix}-other-1.0-1.noarch.rpm",
                            f"{prefix}-plain-1.0-1.noarch.rpm", f"{prefix}-plain-1.0-1.src.rpm"}
    assert refused[f"{prefix}-plain-1.0-1.noarch.rpm"]["error_code"] == "RPM1013"
    assert refused[f"{prefix}-other-1.0-1.noarch.rpm"]["error_code"] == "RPM1014"
    assert refused[f"{prefix}-other-1.0-1.noarch.rpm"]["signing_key"] == two.short_id
    assert content["details"]["refused"] == 3 and content["state"] == "FINISHED"
    assert report["result"]["summary"]["content"]["details"]["refused"] == 3
    stored = api.post(f"{API}/content/units/rpm/search/", json={"criteria": {
        "filters": {"name": {"$regex": f"^{prefix}-(plain|other)"}}}}).json()
    assert stored == []   # refused downloads are not stored either

    # key two only, no requirement: unsigned passes; the key-one packages, stored by the
    # first sync, are judged by their recorded key without being downloaded
    second = yum_repo(api, feed, allowed_keys=[two.short_id])
    [report, _] = api.sync(second)
    assert report["state"] == "finished", report
    assert set(repo_packages(api, second)) == {f"{prefix}-other", f"{prefix}-plain"}
    content = report["progress_report"]["yum_importer"]["content"]
    assert {e["name"] for e in content["error_details"]} == {
        f"{prefix}-signed-a-1.0-1.noarch.rpm", f"{prefix}-signed-b-1.0-1.noarch.rpm"}


@pytest.mark.parametrize("config", [{"allowed_keys": "fa17bc83"}, {"allowed_keys": ["xyz"]},
                                    {"allowed_keys": ["0123456789abcdef"]},
                                    {"require_signature": "sometimes"}])
def test_bad_signature_config_is_a_400(api, config):
    response = api.post(f"{API}/repositories/", json={
        "id": f"rpm-{uuid.uuid4().hex[:8]}", "importer_type_id": "yum_importer",
        "importer_config": config})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "PLP1010", response.text
    assert next(iter(config)) in response.text


def test_bad_gpgkey_is_a_400(api):
    response = api.post(f"{API}/repositories/", json={
        "id": f"rpm-{uuid.uuid4().hex[:8]}",
        "distributors": [{"distributor_type_id": "yum_distributor", "distributor_config": {
            "relative_url": f"x/{uuid.uuid4().hex[:8]}", "http": True, "https": False,
            "gpgkey": "/etc/pki/rpm-gpg/RPM-GPG-KEY"}}]})
    assert response.status_code == 400, response.text
    assert "gpgkey" in response.text


def upload(api, repo_id, type_id, unit_key, metadata=None, path=None):
    created = api.post(f"{API}/content/uploads/")
    assert created.status_code == 201, created.text
    upload_id = created.json()["upload_id"]
    if path is not None:
        put = api.put(f"{API}/content/uploads/{upload_id}/0/", data=path.read_bytes())
        assert put.status_code == 200, put.text
    response = api.post(f"{API}/repositories/{repo_id}/actions/import_upload/", json={
        "upload_id": upload_id, "unit_type_id": type_id, "unit_key": unit_key,
        "unit_metadata": metadata or {}})
    [report] = api.wait_report(response)
    api.delete(f"{API}/content/uploads/{upload_id}/")
    return report


def header_key(path: Path) -> dict:
    """The unit key a Pulp 2 client computed from the package header."""
    pkg = cr.package_from_rpm(str(path), checksum_type=cr.SHA256)
    return {"name": pkg.name, "epoch": pkg.epoch or "0", "version": pkg.version,
            "release": pkg.release, "arch": pkg.arch, "checksumtype": "sha256",
            "checksum": pkg.pkgId}


def test_uploads_follow_the_signature_policy_and_the_header(api, keys, tmp_path):
    one, _ = keys
    prefix, files = signed_upstream(tmp_path / "up", keys)
    repo_id = f"rpmup-{uuid.uuid4().hex[:8]}"
    response = api.post(f"{API}/repositories/", json={
        "id": repo_id, "importer_type_id": "yum_importer",
        "importer_config": {"require_signature": True, "allowed_keys": [one.short_id]}})
    assert response.status_code == 201, response.text

    good = files["signed-a"]
    report = upload(api, repo_id, "rpm", header_key(good), path=good)
    assert report["state"] == "finished", report.get("error")
    assert repo_packages(api, repo_id)[f"{prefix}-signed-a"]["signing_key"] == one.short_id
    again = upload(api, repo_id, "rpm", header_key(good), path=good)   # harmless duplicate
    assert again["state"] == "finished", again
    assert counts(api, repo_id) == {"rpm": 1}

    lying = {**header_key(files["signed-b"]), "version": "9.9"}
    cases = [("rpm", files["plain"], header_key(files["plain"]), "not signed"),
             ("rpm", files["other"], header_key(files["other"]), "not in allowed_keys"),
             ("rpm", files["signed-b"], lying, "does not match its unit key"),
             ("srpm", files["signed-b"], header_key(files["signed-b"]), "not a srpm"),
             ("rpm", files["plain-src"], header_key(files["plain-src"]), "not a rpm"),
             ("rpm", tmp_path / "up/repodata/repomd.xml", {}, "not a readable RPM")]
    for type_id, path, key, message in cases:
        report = upload(api, repo_id, type_id, key, path=path)
        assert report["state"] == "error", (path, report)
        assert report["error"]["code"] == "PLP0047"
        assert message in report["error"]["description"], report["error"]
    assert counts(api, repo_id) == {"rpm": 1}
    stored = api.post(f"{API}/content/units/rpm/search/", json={"criteria": {
        "filters": {"name": {"$regex": f"^{prefix}-(plain|other|signed-b)"}}}}).json()
    assert stored == []   # nothing refused was stored under any repository

    # no file: errata and comps units from the client's key and metadata
    erratum_id = f"{prefix.upper()}-2026:0001"
    pkglist = [{"name": "c1", "short": "c1", "packages": [
        {**header_key(good), "filename": good.name, "src": None, "sum": None,
         "sums": None, "type": None}]}]
    report = upload(api, repo_id, "erratum", {"id": erratum_id}, {
        "title": "Fixture update", "type": "bugfix", "severity": "Low",
        "issued": "2026-01-01 00:00:00", "pkglist": pkglist,
        "references": [{"href": "https://example.invalid/1", "type": "bugzilla", "id": "1"}]})
    assert report["state"] == "finished", report
    report = upload(api, repo_id, "erratum", {"id": erratum_id}, {"title": "again"})
    assert report["state"] == "finished", report
    erratum = repo_packages_by(api, repo_id, "erratum")[erratum_id]
    assert erratum["title"] == "Fixture update"   # the duplicate did not replace it
    assert erratum["pkglist"][0]["packages"][0]["name"] == f"{prefix}-signed-a"
    report = upload(api, repo_id, "erratum", {"id": erratum_id + "x"}, {"pkglist": "nope"})
    assert report["state"] == "error" and "pkglist" in report["error"]["description"]

    group = {"name": "Fixture group", "mandatory_package_names": [f"{prefix}-signed-a"],
             "default": True, "user_visible": True}
    report = upload(api, repo_id, "package_group", {"id": f"{prefix}-group"}, group)
    assert report["state"] == "finished", report
    report = upload(api, repo_id, "package_category", {"id": f"{prefix}-cat",
                                                        "repo_id": repo_id},
                    {"name": "Cat", "packagegroupids": [f"{prefix}-group"]})
    assert report["state"] == "finished", report
    report = upload(api, repo_id, "package_environment", {"id": f"{prefix}-env"},
                    {"name": "Env", "group_ids": [f"{prefix}-group"]})
    assert report["state"] == "finished", report
    report = upload(api, repo_id, "package_langpacks", {}, {"matches": []})
    assert report["state"] == "finished", report
    report = upload(api, repo_id, "package_group", {"id": "g", "repo_id": "elsewhere"}, {})
    assert report["state"] == "error", report
    groups = repo_packages_by(api, repo_id, "package_group")
    assert groups[f"{prefix}-group"]["mandatory_package_names"] == [f"{prefix}-signed-a"]
    assert groups[f"{prefix}-group"]["repo_id"] == repo_id
    assert counts(api, repo_id) == {"rpm": 1, "erratum": 1, "package_group": 1,
                                    "package_category": 1, "package_environment": 1,
                                    "package_langpacks": 1}


def repo_packages_by(api, repo_id, type_id) -> dict:
    units = api.post(f"{API}/repositories/{repo_id}/search/units/", json={
        "criteria": {"type_ids": [type_id]}}).json()
    return {u["metadata"]["id"]: u["metadata"] for u in units}


def test_copy_leaves_out_refused_packages(api, keys, tmp_path):
    one, _ = keys
    prefix, _ = signed_upstream(tmp_path / "up", keys)
    source = yum_repo(api, (tmp_path / "up").as_uri() + "/")
    [report, _] = api.sync(source)
    assert report["state"] == "finished", report
    dest = f"rpmcp-{uuid.uuid4().hex[:8]}"
    response = api.post(f"{API}/repositories/", json={
        "id": dest, "importer_type_id": "yum_importer",
        "importer_config": {"allowed_keys": [one.short_id]}})
    assert response.status_code == 201, response.text
    response = api.post(f"{API}/repositories/{dest}/actions/associate/", json={
        "source_repo_id": source, "criteria": {"type_ids": ["rpm", "srpm"]}})
    [report] = api.wait_report(response)
    assert report["state"] == "finished", report
    # unsigned packages pass (no require_signature); key two's does not
    assert set(repo_packages(api, dest)) == {f"{prefix}-signed-a", f"{prefix}-signed-b",
                                             f"{prefix}-plain"}
    copied = {u["unit_key"]["name"] for u in report["result"]["units_successful"]}
    assert f"{prefix}-other" not in copied and f"{prefix}-signed-a" in copied

    strict = f"rpmcp-{uuid.uuid4().hex[:8]}"
    response = api.post(f"{API}/repositories/", json={
        "id": strict, "importer_type_id": "yum_importer",
        "importer_config": {"require_signature": True}})
    assert response.status_code == 201, response.text
    response = api.post(f"{API}/repositories/{strict}/actions/associate/", json={
        "source_repo_id": source, "criteria": {"type_ids": ["rpm", "srpm"]}})
    assert [r["state"] for r in api.wait_report(response)] == ["finished"]
    assert counts(api, strict) == {"rpm": 3}
