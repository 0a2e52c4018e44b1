"""yum_importer sync fidelity (issue 20): no-op re-sync, ``retain_old_count``, mirrorlist and
metalink feeds, sha1/sha512 upstreams, every file and changelog from filelists.xml and
other.xml, and the distributor's publishable checksum types. Real stack, real HTTP."""

import gzip
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import createrepo_c as cr
import pytest
import requests

from tests.conftest import require_tool
from tests.integration.test_rpm import counts, names, unique_upstream, yum_repo

API = "/pulp/api/v2"

SPEC = """\
Name: {name}
Version: {version}
Release: 1
Summary: fidelity fixture {name}
License: MIT
BuildArch: noarch
%description
Fidelity fixture {name}.
%install
mkdir -p %{{buildroot}}/usr/share/{name} %{{buildroot}}/usr/bin
for i in $(seq 1 {files}); do echo $i > %{{buildroot}}/usr/share/{name}/data-$i.txt; done
printf '#!/bin/sh\\n' > %{{buildroot}}/usr/bin/{name}
%files
/usr/share/{name}
/usr/bin/{name}
%changelog
* Thu Jan 01 2026 Walrus Keeper <keeper@example.com> - {version}-1
- second entry of {name}
* Wed Dec 31 2025 Walrus Keeper <keeper@example.com> - 0.9-1
- first entry of {name}
"""


def build_rpm(out: Path, name: str, version: str = "1.0", files: int = 3) -> Path:
    """One noarch RPM with ``files`` data files (not "primary" files), a binary in
    /usr/bin and two changelog entries."""
    require_tool("rpmbuild")
    with tempfile.TemporaryDirectory() as work:
        spec = Path(work) / f"{name}.spec"
        spec.write_text(SPEC.format(name=name, version=version, files=files))
        subprocess.run(["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {work}/build",
                        str(spec)], check=True, capture_output=True,
                       env={"PATH": "/usr/bin:/bin", "HOME": work})
        [rpm] = Path(work, "build").glob("RPMS/**/*.rpm")
        out.mkdir(parents=True, exist_ok=True)
        target = out / rpm.name
        target.write_bytes(rpm.read_bytes())
    return target


def createrepo(path: Path, *args: str) -> None:
    require_tool("createrepo_c")
    subprocess.run(["createrepo_c", "-q", *args, str(path)], check=True, capture_output=True)


def requested(log: Path) -> list[str]:
    """The paths the static server was asked for, in order."""
    return [line.split()[1] for line in log.read_text().splitlines()] if log.exists() else []


def progress_of(report):
    return report["progress_report"]["yum_importer"]


# -- no-op re-sync ------------------------------------------------------------------------


def test_unchanged_repomd_is_a_noop_unless_forced_or_changed(api, serve, tmp_path):
    up = tmp_path / "up"
    prefix = unique_upstream(up, fillers=1)
    feed, log = serve(up)
    repo_id = yum_repo(api, feed)
    [first, _] = api.sync(repo_id)
    assert first["state"] == "finished", first
    assert counts(api, repo_id) == {"rpm": 5, "srpm": 1}
    assert any("primary.xml" in p for p in requested(log))

    log.write_text("")
    [again, *_] = api.sync(repo_id)
    assert again["state"] == "finished", again
    progress = progress_of(again)
    assert progress["metadata"] == {"state": "FINISHED", "unchanged": True}
    assert progress["content"]["state"] == "SKIPPED"
    assert progress["content"]["items_total"] == 0
    assert requested(log) == ["/repodata/repomd.xml"]   # no metadata file, no package
    assert again["result"]["added_count"] == 0 and again["result"]["removed_count"] == 0

    # force_full parses everything again (and finds nothing new)
    log.write_text("")
    [forced, *_] = api.sync(repo_id, force_full=True)
    assert forced["state"] == "finished", forced
    assert "unchanged" not in progress_of(forced)["metadata"]
    assert any("primary.xml" in p for p in requested(log))
    assert counts(api, repo_id) == {"rpm": 5, "srpm": 1}

    # a unit removed by hand: the repository is not what the last sync left, so a full sync
    # puts it back
    removed = api.post(f"{API}/repositories/{repo_id}/actions/unassociate/", json={
        "criteria": {"type_ids": ["rpm"], "filters": {"unit": {"name": f"{prefix}-filler-1"}}}})
    assert all(r["state"] == "finished" for r in api.wait_report(removed))
    assert counts(api, repo_id)["rpm"] == 4
    [back, *_] = api.sync(repo_id)
    assert "unchanged" not in progress_of(back)["metadata"], back
    assert counts(api, repo_id)["rpm"] == 5

    # upstream changes: a new package is synced
    build_rpm(up, f"{prefix}-newcomer")
    createrepo(up, "--update")
    log.write_text("")
    [changed, *_] = api.sync(repo_id)
    assert changed["state"] == "finished", changed
    assert "unchanged" not in progress_of(changed)["metadata"]
    assert f"{prefix}-newcomer-1.0" in names(api, repo_id)
    assert f"/{prefix}-newcomer-1.0-1.noarch.rpm" in requested(log)


