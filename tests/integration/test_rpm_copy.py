"""RPM copy and removal rules (issue 20): ``actions/associate/`` with ``recursive`` and
``recursive_conservative`` (libsolv over a dependency chain with a rich dependency), children
of errata, groups, categories and modules; ``actions/unassociate/`` keeping packages; orphan
cleanup of packages and metadata units. One synced source repository per module; every test
copies into repositories of its own."""

import uuid

import pytest

from tests.conftest import require_tool
from tests.integration.test_rpm import counts

API = "/pulp/api/v2"
ORPHANS = f"{API}/content/orphans/"


@pytest.fixture(scope="module")
def source(stack, tmp_path_factory):
    """The repository of tests/fixtures/rpm_copy.py synced (file:// feed) into pulp2ng."""
    for tool in ("rpmbuild", "createrepo_c", "modifyrepo_c"):
        require_tool(tool)
    from tests.fixtures.rpm_copy import make_copy_repo

    prefix = f"c{uuid.uuid4().hex[:8]}"
    path = tmp_path_factory.mktemp("rpm-copy") / "repo"
    ids = make_copy_repo(path, prefix)
    api = stack.api
    repo_id = empty_repo(api)
    response = api.put(f"{API}/repositories/{repo_id}/importers/yum_importer/", json={
        "importer_config": {"feed": path.as_uri() + "/"}})
    assert response.status_code == 202, response.text
    api.wait_report(response)
    [report] = api.sync(repo_id)
    assert report["state"] == "finished", report
    return {"repo_id": repo_id, "prefix": prefix, "path": path, **ids}


def empty_repo(api, **config):
    repo_id = f"rpmcopy-{uuid.uuid4().hex[:8]}"
    response = api.post(f"{API}/repositories/", json={
        "id": repo_id, "importer_type_id": "yum_importer", "importer_config": config})
    assert response.status_code == 201, response.text
    return repo_id


def copy(api, source_id, dest, criteria, **override):
    response = api.post(f"{API}/repositories/{dest}/actions/associate/", json={
        "source_repo_id": source_id, "criteria": criteria, "override_config": override})
    [report] = api.wait_report(response)
    assert report["state"] == "finished", report
    return report


def unassociate(api, repo_id, criteria):
    response = api.post(f"{API}/repositories/{repo_id}/actions/unassociate/",
                        json={"criteria": criteria})
    [report] = api.wait_report(response)
    assert report["state"] == "finished", report
    return report


def packages(api, repo_id, prefix):
    """``name-version`` of the repository's rpms, without the test's prefix."""
    units = api.post(f"{API}/repositories/{repo_id}/search/units/", json={
        "criteria": {"type_ids": ["rpm"]}}).json()
    return sorted(f"{u['metadata']['name']}-{u['metadata']['version']}"[len(prefix) + 1:]
                  for u in units)


def units_of(api, repo_id, type_id):
    return [u["metadata"] for u in api.post(f"{API}/repositories/{repo_id}/search/units/", json={
        "criteria": {"type_ids": [type_id]}}).json()]


def by_name(prefix, *names, version=None):
    """Criteria selecting the source's rpms with these names (one version when given)."""
    unit = {"name": {"$in": [f"{prefix}-{n}" for n in names]}}
    if version:
        unit["version"] = version
    return {"type_ids": ["rpm"], "filters": {"unit": unit}}


def test_plain_copy_copies_only_the_selected(api, source):
    dest = empty_repo(api)
    report = copy(api, source["repo_id"], dest, by_name(source["prefix"], "walrus"))
    assert packages(api, dest, source["prefix"]) == ["walrus-1.0"]
    assert [u["unit_key"]["name"] for u in report["result"]["units_successful"]] == [
        f"{source['prefix']}-walrus"]


def test_recursive_copies_the_chain_with_the_newest_satisfying(api, source):
    p = source["prefix"]
    dest = empty_repo(api)
    report = copy(api, source["repo_id"], dest, by_name(p, "walrus"), recursive=True)
    assert packages(api, dest, p) == ["walrus-1.0", "walrus-base-1.2", "walrus-lib-1.0"]
    copied = {(u["unit_key"]["name"], u["unit_key"]["version"])
              for u in report["result"]["units_successful"]}
    assert (f"{p}-walrus-base", "1.2") in copied and (f"{p}-walrus-base", "1.0") not in copied
    assert counts(api, dest) == {"rpm": 3}

    # not conservative: a dependency the target already satisfies still brings the newest
    older = empty_repo(api)
    copy(api, source["repo_id"], older, by_name(p, "walrus-base", version="1.0"))
    copy(api, source["repo_id"], older, by_name(p, "walrus"), recursive="true")
    assert packages(api, older, p) == ["walrus-1.0", "walrus-base-1.0", "walrus-base-1.2",
                                       "walrus-lib-1.0"]


