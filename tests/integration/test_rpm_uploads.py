"""RPM uploads and leftovers (issue 20): a whole comps.xml, a modules.yaml and delta RPMs
uploaded (claims checked, duplicates harmless), an erratum re-upload with a later ``updated``;
delta RPMs' ``signing_key`` under the signature policy on sync; copies re-keying
``modulemd_defaults`` and ``yum_repo_metadata_file``; orphan cleanup of a tree's images.

Every test uses its own package prefix and repositories (units are global)."""

import gzip
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.fixtures import make_rpm_extras as extras
from tests.integration.test_rpm import API, counts, unique_upstream, yum_repo
from tests.integration.test_rpm_copy import copy, empty_repo, units_of
from tests.integration.test_rpm_signatures import upload

ORPHANS = f"{API}/content/orphans/"

COMPS = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">
<comps>
  <group>
    <id>{p}-tools</id>
    <name>{p} tools</name>
    <description>Tools</description>
    <default>true</default>
    <uservisible>true</uservisible>
    <packagelist>
      <packagereq type="mandatory">{p}-walrus</packagereq>
      <packagereq type="optional">{p}-filler</packagereq>
    </packagelist>
  </group>
  <group>
    <id>{p}-extras</id>
    <name>{p} extras</name>
    <packagelist>
      <packagereq type="default">{p}-walrus-lib</packagereq>
    </packagelist>
  </group>
  <category>
    <id>{p}-cat</id>
    <name>{p} category</name>
    <grouplist><groupid>{p}-tools</groupid></grouplist>
  </category>
  <environment>
    <id>{p}-env</id>
    <name>{p} environment</name>
    <grouplist><groupid>{p}-tools</groupid></grouplist>
    <optionlist><groupid>{p}-extras</groupid></optionlist>
  </environment>
  <langpacks>
    <match install="{p}-walrus-%s" name="{p}-walrus"/>
  </langpacks>