# -- retain_old_count ------------------------------------------------------------------------


def test_retain_old_count_keeps_the_newest_versions(api, serve, tmp_path):
    up = tmp_path / "up"
    prefix = f"r{uuid.uuid4().hex[:8]}"
    for version in ("1.0", "1.2", "1.10"):   # 1.10 is the newest (rpm's ordering)
        build_rpm(up, f"{prefix}-walrus", version, files=1)
    build_rpm(up, f"{prefix}-seal", "2.0", files=1)
    createrepo(up)
    feed, log = serve(up)
    repo_id = yum_repo(api, feed, retain_old_count=1)
    [report, _] = api.sync(repo_id)
    assert report["state"] == "finished", report
    assert names(api, repo_id) == [f"{prefix}-seal-2.0", f"{prefix}-walrus-1.10",
                                   f"{prefix}-walrus-1.2"]
    # the version retain_old_count drops was never downloaded
    assert f"/{prefix}-walrus-1.0-1.noarch.rpm" not in requested(log)
    assert f"/{prefix}-walrus-1.2-1.noarch.rpm" in requested(log)

    # a newer version upstream: the repository's oldest kept one goes
    build_rpm(up, f"{prefix}-walrus", "2.0", files=1)
    createrepo(up, "--update")
    [report, publish] = api.sync(repo_id)
    assert report["state"] == "finished", report
    assert report["result"]["removed_count"] == 1
    assert names(api, repo_id) == [f"{prefix}-seal-2.0", f"{prefix}-walrus-1.10",
                                   f"{prefix}-walrus-2.0"]
    assert publish["state"] == "finished", publish
    packages = f"{api.base}/pulp/repos/fixtures/{repo_id}/Packages/{prefix[0]}/"
    assert requests.get(f"{packages}{prefix}-walrus-1.2-1.noarch.rpm").status_code == 404

    # retain_old_count 0: the newest only
    [report, _] = api.sync(repo_id, retain_old_count=0)
    assert report["state"] == "finished", report
    assert names(api, repo_id) == [f"{prefix}-seal-2.0", f"{prefix}-walrus-2.0"]


# -- mirrorlist and metalink feeds ----------------------------------------------------------------


def closed_port_url() -> str:
    """An http URL on a 127.0.0.1 port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/repo/"


METALINK = """<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/">
 <files><file name="repomd.xml"><resources maxconnections="1">
  <url protocol="http" type="http" location="XX" preference="100">{dead}repodata/repomd.xml</url>
  <url protocol="rsync" type="rsync" location="XX" preference="99">rsync://mirror.invalid/r/repodata/repomd.xml</url>
  <url protocol="http" type="http" location="XX" preference="90">{live}repodata/repomd.xml</url>
 </resources></file></files>