def test_recursive_conservative_copies_only_what_the_target_lacks(api, source):
    p = source["prefix"]
    dest = empty_repo(api)
    copy(api, source["repo_id"], dest, by_name(p, "walrus-base", version="1.0"))
    copy(api, source["repo_id"], dest, by_name(p, "walrus"), recursive_conservative=True)
    # walrus-base 1.0 satisfies walrus-lib's ">= 1.0": 1.2 is not copied
    assert packages(api, dest, p) == ["walrus-1.0", "walrus-base-1.0", "walrus-lib-1.0"]

    # the rich dependency "(walrus-base >= 1.1 or penguin)": the target's penguin satisfies it
    with_penguin = empty_repo(api)
    copy(api, source["repo_id"], with_penguin, by_name(p, "penguin"))
    copy(api, source["repo_id"], with_penguin, by_name(p, "seal"), recursive_conservative=True)
    assert packages(api, with_penguin, p) == ["penguin-1.0", "seal-1.0"]
    # walrus-base 1.0 does not (>= 1.1): one of the alternatives comes from the source
    with_old = empty_repo(api)
    copy(api, source["repo_id"], with_old, by_name(p, "walrus-base", version="1.0"))
    copy(api, source["repo_id"], with_old, by_name(p, "seal"), recursive_conservative=True)
    got = packages(api, with_old, p)
    assert got in (["seal-1.0", "walrus-base-1.0", "walrus-base-1.2"],
                   ["penguin-1.0", "seal-1.0", "walrus-base-1.0"]), got


def test_rich_dependency_resolved_in_recursive_copy(api, source):
    p = source["prefix"]
    dest = empty_repo(api)
    copy(api, source["repo_id"], dest, by_name(p, "seal"), recursive=True)
    got = packages(api, dest, p)
    assert got in (["seal-1.0", "walrus-base-1.2"], ["penguin-1.0", "seal-1.0"]), got


def test_erratum_copy_brings_its_packages(api, source):
    p = source["prefix"]
    criteria = {"type_ids": ["erratum"], "filters": {"unit": {"id": source["erratum"]}}}
    dest = empty_repo(api)
    copy(api, source["repo_id"], dest, criteria)
    assert packages(api, dest, p) == ["walrus-1.0"]
    assert [e["id"] for e in units_of(api, dest, "erratum")] == [source["erratum"]]
    deep = empty_repo(api)
    copy(api, source["repo_id"], deep, criteria, recursive=True)
    assert packages(api, deep, p) == ["walrus-1.0", "walrus-base-1.2", "walrus-lib-1.0"]
    # copy_children False: the erratum alone
    bare = empty_repo(api)
    copy(api, source["repo_id"], bare, criteria, copy_children=False)
    assert counts(api, bare) == {"erratum": 1}


def test_group_and_category_copy(api, source):
    p = source["prefix"]
    group = {"type_ids": ["package_group"], "filters": {"unit": {"id": source["group"]}}}
    dest = empty_repo(api)
    report = copy(api, source["repo_id"], dest, group)
    # mandatory + default packages (not the optional penguin), no dependencies
    assert packages(api, dest, p) == ["walrus-1.0", "walrus-lib-1.0"]
    [copied] = units_of(api, dest, "package_group")
    assert copied["repo_id"] == dest and copied["id"] == source["group"]
    assert copied["mandatory_package_names"] == [f"{p}-walrus"]
    keys = [u["unit_key"] for u in report["result"]["units_successful"]
            if u["type_id"] == "package_group"]
    assert keys == [{"id": source["group"], "repo_id": dest}]
    # the source's group is untouched
    [original] = units_of(api, source["repo_id"], "package_group")
    assert original["repo_id"] == source["repo_id"]

    deep = empty_repo(api)
    copy(api, source["repo_id"], deep, group, recursive=True)
    assert packages(api, deep, p) == ["walrus-1.0", "walrus-base-1.2", "walrus-lib-1.0"]

    # a category brings its groups, and they their packages
    by_category = empty_repo(api)
    copy(api, source["repo_id"], by_category, {
        "type_ids": ["package_category"], "filters": {"unit": {"id": source["category"]}}})
    assert counts(api, by_category) == {"package_category": 1, "package_group": 1, "rpm": 2}
    [category] = units_of(api, by_category, "package_category")
    assert category["repo_id"] == by_category


