"""RPM modules (+ defaults), delta RPMs, distribution trees and other repomd metadata files:
synced by yum_importer, published by yum_distributor, read back by dnf (issue 20)."""

import gzip
import hashlib
import subprocess
import uuid

import requests
import yaml

from tests.conftest import require_tool
from tests.fixtures import make_rpm_extras as extras
from tests.integration.test_rpm import API, counts, unique_upstream, yum_repo

EXTRA_TYPES = ["drpm", "modulemd", "modulemd_defaults", "distribution", "yum_repo_metadata_file"]


def full_upstream(path):
    """A unique repository with a delta, two module streams + defaults, a tree, a productid."""
    require_tool("modifyrepo_c")
    require_tool("makedeltarpm")
    prefix = unique_upstream(path, fillers=0)
    drpm = extras.add_deltas(path, prefix)
    extras.add_modules(path, prefix)
    extras.add_metadata(path, "productid", "productid", f"product {prefix}\n".encode())
    images = extras.add_tree(path, f"Walrus {prefix}")
    return prefix, drpm, images


def units(api, repo_id, type_id):
    found = api.post(f"{API}/repositories/{repo_id}/search/units/", json={
        "criteria": {"type_ids": [type_id]}})
    assert found.status_code == 200, found.text
    return [u["metadata"] for u in found.json()]


def record_hrefs(repomd_xml: bytes) -> dict:
    """repomd type → location href (read with createrepo_c from a temp file)."""
    import tempfile

    import createrepo_c as cr

    with tempfile.NamedTemporaryFile(suffix=".xml") as f:
        f.write(repomd_xml)
        f.flush()
        return {r.type: r.location_href for r in cr.Repomd(f.name).records}


def fetch_md(base: str, hrefs: dict, mdtype: str) -> bytes:
    response = requests.get(base + hrefs[mdtype])
    assert response.status_code == 200, (mdtype, response.status_code)
    # served as stored: a Content-Encoding would make clients decompress it behind our back
    assert "Content-Encoding" not in response.headers
    body = response.content
    return gzip.decompress(body) if hrefs[mdtype].endswith(".gz") else body


def dnf(tmp_path, repo_file: str, *args):
    reposdir = tmp_path / "repos.d"
    reposdir.mkdir(exist_ok=True)
    (reposdir / "pulp.repo").write_text(repo_file)
    return subprocess.run(
        ["dnf", f"--installroot={tmp_path / 'root'}", f"--setopt=reposdir={reposdir}",
         f"--setopt=cachedir={tmp_path / 'cache'}", "--releasever=1", "--nogpgcheck", "-q",
         *args], capture_output=True, text=True, timeout=300)