</metalink>
"""


@pytest.mark.parametrize("kind", ["mirrorlist", "metalink"])
def test_mirror_list_feed_falls_through_a_dead_mirror(api, serve, tmp_path, kind):
    up = tmp_path / "up"
    unique_upstream(up, fillers=0)
    live, log = serve(up)
    lists = tmp_path / "lists"
    lists.mkdir()
    dead = closed_port_url()
    if kind == "mirrorlist":
        (lists / "mirrors").write_text(f"# mirrors of the fixture\n\n{dead}\n{live}\n")
    else:
        (lists / "mirrors").write_text(METALINK.format(dead=dead, live=live))
    list_base, _ = serve(lists)
    repo_id = yum_repo(api, f"{list_base}mirrors")
    [report, publish] = api.sync(repo_id)
    assert report["state"] == "finished", report
    assert counts(api, repo_id) == {"rpm": 4, "srpm": 1}
    assert publish["state"] == "finished", publish
    # everything came from the live mirror
    assert "/repodata/repomd.xml" in requested(log)
    assert sum(p.endswith(".rpm") for p in requested(log)) == 5


def test_mirror_list_with_only_dead_mirrors_fails_clearly(api, serve, tmp_path):
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "mirrors").write_text(f"{closed_port_url()}\n")
    list_base, _ = serve(lists)
    repo_id = yum_repo(api, f"{list_base}mirrors")
    [report] = api.sync(repo_id)
    assert report["state"] == "error", report
    assert report["error"]["code"] == "RPM1004"
    assert "none of the 1 mirror(s)" in report["error"]["description"]


# -- sha1 and sha512 upstreams ------------------------------------------------------------------


@pytest.mark.parametrize("checksum", ["sha1", "sha512"])
def test_sha1_and_sha512_upstreams_sync_and_verify(api, serve, tmp_path, checksum):
    up = tmp_path / "up"
    unique_upstream(up, fillers=1, checksum=checksum)
    feed, _ = serve(up)
    repo_id = yum_repo(api, feed)
    [report, publish] = api.sync(repo_id)
    assert report["state"] == "finished", report
    assert publish["state"] == "finished", publish
    assert counts(api, repo_id) == {"rpm": 5, "srpm": 1}
    units = api.post(f"{API}/repositories/{repo_id}/search/units/", json={
        "criteria": {"type_ids": ["rpm"]}}).json()
    lengths = {"sha1": 40, "sha512": 128}
    assert {u["metadata"]["checksumtype"] for u in units} == {checksum}
    assert {len(u["metadata"]["checksum"]) for u in units} == {lengths[checksum]}


def test_corrupt_package_under_sha512_is_refused(api, serve, tmp_path):
    up = tmp_path / "up"
    prefix = unique_upstream(up, fillers=1, checksum="sha512")
    victim = up / f"{prefix}-walrus-lib-1.0-1.noarch.rpm"
    victim.write_bytes(b"y" * victim.stat().st_size)  # same size: only the checksum tells
    feed, _ = serve(up)
    repo_id = yum_repo(api, feed)
    [report] = api.sync(repo_id)
    assert report["state"] == "error", report
    assert report["error"]["code"] == "RPM1103"
    assert victim.name in report["error"]["description"]
    assert "expected sha512" in report["error"]["description"]
    assert counts(api, repo_id) == {}


# -- filelists.xml and other.xml ------------------------------------------------------------------


def published_packages(api, repo_id, tmp_path) -> dict:
    """The published repository's packages, parsed with createrepo_c, by name."""
    base = f"{api.base}/pulp/repos/fixtures/{repo_id}/"
    local = tmp_path / "published"
    (local / "repodata").mkdir(parents=True)
    repomd_xml = requests.get(base + "repodata/repomd.xml").content
    (local / "repodata/repomd.xml").write_bytes(repomd_xml)
    paths = {}
    for record in cr.Repomd(str(local / "repodata/repomd.xml")).records:
        if record.type in ("primary", "filelists", "other"):
            target = local / record.location_href
            target.write_bytes(requests.get(base + record.location_href).content)
            paths[record.type] = str(target)
    return {p.name: p for p in cr.PackageIterator(paths["primary"], paths["filelists"],
                                                  paths["other"])}