def test_module_copy_brings_its_artifacts(api, source):
    p = source["prefix"]
    criteria = {"type_ids": ["modulemd"], "filters": {"unit": {"name": source["module"]}}}
    dest = empty_repo(api)
    copy(api, source["repo_id"], dest, criteria)
    assert packages(api, dest, p) == ["walrus-1.0", "walrus-lib-1.0"]
    assert [m["stream"] for m in units_of(api, dest, "modulemd")] == ["1.0"]
    deep = empty_repo(api)
    copy(api, source["repo_id"], deep, criteria, recursive_conservative=True)
    assert packages(api, deep, p) == ["walrus-1.0", "walrus-base-1.2", "walrus-lib-1.0"]


def test_bad_override_fails_the_copy_with_a_coded_error(api, source):
    dest = empty_repo(api)
    response = api.post(f"{API}/repositories/{dest}/actions/associate/", json={
        "source_repo_id": source["repo_id"], "criteria": by_name(source["prefix"], "walrus"),
        "override_config": {"recursive": "sometimes"}})
    [report] = api.wait_report(response)
    assert report["state"] == "error"
    assert report["error"]["code"] == "PLP1010", report["error"]
    assert "recursive" in report["error"]["description"]
    assert counts(api, dest) == {}


def test_removing_erratum_group_or_module_keeps_packages(api, source):
    p = source["prefix"]
    dest = empty_repo(api)
    copy(api, source["repo_id"], dest, {"type_ids": ["erratum", "package_group", "modulemd"]})
    assert packages(api, dest, p) == ["walrus-1.0", "walrus-lib-1.0"]
    for type_id in ("erratum", "package_group", "modulemd"):
        report = unassociate(api, dest, {"type_ids": [type_id]})
        assert report["result"]["removed_count"] == 1
    assert counts(api, dest) == {"rpm": 2}
    assert packages(api, dest, p) == ["walrus-1.0", "walrus-lib-1.0"]
    # removing a package from one repository leaves it in the others
    unassociate(api, dest, by_name(p, "walrus"))
    assert packages(api, dest, p) == ["walrus-lib-1.0"]
    assert "walrus-1.0" in packages(api, source["repo_id"], p)


def test_orphan_cleanup_removes_packages_and_metadata_units(api, stack, tmp_path):
    for tool in ("rpmbuild", "createrepo_c", "modifyrepo_c"):
        require_tool(tool)
    from tests.fixtures.rpm_copy import make_copy_repo

    prefix = f"o{uuid.uuid4().hex[:8]}"
    make_copy_repo(tmp_path / "repo", prefix)
    repo_id = empty_repo(api, feed=(tmp_path / "repo").as_uri() + "/")
    [report] = api.sync(repo_id)
    assert report["state"] == "finished", report
    keep = empty_repo(api)  # walrus-lib stays referenced by this repository
    copy(api, repo_id, keep, by_name(prefix, "walrus-lib"))
    files = {}
    for type_id in ("rpm", "erratum", "yum_repo_metadata_file", "modulemd"):
        for unit in units_of(api, repo_id, type_id):
            files[(type_id, unit["_id"])] = unit.get("_storage_path")
    [kept] = units_of(api, keep, "rpm")
    assert all((stack.storage / f).exists() for f in files.values() if f)
    assert any(k[0] == "yum_repo_metadata_file" and f for k, f in files.items())
    assert {k[0] for k in files} == {"rpm", "erratum", "yum_repo_metadata_file", "modulemd"}

    response = api.delete(f"{API}/repositories/{repo_id}/")
    assert response.status_code == 202, response.text
    api.wait_report(response)
    orphans = {(u["_content_type_id"], u["_id"])
               for t in ("rpm", "erratum", "yum_repo_metadata_file", "modulemd")
               for u in api.get(f"{ORPHANS}{t}/").json()}
    assert set(files) - {("rpm", kept["_id"])} <= orphans
    assert ("rpm", kept["_id"]) not in orphans

    [report] = api.wait_report(api.delete(ORPHANS))
    assert report["state"] == "finished", report
    for (type_id, uid), path in files.items():
        if uid == kept["_id"]:
            continue
        assert api.get(f"{API}/content/units/{type_id}/{uid}/").status_code == 404, (type_id,
                                                                                     uid)
        if path:
            assert not (stack.storage / path).exists(), path
    # the package another repository holds stays, with its file
    assert api.get(f"{API}/content/units/rpm/{kept['_id']}/").status_code == 200
    assert (stack.storage / kept["_storage_path"]).exists()
    assert packages(api, keep, prefix) == ["walrus-lib-1.0"]

