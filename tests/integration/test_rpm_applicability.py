"""RPM applicability and the agent's rpm handler (issue 20), against the real stack.

One yum repository per module (unique package names, errata ids and module names): walrus
1.0 and 1.1, the bugfix erratum updating walrus to 1.1, the security erratum listing
walrus-lib 1.0, and two versions of the module stream ``<p>-walrus:1.1``. Consumers are
registered and bound over the API (``notify_agent`` false) and post Pulp 2-shaped profiles;
the handler test drives the real dnf into a temporary installroot through the ``.repo`` file
the handler wrote from the distributor's consumer payload.
"""

from __future__ import annotations

import uuid

import pytest

from pulp2ng.config import load_settings
from pulp2ng.controllers.consumer_payloads import consumer_payload
from pulp2ng.distributors.rpm.handler import RpmHandler
from pulp2ng.plugin import HandlerError
from tests.conftest import require_tool
from tests.integration.test_applicability import applicability, put_profile, unit_ids
from tests.integration.test_consumers import register
from tests.integration.test_repositories import assert_error
from tests.integration.test_rpm import yum_repo

API = "/pulp/api/v2"


@pytest.fixture(scope="module")
def errata_repo(stack, tmp_path_factory):
    """``{repo_id, prefix, errata: [bugfix, security]}``: synced and published from a
    ``file://`` feed."""
    for tool in ("rpmbuild", "createrepo_c", "modifyrepo_c"):
        require_tool(tool)
    from tests.fixtures.make_rpm_extras import add_modules
    from tests.fixtures.rpm_errata_comps import make_errata_comps_repo

    prefix = f"a{uuid.uuid4().hex[:8]}"
    up = tmp_path_factory.mktemp("rpm-applicability") / "up"
    made = make_errata_comps_repo(up, prefix=prefix)
    # Two versions of one stream (…000 and …001): the newer applies to the older.
    add_modules(up, prefix=prefix, streams=("1.1", "1.1"), default=None)
    repo_id = yum_repo(stack.api, up.as_uri() + "/")
    sync, publish = stack.api.sync(repo_id, timeout=300)
    assert sync["state"] == "finished" and publish["state"] == "finished", (sync, publish)
    yield {"repo_id": repo_id, "prefix": prefix, "errata": made["errata"]}
    stack.api.delete(f"{API}/repositories/{repo_id}/")


def installed(name, version):
    return {"name": name, "epoch": 0, "version": version, "release": "1", "arch": "noarch",
            "vendor": None}


def test_rpm_erratum_and_modulemd_applicability(api, errata_repo):
    repo_id, p = errata_repo["repo_id"], errata_repo["prefix"]
    bugfix, security = errata_repo["errata"]
    rpms = {f"{m['name']}-{m['version']}": u for u, m in unit_ids(api, repo_id, "rpm").items()}
    errata = {m["id"]: u for u, m in unit_ids(api, repo_id, "erratum").items()}
    modules = {m["version"]: u for u, m in unit_ids(api, repo_id, "modulemd").items()}
    assert len(modules) == 2
    old_module, new_module = sorted(modules)

    old, new = (register(api).json()["consumer"]["id"] for _ in range(2))
    try:
        for consumer in (old, new):
            bound = api.post(f"{API}/consumers/{consumer}/bindings/", json={
                "repo_id": repo_id, "distributor_id": "yum_distributor",
                "notify_agent": False})
            assert bound.status_code == 200, bound.text
        base = [installed(f"{p}-walrus-base", "1.0"), installed(f"{p}-walrus-lib", "1.0"),
                {**installed("unrelated", "9"), "vendor": "Debian"}]
        put_profile(api, old, "rpm", [*base, installed(f"{p}-walrus", "1.0")])
        put_profile(api, new, "rpm", [*base, installed(f"{p}-walrus", "1.1")])
        put_profile(api, old, "modulemd", [{"name": f"{p}-walrus", "stream": "1.1",
                                            "version": old_module, "context": "c0ffee42",
                                            "arch": "noarch", "status": "enabled"}])
        put_profile(api, new, "modulemd", [{"name": f"{p}-walrus", "stream": "1.1",
                                            "version": new_module, "status": "enabled"}])
        response = api.post(f"{API}/consumers/actions/content/regenerate_applicability/",
                            json={"consumer_criteria": {"filters": {"id": {"$in": [old, new]}}}})
        assert response.status_code == 202, response.text
        assert [t["state"] for t in api.wait_report(response)] == ["finished"]

        # walrus 1.0 installed: walrus 1.1 and the bugfix erratum apply; the security
        # erratum lists walrus-lib 1.0, which is what is installed, so it does not.
        assert applicability(api, [old, new]) == sorted([
            {"consumers": [old], "applicability": {
                "erratum": [errata[bugfix]], "modulemd": [modules[new_module]],
                "rpm": [rpms[f"{p}-walrus-1.1"]]}},
            {"consumers": [new], "applicability": {}},
        ], key=lambda g: g["consumers"])
        assert security in errata
        assert applicability(api, [old], content_types=["erratum"]) == [
            {"consumers": [old], "applicability": {"erratum": [errata[bugfix]]}}]
        assert applicability(api, [old], content_types=["rpm"]) == [
            {"consumers": [old], "applicability": {"rpm": [rpms[f"{p}-walrus-1.1"]]}}]

        # An rpm profile without an EVR is refused (a 400, nothing stored).
        bad = api.post(f"{API}/consumers/{old}/profiles/",
                       json={"content_type": "rpm", "profile": [{"name": "walrus"}]})
        assert_error(bad, 400)
        assert api.get(f"{API}/consumers/{old}/profiles/rpm/").json()["profile"][-1] == (
            installed(f"{p}-walrus", "1.0"))
    finally:
        for consumer in (old, new):
            api.delete(f"{API}/consumers/{consumer}/")