def test_sync_and_publish_modules_deltas_tree_and_metadata_files(api, serve, tmp_path):
    up = tmp_path / "up"
    prefix, drpm, images = full_upstream(up)
    feed, _ = serve(up)
    repo_id = yum_repo(api, feed)
    sync_report, publish_report = api.sync(repo_id)
    assert sync_report["state"] == "finished", sync_report
    assert publish_report["state"] == "finished", publish_report
    progress = sync_report["progress_report"]["yum_importer"]
    assert progress["modules"]["state"] == "FINISHED"
    assert progress["distribution"]["state"] == "FINISHED"
    assert progress["content"]["details"]["drpm_total"] == 1
    assert progress["content"]["details"]["drpm_done"] == 1
    assert counts(api, repo_id) == {"rpm": 4, "srpm": 1, "drpm": 1, "modulemd": 2,
                                    "modulemd_defaults": 1, "distribution": 1,
                                    "yum_repo_metadata_file": 1}

    modules = sorted(units(api, repo_id, "modulemd"), key=lambda u: u["stream"])
    assert [(m["name"], m["stream"], m["context"], m["arch"]) for m in modules] == [
        (f"{prefix}-walrus", "1.0", "c0ffee42", "noarch"),
        (f"{prefix}-walrus", "1.1", "c0ffee42", "noarch")]
    assert modules[1]["artifacts"] == [f"{prefix}-walrus-0:1.1-1.noarch",
                                       f"{prefix}-walrus-lib-0:1.0-1.noarch"]
    assert modules[0]["profiles"] == {"default": [f"{prefix}-walrus"]}
    assert modules[0]["version"] == 20260101000000
    [defaults] = units(api, repo_id, "modulemd_defaults")
    assert defaults["name"] == f"{prefix}-walrus" and defaults["repo_id"] == repo_id
    assert defaults["stream"] == "1.1"
    [delta] = units(api, repo_id, "drpm")
    assert delta["filename"] == drpm.name and delta["new_package"] == f"{prefix}-walrus"
    assert (delta["version"], delta["oldversion"]) == ("1.1", "1.0")
    assert delta["checksum"] == hashlib.sha256(drpm.read_bytes()).hexdigest()
    [tree] = units(api, repo_id, "distribution")
    assert tree["id"] == f"ks-Walrus_{prefix}-Server-1.0-noarch"
    assert sorted(f["relativepath"] for f in tree["files"]) == sorted(images)
    [productid] = units(api, repo_id, "yum_repo_metadata_file")
    assert productid["data_type"] == "productid" and productid["repo_id"] == repo_id

    # published: repomd lists modules, prestodelta and productid; every file is served
    base = f"{api.base}/pulp/repos/fixtures/{repo_id}/"
    hrefs = record_hrefs(requests.get(base + "repodata/repomd.xml").content)
    assert {"primary", "modules", "prestodelta", "productid"} <= set(hrefs)
    assert fetch_md(base, hrefs, "productid") == f"product {prefix}\n".encode()
    docs = list(yaml.safe_load_all(fetch_md(base, hrefs, "modules")))
    assert sorted((d["document"], d["data"].get("stream")) for d in docs) == [
        ("modulemd", "1.0"), ("modulemd", "1.1"), ("modulemd-defaults", "1.1")]
    presto = fetch_md(base, hrefs, "prestodelta").decode()
    assert f"<filename>drpms/{drpm.name}</filename>" in presto
    assert requests.get(f"{base}drpms/{drpm.name}").content == drpm.read_bytes()
    treeinfo = requests.get(base + ".treeinfo")
    assert treeinfo.status_code == 200 and treeinfo.text == (up / ".treeinfo").read_text()
    assert requests.get(base + "treeinfo").text == treeinfo.text
    for rel, data in images.items():
        assert requests.get(base + rel).content == data
    # only .treeinfo is opened among dot paths
    assert requests.get(f"{api.base}/pulp/repos/.versions/").status_code == 404
    assert requests.get(f"{base}.treeinfo/x").status_code == 404
    assert requests.get(f"{base}.hidden").status_code == 404

    # dnf sees both streams and the default one
    require_tool("dnf")
    repo_file = requests.get(f"{base}{repo_id}.repo").text
    run = dnf(tmp_path, repo_file, "module", "list", f"{prefix}-walrus")
    assert run.returncode == 0, run.stdout + run.stderr
    lines = [line.split() for line in run.stdout.splitlines()
             if line.startswith(f"{prefix}-walrus ")]
    assert [line[1:3] for line in lines] == [["1.0", "default"], ["1.1", "[d]"]], run.stdout


def test_skip_each_extra_type(api, tmp_path):
    up = tmp_path / "up"
    full_upstream(up)
    repo_id = yum_repo(api, up.as_uri() + "/", skip=EXTRA_TYPES)
    [sync_report, publish_report] = api.sync(repo_id)
    assert sync_report["state"] == "finished", sync_report
    assert counts(api, repo_id) == {"rpm": 4, "srpm": 1}
    base = f"{api.base}/pulp/repos/fixtures/{repo_id}/"
    hrefs = record_hrefs(requests.get(base + "repodata/repomd.xml").content)
    assert not {"modules", "prestodelta", "productid"} & set(hrefs)
    assert requests.get(base + ".treeinfo").status_code == 404

    # one type at a time: only that one is left out
    for skipped in EXTRA_TYPES:
        repo_id = yum_repo(api, up.as_uri() + "/", skip=[skipped])
        [sync_report, _] = api.sync(repo_id)
        assert sync_report["state"] == "finished", sync_report
        got = counts(api, repo_id)
        assert skipped not in got
        assert set(EXTRA_TYPES) - {skipped} <= set(got), (skipped, got)