def test_every_file_and_changelog_is_synced_and_published(api, serve, tmp_path):
    up = tmp_path / "up"
    name = f"f{uuid.uuid4().hex[:8]}-many"
    build_rpm(up, name, files=40)
    createrepo(up)
    feed, _ = serve(up)
    repo_id = yum_repo(api, feed)
    [report, publish] = api.sync(repo_id)
    assert report["state"] == "finished", report
    assert publish["state"] == "finished", publish

    [unit] = api.post(f"{API}/repositories/{repo_id}/search/units/", json={
        "criteria": {"type_ids": ["rpm"]}}).json()
    meta = unit["metadata"]
    files = meta["files"]["file"]
    assert len(files) == 41 and f"/usr/share/{name}/data-40.txt" in files
    assert meta["files"]["dir"] == [f"/usr/share/{name}"]
    # other.xml's order: oldest first
    assert [c["text"] for c in meta["changelog"]] == [f"- first entry of {name}",
                                                       f"- second entry of {name}"]
    assert meta["changelog"][1]["author"] == "Walrus Keeper <keeper@example.com> - 1.0-1"

    pkg = published_packages(api, repo_id, tmp_path)[name]
    published_files = {d + f for _, d, f in pkg.files}
    assert f"/usr/share/{name}/data-1.txt" in published_files
    assert f"/usr/bin/{name}" in published_files and len(published_files) == 42
    assert [text for _, _, text in pkg.changelogs] == [f"- first entry of {name}",
                                                       f"- second entry of {name}"]
    # primary.xml keeps only the primary files (createrepo_c's rule), as upstream's did
    primary = requests.get(f"{api.base}/pulp/repos/fixtures/{repo_id}/" + next(
        r.location_href for r in cr.Repomd(
            str(tmp_path / "published/repodata/repomd.xml")).records if r.type == "primary"))
    text = gzip.decompress(primary.content).decode()
    assert f"/usr/bin/{name}" in text and "data-1.txt" not in text


# -- distributor checksum_type -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sha1", "md5", "sha"])
def test_distributor_refuses_checksum_types_it_cannot_write(api, kind):
    repo_id = f"rpm-{uuid.uuid4().hex[:8]}"
    response = api.post(f"{API}/repositories/", json={
        "id": repo_id,
        "distributors": [{"distributor_type_id": "yum_distributor", "distributor_config": {
            "relative_url": repo_id, "http": True, "https": False, "checksum_type": kind}}]})
    assert response.status_code == 400, response.text
    assert "checksum_type" in response.json()["error"]["description"]
    assert "sha256" in response.text
    assert api.get(f"{API}/repositories/{repo_id}/").status_code == 404


def test_distributor_publishes_with_sha512(api, rpm_upstream):
    repo_id = f"rpm-{uuid.uuid4().hex[:8]}"
    response = api.post(f"{API}/repositories/", json={
        "id": repo_id, "importer_type_id": "yum_importer",
        "importer_config": {"feed": rpm_upstream["url"]},
        "distributors": [{"distributor_type_id": "yum_distributor",
                          "distributor_id": "yum_distributor", "auto_publish": True,
                          "distributor_config": {"relative_url": f"fixtures/{repo_id}",
                                                 "http": True, "https": False,
                                                 "checksum_type": "sha512"}}]})
    assert response.status_code == 201, response.text
    [report, publish] = api.sync(repo_id)
    assert publish["state"] == "finished", publish
    repomd = requests.get(f"{api.base}/pulp/repos/fixtures/{repo_id}/repodata/repomd.xml")
    assert 'type="sha512"' in repomd.text and 'type="sha256"' not in repomd.text