@pytest.fixture(scope="module")
def platform(stack):
    from pulp2ng.platform import Platform

    return Platform.from_settings(load_settings(environ=stack.env))


def test_handler_binds_installs_updates_and_removes_with_dnf(api, platform, errata_repo,
                                                             tmp_path):
    require_tool("dnf")
    require_tool("rpm")
    repo_id, p = errata_repo["repo_id"], errata_repo["prefix"]
    bugfix, _ = errata_repo["errata"]
    payload = consumer_payload(platform, repo_id, "yum_distributor")
    # The repository's module lists walrus-lib as an artifact: without hotfixes dnf's modular
    # filtering would hide it from a root where no stream is enabled.
    handler = RpmHandler(tmp_path, {"releasever": "1", "dnf_options": [
        "--setopt=install_weak_deps=False", f"--setopt={repo_id}.module_hotfixes=true"]})
    report = handler.bind({"repo_id": repo_id, "distributor_id": "yum_distributor",
                           "type_id": "yum_distributor", "details": payload,
                           "binding_config": {}})
    repo_file = tmp_path / "etc" / "yum.repos.d" / f"pulp-{repo_id}.repo"
    assert report["repo_file"] == str(repo_file)
    text = repo_file.read_text()
    assert f"[{repo_id}]" in text and f"baseurl={payload['url']}" in text
    assert "gpgcheck=0" in text and payload["url"].startswith("http://")
    assert handler.profile() == []

    walrus = {"type_id": "rpm", "unit_key": {"name": f"{p}-walrus", "epoch": "0",
                                             "version": "1.0", "release": "1",
                                             "arch": "noarch"}}
    done = handler.install([walrus], {})
    assert done["changed"] and done["installed"] == sorted(
        f"{p}-{n}-1.0-1.noarch" for n in ("walrus", "walrus-base", "walrus-lib"))
    profile = handler.profile()
    assert [(e["name"], e["version"]) for e in profile] == [
        (f"{p}-walrus", "1.0"), (f"{p}-walrus-base", "1.0"), (f"{p}-walrus-lib", "1.0")]
    assert all(e["epoch"] == 0 and e["arch"] == "noarch" and e["release"] == "1"
               for e in profile)

    # The erratum updates walrus to 1.1 (dnf upgrade --advisory).
    done = handler.update([{"type_id": "erratum", "unit_key": {"id": bugfix}}], {})
    assert done["installed"] == [f"{p}-walrus-1.1-1.noarch"]
    assert done["removed"] == [f"{p}-walrus-1.0-1.noarch"]

    done = handler.uninstall([{"type_id": "rpm", "unit_key": {"name": f"{p}-walrus"}}], {})
    # dnf also removes the dependencies it installed for walrus (clean_requirements_on_remove)
    assert done["removed"] == sorted([f"{p}-walrus-1.1-1.noarch",
                                      f"{p}-walrus-base-1.0-1.noarch",
                                      f"{p}-walrus-lib-1.0-1.noarch"])
    assert handler.profile() == []

    with pytest.raises(HandlerError):  # never an option smuggled in as a name
        handler.install([{"type_id": "rpm", "unit_key": {"name": "--nogpgcheck"}}], {})

    assert handler.unbind(repo_id, "other_distributor") == {"removed": False}
    assert repo_file.exists()
    assert handler.unbind(repo_id, "yum_distributor") == {"removed": True}
    assert not repo_file.exists()
    with pytest.raises(HandlerError):  # nothing bound: dnf finds no walrus
        handler.install([walrus], {})