def test_mirror_removes_and_updates_what_changed_upstream(api, tmp_path):
    up = tmp_path / "up"
    prefix, _, _ = full_upstream(up)
    repo_id = yum_repo(api, up.as_uri() + "/")
    [sync_report, _] = api.sync(repo_id)
    assert sync_report["state"] == "finished", sync_report

    # upstream: stream 1.1 gone and 1.0 the default; a new productid; no tree, no deltas
    extras.add_modules(up, prefix, streams=("1.0",), default="1.0")
    extras.add_metadata(up, "productid", "productid", b"product two\n")
    remove_presto = subprocess.run(["modifyrepo_c", "--remove=prestodelta",
                                    str(up / "repodata")], capture_output=True)
    assert remove_presto.returncode == 0, remove_presto.stderr
    (up / ".treeinfo").unlink()

    [sync_report, _] = api.sync(repo_id)  # additive: new content in, nothing out
    assert sync_report["state"] == "finished", sync_report
    assert counts(api, repo_id)["modulemd"] == 2
    [defaults] = units(api, repo_id, "modulemd_defaults")
    assert defaults["stream"] == "1.0"   # same key, new content: updated in place

    [sync_report, publish_report] = api.sync(repo_id, remove_missing=True)
    assert sync_report["state"] == "finished", sync_report
    assert publish_report["state"] == "finished", publish_report
    assert counts(api, repo_id) == {"rpm": 4, "srpm": 1, "modulemd": 1,
                                    "modulemd_defaults": 1, "yum_repo_metadata_file": 1}
    base = f"{api.base}/pulp/repos/fixtures/{repo_id}/"
    hrefs = record_hrefs(requests.get(base + "repodata/repomd.xml").content)
    assert "prestodelta" not in hrefs
    assert fetch_md(base, hrefs, "productid") == b"product two\n"
    docs = list(yaml.safe_load_all(fetch_md(base, hrefs, "modules")))
    assert sorted((d["document"], d["data"]["stream"]) for d in docs) == [
        ("modulemd", "1.0"), ("modulemd-defaults", "1.0")]
    assert requests.get(base + ".treeinfo").status_code == 404


def test_corrupt_tree_image_fails_the_sync_and_stores_nothing(api, serve, tmp_path):
    up = tmp_path / "up"
    require_tool("modifyrepo_c")
    unique_upstream(up, fillers=0)
    family = f"Broken {uuid.uuid4().hex[:8]}"
    images = extras.add_tree(up, family)
    (up / "images/pxeboot/vmlinuz").write_bytes(b"y" * len(images["images/pxeboot/vmlinuz"]))
    feed, _ = serve(up)
    repo_id = yum_repo(api, feed)
    [report] = api.sync(repo_id)
    assert report["state"] == "error", report
    assert report["error"]["code"] == "RPM1103"
    assert "images/pxeboot/vmlinuz" in report["error"]["description"]
    assert counts(api, repo_id) == {}
    stored = api.post(f"{API}/content/units/distribution/search/", json={"criteria": {
        "filters": {"family": family}}})
    assert stored.status_code == 200 and stored.json() == []


def test_bad_modules_yaml_fails_with_parse_error(api, tmp_path):
    up = tmp_path / "up"
    require_tool("modifyrepo_c")
    unique_upstream(up, fillers=0)
    extras.add_metadata(up, "modules", "modules.yaml", b"---\ndocument: modulemd\ndata: [\n")
    repo_id = yum_repo(api, up.as_uri() + "/")
    [report] = api.sync(repo_id)
    assert report["state"] == "error", report
    assert report["error"]["code"] == "RPM1006"
    assert "modules.yaml" in report["error"]["description"]
    assert counts(api, repo_id) == {}