</comps>
"""


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    for tool in ("gpg", "rpmsign", "rpmbuild", "createrepo_c", "makedeltarpm"):
        require_tool(tool)
    from tests.fixtures.rpm_signing import make_key

    root = tmp_path_factory.mktemp("rpm-upload-keys")
    return make_key(root / "one", "Pulp2ng Upload One"), \
        make_key(root / "two", "Pulp2ng Upload Two")


def new_repo(api, **config):
    repo_id = f"rpmup-{uuid.uuid4().hex[:8]}"
    response = api.post(f"{API}/repositories/", json={
        "id": repo_id, "importer_type_id": "yum_importer", "importer_config": config})
    assert response.status_code == 201, response.text
    return repo_id


def failed(report, message):
    assert report["state"] == "error", report
    assert report["error"]["code"] == "PLP0047", report["error"]
    assert message in report["error"]["description"], report["error"]["description"]


def test_comps_xml_upload(api, tmp_path):
    p = f"g{uuid.uuid4().hex[:8]}"
    comps = tmp_path / "comps.xml"
    comps.write_text(COMPS.format(p=p))
    repo_id = new_repo(api)

    # a lying key, another repository's id, and a file that is no comps: nothing stored
    for key, path, message in [({"id": f"{p}-nope"}, comps, "holds no package_group"),
                               ({"repo_id": "elsewhere"}, comps, "is not this repository"),
                               ({}, Path(__file__), "not a valid comps.xml")]:
        failed(upload(api, repo_id, "package_group", key, path=path), message)
        assert counts(api, repo_id) == {}

    for _ in range(2):  # the second upload is a harmless duplicate
        report = upload(api, repo_id, "package_group", {"id": f"{p}-tools"}, path=comps)
        assert report["state"] == "finished", report.get("error")
        assert report["result"]["summary"] == {
            "package_group": 2, "package_category": 1, "package_environment": 1,
            "package_langpacks": 1}
        assert counts(api, repo_id) == {"package_group": 2, "package_category": 1,
                                        "package_environment": 1, "package_langpacks": 1}
    groups = {g["id"]: g for g in units_of(api, repo_id, "package_group")}
    assert groups[f"{p}-tools"]["repo_id"] == repo_id
    assert groups[f"{p}-tools"]["mandatory_package_names"] == [f"{p}-walrus"]
    assert groups[f"{p}-tools"]["optional_package_names"] == [f"{p}-filler"]
    assert groups[f"{p}-extras"]["default_package_names"] == [f"{p}-walrus-lib"]
    [env] = units_of(api, repo_id, "package_environment")
    assert env["group_ids"] == [f"{p}-tools"] and env["option_ids"] == [f"{p}-extras"]
    [langpacks] = units_of(api, repo_id, "package_langpacks")
    assert langpacks["matches"] == [{"name": f"{p}-walrus", "install": f"{p}-walrus-%s"}]

    # a revised comps.xml brings the repository's units up to date
    comps.write_text(COMPS.format(p=p).replace(f"{p} tools<", f"{p} better tools<"))
    report = upload(api, repo_id, "package_category", {}, path=comps)
    assert report["state"] == "finished", report.get("error")
    groups = {g["id"]: g for g in units_of(api, repo_id, "package_group")}
    assert groups[f"{p}-tools"]["name"] == f"{p} better tools"


def test_modules_yaml_upload(api, stack, tmp_path):
    p = f"m{uuid.uuid4().hex[:8]}"
    path = tmp_path / "modules.yaml"
    path.write_text(extras.modules_yaml(p))
    repo_id = new_repo(api)

    failed(upload(api, repo_id, "modulemd", {"name": f"{p}-walrus", "stream": "9.9"},
                  path=path), "holds no modulemd with the unit key")
    failed(upload(api, repo_id, "modulemd", {}, path=None), "holds no modulemd")  # empty
    path_bad = tmp_path / "bad.yaml"
    path_bad.write_text("document: [unclosed\n")
    failed(upload(api, repo_id, "modulemd_defaults", {}, path=path_bad),
           "not a valid modules.yaml")
    assert counts(api, repo_id) == {}

    for _ in range(2):  # a duplicate upload is harmless
        report = upload(api, repo_id, "modulemd_defaults", {"name": f"{p}-walrus"},
                        path=path)
        assert report["state"] == "finished", report.get("error")
        assert counts(api, repo_id) == {"modulemd": 2, "modulemd_defaults": 1}
    streams = sorted(units_of(api, repo_id, "modulemd"), key=lambda u: u["stream"])
    assert [(m["name"], m["stream"]) for m in streams] == [(f"{p}-walrus", "1.0"),
                                                           (f"{p}-walrus", "1.1")]
    assert streams[1]["artifacts"] == [f"{p}-walrus-0:1.1-1.noarch",
                                       f"{p}-walrus-lib-0:1.0-1.noarch"]
    [defaults] = units_of(api, repo_id, "modulemd_defaults")
    assert (defaults["repo_id"], defaults["stream"]) == (repo_id, "1.1")
    for unit in (*streams, defaults):  # each document stored as its own file
        stored = (stack.storage / unit["_storage_path"]).read_text()
        assert stored.startswith("---") and f"{p}-walrus" in stored

    # new defaults in a later upload replace the repository's own
    path.write_text(extras.modules_yaml(p, default="1.0"))
    report = upload(api, repo_id, "modulemd", {}, path=path)
    assert report["state"] == "finished", report.get("error")
    [defaults] = units_of(api, repo_id, "modulemd_defaults")
    assert defaults["stream"] == "1.0"


def make_delta(work: Path, prefix: str, key=None) -> Path:
    """A standard delta RPM from ``<prefix>-walrus`` 1.0 to 1.1 (1.1 signed with ``key``)."""
    from tests.fixtures.make_rpm_repo import make_repo
    from tests.fixtures.rpm_signing import sign

    made = make_repo(work / "repo", prefix=prefix, fillers=0)
    old = next(f for f in made if f.name == f"{prefix}-walrus-1.0-1.noarch.rpm")
    new = next(f for f in made if f.name == f"{prefix}-walrus-1.1-1.noarch.rpm")
    if key is not None:
        sign([new], key)
    delta = work / f"{prefix}-walrus-1.0-1_1.1-1.noarch.drpm"
    subprocess.run(["makedeltarpm", str(old), str(new), str(delta)], check=True,
                   capture_output=True)
    return delta


def delta_key(path: Path) -> dict:
    import hashlib

    return {"epoch": "0", "version": "1.1", "release": "1", "filename": path.name,
            "checksumtype": "sha256", "checksum": hashlib.sha256(path.read_bytes()).hexdigest()}


def test_drpm_upload(api, keys, tmp_path):
    one, two = keys
    p = f"d{uuid.uuid4().hex[:8]}"
    signed = make_delta(tmp_path / "a", p, one)
    q = f"d{uuid.uuid4().hex[:8]}"
    unsigned = make_delta(tmp_path / "b", q)
    r = f"d{uuid.uuid4().hex[:8]}"
    other = make_delta(tmp_path / "c", r, two)
    repo_id = new_repo(api, require_signature=True, allowed_keys=[one.short_id])

    cases = [(signed, {**delta_key(signed), "version": "9.9"}, "does not match its unit key"),
             (signed, {**delta_key(signed), "checksum": "0" * 64}, "does not match"),
             (unsigned, delta_key(unsigned), "not signed"),
             (other, delta_key(other), "not in allowed_keys"),
             (signed.parent / "repo" / f"{p}-walrus-1.1-1.noarch.rpm", {},
              "not a readable delta RPM")]
    for path, key, message in cases:
        failed(upload(api, repo_id, "drpm", key, path=path), message)
    assert counts(api, repo_id) == {}

    for _ in range(2):  # a duplicate upload is harmless
        report = upload(api, repo_id, "drpm", delta_key(signed), path=signed)
        assert report["state"] == "finished", report.get("error")
        assert counts(api, repo_id) == {"drpm": 1}
    [unit] = units_of(api, repo_id, "drpm")
    info = subprocess.run(["applydeltarpm", "-i", str(signed)], capture_output=True,
                          text=True, check=True).stdout
    sequence = next(line.split(": ", 1)[1] for line in info.splitlines()
                    if line.startswith("sequence: "))
    assert {k: unit[k] for k in ("new_package", "arch", "epoch", "version", "release",
                                 "oldepoch", "oldversion", "oldrelease", "sequence",
                                 "filename", "relativepath", "signing_key", "size")} == {
        "new_package": f"{p}-walrus", "arch": "noarch", "epoch": "0", "version": "1.1",
        "release": "1", "oldepoch": "0", "oldversion": "1.0", "oldrelease": "1",
        "sequence": sequence, "filename": signed.name, "relativepath": f"drpms/{signed.name}",
        "signing_key": one.short_id, "size": signed.stat().st_size}

    # without a policy an unsigned delta is taken, with no key recorded
    open_repo = new_repo(api)
    report = upload(api, open_repo, "drpm", {}, path=unsigned)
    assert report["state"] == "finished", report.get("error")
    [unit] = units_of(api, open_repo, "drpm")
    assert unit["signing_key"] is None and unit["filename"] == unsigned.name


def test_erratum_reupload_replaces_only_when_newer(api):
    erratum_id = f"RHSA-{uuid.uuid4().hex[:8]}"
    repo_id = new_repo(api)

    def send(updated, title):
        report = upload(api, repo_id, "erratum", {"id": erratum_id}, {
            "title": title, "updated": updated, "issued": "2026-01-01 00:00:00",
            "type": "security", "pkglist": [], "references": []}, path=None)
        assert report["state"] == "finished", report.get("error")
        [unit] = units_of(api, repo_id, "erratum")
        return unit["title"]

    assert send("2026-02-01 00:00:00", "first") == "first"
    assert send("2026-01-15 00:00:00", "older") == "first"      # older: kept
    assert send("2026-02-01 00:00:00", "same") == "first"       # same date: kept
    assert send("2026-03-01 00:00:00", "newer") == "newer"      # newer: replaced
    assert counts(api, repo_id) == {"erratum": 1}


def delta_upstream(path: Path, key) -> str:
    """A unique yum repository whose walrus 1.1 is signed by ``key``, with its delta."""
    from tests.fixtures.make_rpm_repo import make_repo
    from tests.fixtures.rpm_signing import sign

    require_tool("makedeltarpm")
    prefix = f"e{uuid.uuid4().hex[:8]}"
    make_repo(path, prefix=prefix, fillers=0)
    sign([path / f"{prefix}-walrus-1.1-1.noarch.rpm"], key)
    extras.add_deltas(path, prefix)
    return prefix


def test_drpm_sync_records_signing_key_and_follows_the_policy(api, keys, tmp_path):
    one, two = keys
    delta_upstream(tmp_path / "up", one)
    feed = (tmp_path / "up").as_uri() + "/"

    strict = yum_repo(api, feed, allowed_keys=[two.short_id])
    [report, _] = api.sync(strict)
    assert report["state"] == "finished", report
    content = report["progress_report"]["yum_importer"]["content"]
    refused = [e for e in content["error_details"] if e["name"].endswith(".drpm")]
    assert len(refused) == 1 and refused[0]["error_code"] == "RPM1014", content
    assert refused[0]["signing_key"] == one.short_id
    assert "drpm" not in counts(api, strict)

    allowed = yum_repo(api, feed, allowed_keys=[one.short_id])
    [report, _] = api.sync(allowed)
    assert report["state"] == "finished", report
    [unit] = units_of(api, allowed, "drpm")
    assert unit["signing_key"] == one.short_id

    # the delta is stored now: a strict repository still refuses it (recorded key); forced,
    # since nothing upstream changed and the sync would otherwise stop after repomd.xml
    [report, _] = api.sync(strict, force_full=True)
    content = report["progress_report"]["yum_importer"]["content"]
    assert any(e["name"].endswith(".drpm") for e in content["error_details"]), content
    assert "drpm" not in counts(api, strict)


def test_copy_rekeys_module_defaults_and_metadata_files(api, stack, tmp_path):
    for tool in ("rpmbuild", "createrepo_c", "modifyrepo_c"):
        require_tool(tool)
    up = tmp_path / "up"
    prefix = unique_upstream(up, fillers=0)
    extras.add_modules(up, prefix)
    extras.add_metadata(up, "productid", "productid", f"product {prefix}\n".encode())
    source = yum_repo(api, up.as_uri() + "/")
    [report, _] = api.sync(source)
    assert report["state"] == "finished", report
    dest = empty_repo(api)
    copy(api, source, dest, {"type_ids": ["modulemd_defaults", "yum_repo_metadata_file"]})
    assert counts(api, dest) == {"modulemd_defaults": 1, "yum_repo_metadata_file": 1}
    kept = {}
    for type_id in ("modulemd_defaults", "yum_repo_metadata_file"):
        [src] = units_of(api, source, type_id)
        [dst] = units_of(api, dest, type_id)
        assert dst["repo_id"] == dest and src["repo_id"] == source
        assert dst["_id"] != src["_id"]
        assert dst["_storage_path"] == src["_storage_path"]  # one stored file, two units
        same = ("_id", "_href", "repo_id", "_last_updated")
        assert {k: v for k, v in dst.items() if k not in same} \
            == {k: v for k, v in src.items() if k not in same}
        kept[type_id] = dst

    # the source goes, its units become orphans and are deleted: the copies keep the file
    response = api.delete(f"{API}/repositories/{source}/")
    assert response.status_code == 202, response.text
    api.wait_report(response)
    for type_id, unit in kept.items():
        [report] = api.wait_report(api.delete(f"{ORPHANS}{type_id}/"))
        assert report["state"] == "finished", report
        assert report["result"][type_id] >= 1
        assert api.get(f"{API}/content/units/{type_id}/{unit['_id']}/").status_code == 200
        assert (stack.storage / unit["_storage_path"]).exists(), type_id
    stored = (stack.storage / kept["yum_repo_metadata_file"]["_storage_path"]).read_bytes()
    assert gzip.decompress(stored) == f"product {prefix}\n".encode()  # modifyrepo_c's .gz


def test_orphan_cleanup_removes_distribution_images(api, stack, tmp_path):
    for tool in ("rpmbuild", "createrepo_c"):
        require_tool(tool)
    up = tmp_path / "up"
    prefix = unique_upstream(up, fillers=0)
    images = extras.add_tree(up, f"Orphan {prefix}")
    twin = tmp_path / "twin"  # a second tree sharing one image file: that file must stay
    shutil.copytree(up, twin)
    shared, own = sorted(images)
    (twin / own).write_bytes(b"another image of " + prefix.encode() * 20)
    extras.add_tree(twin, f"Twin {prefix}", images={shared: images[shared],
                                                   own: (twin / own).read_bytes()})
    repo_id = yum_repo(api, up.as_uri() + "/")
    twin_id = yum_repo(api, twin.as_uri() + "/")
    for rid in (repo_id, twin_id):
        [report, _] = api.sync(rid)
        assert report["state"] == "finished", report
    [tree] = units_of(api, repo_id, "distribution")
    paths = {f["relativepath"]: f["_storage_path"] for f in tree["files"]}
    assert sorted(tree["_storage_paths"]) == sorted(paths.values())
    assert all((stack.storage / p).exists() for p in (tree["_storage_path"], *paths.values()))

    response = api.delete(f"{API}/repositories/{repo_id}/")
    assert response.status_code == 202, response.text
    api.wait_report(response)
    [report] = api.wait_report(api.delete(f"{ORPHANS}distribution/{tree['_id']}/"))
    assert report["state"] == "finished", report
    assert api.get(f"{API}/content/units/distribution/{tree['_id']}/").status_code == 404
    assert not (stack.storage / tree["_storage_path"]).exists()
    assert not (stack.storage / paths[own]).exists()
    assert (stack.storage / paths[shared]).exists()  # the twin's tree still names it
    [twin_tree] = units_of(api, twin_id, "distribution")
    assert paths[shared] in twin_tree["_storage_paths"]
