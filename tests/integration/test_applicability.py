"""Consumer profiles and content applicability (issue 19), over HTTP against the real stack.

Consumers and bindings are inserted straight into their agreed collections (``consumers``,
``consumer_bindings``) until the consumers API lands; everything else goes through the API.
"""

import datetime
import hashlib
import json
import subprocess
import sys
import uuid

import pymongo
import pytest

from tests.conftest import FIXTURES, require_tool
from tests.integration.test_consumers import register
from tests.integration.test_iso import iso_repo, unique_upstream
from tests.integration.test_ostree import ARM, DEBUG, X86, history, make_repo, ostree_repo, synced
from tests.integration.test_python_upload import new_repo, upload
from tests.integration.test_repositories import assert_error

API = "/pulp/api/v2"
PROFILE_KEYS = {"_href", "_id", "_ns", "consumer_id", "content_type", "profile",
                "profile_hash"}
SEP = "\x1f"


@pytest.fixture
def db(stack, database):
    return pymongo.MongoClient(database)[stack.name]


@pytest.fixture
def consumers(db):
    """``make(n, bind=[(repo, dist)...]) -> [ids]``: consumers (and bindings) inserted directly."""
    made = []

    def make(n=1, bind=(), prefix="c"):
        tag = uuid.uuid4().hex[:6]
        ids = [f"{prefix}-{tag}-{i}" for i in range(n)]
        db["consumers"].insert_many([{"_id": c, "id": c, "display_name": c,
                                      "description": None, "notes": {}} for c in ids])
        bindings = [{"_id": f"{c}{SEP}{r}{SEP}{d}", "consumer_id": c, "repo_id": r,
                     "distributor_id": d, "deleted": False} for c in ids for r, d in bind]
        if bindings:
            db["consumer_bindings"].insert_many(bindings)
        made.extend(ids)
        return ids

    yield make
    db["consumers"].delete_many({"_id": {"$in": made}})
    db["consumer_bindings"].delete_many({"consumer_id": {"$in": made}})
    db["consumer_unit_profiles"].delete_many({"consumer_id": {"$in": made}})


def put_profile(api, consumer, content_type, profile):
    response = api.post(f"{API}/consumers/{consumer}/profiles/",
                        json={"content_type": content_type, "profile": profile})
    assert response.status_code == 201, response.text
    return response.json()


def applicability(api, ids, **extra):
    response = api.post(f"{API}/consumers/content/applicability/",
                        json={"criteria": {"filters": {"id": {"$in": ids}}}, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def unit_ids(api, repo_id, type_id, **filters):
    response = api.post(f"{API}/repositories/{repo_id}/search/units/", json={
        "criteria": {"type_ids": [type_id], "filters": {"unit": filters}}})
    assert response.status_code == 200, response.text
    return {a["metadata"]["_id"]: a["metadata"] for a in response.json()}


# -- profiles ----------------------------------------------------------------------------------


def test_profile_crud_shapes_and_search(api, consumers):
    (consumer,) = consumers()
    profile = [{"version": "1.0", "name": "Demo"}]
    body = put_profile(api, consumer, "python", profile)
    assert set(body) == PROFILE_KEYS
    href = f"{API}/consumers/{consumer}/profiles/python/"
    expected_hash = hashlib.sha256(json.dumps(profile, sort_keys=True, separators=(",", ":"))
                                   .encode()).hexdigest()
    assert body["_href"] == href and body["_ns"] == "consumer_unit_profiles"
    assert body["consumer_id"] == consumer and body["content_type"] == "python"
    assert body["profile"] == profile and body["profile_hash"] == expected_hash
    assert set(body["_id"]) == {"$oid"}
    assert api.get(href).json() == body
    assert api.get(f"{API}/consumers/{consumer}/profiles/").json() == [body]

    # POST for an existing type replaces it (same _id); PUT replaces too.
    again = put_profile(api, consumer, "python", [{"name": "demo", "version": "2.0"}])
    assert again["_id"] == body["_id"] and again["profile_hash"] != body["profile_hash"]
    put = api.put(href, json={"profile": [{"name": "demo", "version": "3.0"}]})
    assert put.status_code == 200, put.text
    assert put.json()["profile"] == [{"name": "demo", "version": "3.0"}]
    iso = put_profile(api, consumer, "iso", [{"name": "a.iso", "checksum": "ab", "size": 1}])
    assert [p["content_type"] for p in
            api.get(f"{API}/consumers/{consumer}/profiles/").json()] == ["iso", "python"]

    found = api.post(f"{API}/consumers/profile/search/", json={
        "criteria": {"filters": {"consumer_id": consumer, "content_type": "iso"}}}).json()
    assert found == [iso]
    found = api.get(f"{API}/consumers/profile/search/",
                    params={"filters": json.dumps({"consumer_id": consumer})}).json()
    assert len(found) == 2
    assert_error(api.post(f"{API}/consumers/profile/search/", json={}), 400)

    assert api.delete(href).status_code == 200
    assert_error(api.get(href), 404, "PLP0009")
    assert_error(api.delete(href), 404, "PLP0009")
    assert_error(api.put(href, json={"profile": []}), 404, "PLP0009")


def test_profile_errors(api, consumers):
    (consumer,) = consumers()
    for path in ("profiles/", "profiles/python/"):
        assert_error(api.get(f"{API}/consumers/nope-consumer/{path}"), 404, "PLP0009")
    missing = api.post(f"{API}/consumers/nope-consumer/profiles/",
                       json={"content_type": "python", "profile": []})
    assert_error(missing, 404, "PLP0009")
    assert missing.json()["resources"] == {"consumer": "nope-consumer"}
    url = f"{API}/consumers/{consumer}/profiles/"
    assert_error(api.post(url, json={"profile": []}), 400)
    assert_error(api.post(url, json={"content_type": "python"}), 400)
    assert_error(api.post(url, json={"content_type": "python", "profile": {"x": 1}}), 400)
    assert_error(api.post(url, json={"content_type": "ostree", "profile": [{"ref": "x"}]}),
                 400)
    # A plugin's calculator checks its profiles (rpm: importers/rpm/applicability.py)…
    assert_error(api.post(url, json={"content_type": "rpm", "profile": {"any": "thing"}}),
                 400)
    # …and types without a calculator are stored as given.
    assert api.post(url, json={"content_type": "deb", "profile": {"any": "thing"}}
                    ).status_code == 201


# -- applicability -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    out = tmp_path_factory.mktemp("appl") / "dist"
    name = f"appl-{uuid.uuid4().hex[:6]}"
    specs = [f"{name}==1.0", f"{name}==2.0", f"{name}==3.0b1"]
    subprocess.run([sys.executable, str(FIXTURES / "make_py_packages.py"), str(out),
                    *[a for s in specs for a in ("--spec", s)]], check=True, capture_output=True)
    return name, out


def python_content(api, wheels):
    name, out = wheels
    repo_id = new_repo(api)
    for path in sorted(out.iterdir()):
        key = {"filename": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        assert upload(api, repo_id, path, key)["state"] == "finished"
    return repo_id


def test_python_applicability_and_grouping(api, consumers, wheels, db):
    name, _ = wheels
    repo_id = python_content(api, wheels)
    units = unit_ids(api, repo_id, "python_package")
    v2 = sorted(u for u, m in units.items() if m["version"] == "2.0")
    assert len(v2) == 2  # wheel and sdist

    old = consumers(3, bind=[(repo_id, "python_distributor")])
    new = consumers(1, bind=[(repo_id, "python_distributor")])
    unbound = consumers(1)
    for c in old + unbound:
        put_profile(api, c, "python", [{"name": name.upper().replace("-", "_"),
                                        "version": "1.0"}, {"name": "other", "version": "1"}])
    put_profile(api, new[0], "python", [{"name": name, "version": "2.0"}])

    result = applicability(api, old + new + unbound)
    assert result == sorted([
        {"consumers": sorted(old), "applicability": {"python_package": v2}},
        {"consumers": sorted(new + unbound), "applicability": {}},
    ], key=lambda g: g["consumers"])
    # Three consumers share one profile: one stored result for the repository.
    assert db["repo_profile_applicability"].count_documents({"repo_id": repo_id}) == 2
    # content_types filters by unit type id (or profile type name).
    assert applicability(api, old, content_types=["iso"]) == [
        {"consumers": sorted(old), "applicability": {}}]
    assert applicability(api, old, content_types=["python"]) == [
        {"consumers": sorted(old), "applicability": {"python_package": v2}}]
    # A deleted binding does not count.
    db["consumer_bindings"].update_many({"consumer_id": old[0]}, {"$set": {"deleted": True}})
    assert applicability(api, [old[0]]) == [{"consumers": [old[0]], "applicability": {}}]
    assert_error(api.post(f"{API}/consumers/content/applicability/", json={}), 400)
    assert_error(api.post(f"{API}/consumers/content/applicability/",
                          json={"criteria": {}, "content_types": "iso"}), 400)


def test_iso_applicability_staleness_and_regeneration(api, consumers, serve, tmp_path, db):
    rows = unique_upstream(tmp_path / "up", count=2)
    feed, _ = serve(tmp_path / "up")
    repo_id = iso_repo(api, feed)
    assert [r["state"] for r in api.sync(repo_id)][0] == "finished"
    units = unit_ids(api, repo_id, "iso")
    by_name = {m["name"]: u for u, m in units.items()}
    ids = consumers(20, bind=[(repo_id, "iso_distributor")])
    same = [{"name": "file-1.iso", "checksum": rows["file-1.iso"][0], "size": 4096},
            {"name": "file-2.iso", "checksum": "0" * 64, "size": 4096}]
    for c in ids:
        put_profile(api, c, "iso", same)
    assert applicability(api, ids) == [
        {"consumers": sorted(ids), "applicability": {"iso": [by_name["file-2.iso"]]}}]
    stored = list(db["repo_profile_applicability"].find({"repo_id": repo_id}))
    assert len(stored) == 1  # 20 consumers, one profile: one computation
    first = stored[0]
    assert first["_id"] == f"{first['profile_hash']}{SEP}iso{SEP}{repo_id}"
    assert first["applicability"] == {"iso": [by_name["file-2.iso"]]}

    # Content change: remove file-2 → the stored result is stale; regeneration updates it.
    response = api.post(f"{API}/repositories/{repo_id}/actions/unassociate/", json={
        "criteria": {"type_ids": ["iso"], "filters": {"unit": {"name": "file-2.iso"}}}})
    assert [r["state"] for r in api.wait_report(response)] == ["finished"]
    rev = db["repos"].find_one({"_id": repo_id})["revision"]
    assert not first["repo_revision"].endswith(f":{rev}")
    response = api.post(f"{API}/repositories/actions/content/regenerate_applicability/",
                        json={"repo_criteria": {"filters": {"id": repo_id}}})
    assert response.status_code == 202, response.text
    report = response.json()
    assert set(report) == {"result", "error", "spawned_tasks"}
    (task,) = api.wait_report(response)
    assert task["state"] == "finished", task
    assert task["tags"] == ["pulp:action:content_applicability_regeneration"]
    stored = list(db["repo_profile_applicability"].find({"repo_id": repo_id}))
    assert len(stored) == 1 and stored[0]["repo_revision"].endswith(f":{rev}")
    assert stored[0]["applicability"] == {"iso": []}
    assert applicability(api, ids) == [{"consumers": sorted(ids), "applicability": {}}]


def test_regeneration_endpoints(api, consumers, repo_factory, db):
    repos = [repo_factory()["id"] for _ in range(2)]
    ids = consumers(2, bind=[(r, "d") for r in repos])
    for c in ids:
        put_profile(api, c, "iso", [{"name": "x.iso", "checksum": "ab", "size": 1}])

    response = api.post(f"{API}/consumers/{ids[0]}/actions/content/regenerate_applicability/")
    assert response.status_code == 202, response.text
    (task,) = api.wait_report(response)
    assert task["state"] == "finished", task
    assert set(task["tags"]) == {f"pulp:consumer:{ids[0]}",
                                 "pulp:action:consumer_content_applicability_regeneration"}
    # Both repositories have a result now, the shared profile once each.
    assert sum(db["repo_profile_applicability"].count_documents({"repo_id": r})
               for r in repos) == 2
    assert_error(api.post(f"{API}/consumers/nope-c/actions/content/regenerate_applicability/"),
                 404, "PLP0009")

    response = api.post(f"{API}/consumers/actions/content/regenerate_applicability/",
                        json={"consumer_criteria": {"filters": {"id": {"$in": ids}}}})
    assert response.status_code == 202, response.text
    (task,) = api.wait_report(response)
    assert task["state"] == "finished" and task["tags"] == [
        "pulp:action:content_applicability_regeneration"]
    assert_error(api.post(f"{API}/consumers/actions/content/regenerate_applicability/",
                          json={}), 400)

    response = api.post(f"{API}/repositories/actions/content/regenerate_applicability/",
                        json={"repo_criteria": {"filters": {"id": {"$in": repos}}},
                              "parallel": True})
    assert response.status_code == 202, response.text
    group = response.json()
    assert set(group) == {"_href", "group_id"}
    assert group["_href"] == f"{API}/task_groups/{group['group_id']}/"
    grouped = list(db["task_status"].find({"group_id": group["group_id"]}))
    assert len(grouped) == 2
    for doc in grouped:
        report = api.wait_task(doc["_id"])
        assert report["state"] == "finished", report
        assert "pulp:action:content_applicability_regeneration" in report["tags"]
    assert sorted(t for d in grouped for t in d["tags"] if t.startswith("pulp:repository:")) \
        == sorted(f"pulp:repository:{r}" for r in repos)
    assert_error(api.post(f"{API}/repositories/actions/content/regenerate_applicability/",
                          json={}), 400)
    assert_error(api.post(f"{API}/repositories/actions/content/regenerate_applicability/",
                          json={"repo_criteria": {"filters": {"id": "none-x"}}, "parallel": "maybe"}), 400)


def test_ostree_applicability_reports_the_stale_ref(api, serve, tmp_path, db):
    """A consumer registered and bound over the API, with an ``ostree`` profile: the ref
    deployed at an older commit is applicable (its head commit unit), the ref deployed at
    the head and a ref the repository does not carry are not."""
    require_tool("ostree")
    up = tmp_path / "up" / "repo"
    heads = make_repo(up)  # three refs, three commits each
    feed, _ = serve(up.parent)
    repo_id = ostree_repo(api, feed + "repo/", depth=-1, branches=[X86, ARM])
    synced(api, repo_id)
    x86 = {m["commit"]: u for u, m in unit_ids(api, repo_id, "ostree", branch=X86).items()}
    older = history(up, heads[X86])[1]
    assert set(x86) == set(history(up, heads[X86])) and older in x86

    stale, current = (register(api).json()["consumer"]["id"] for _ in range(2))
    try:
        for consumer in (stale, current):
            bound = api.post(f"{API}/consumers/{consumer}/bindings/", json={
                "repo_id": repo_id, "distributor_id": "ostree_web_distributor",
                "notify_agent": False})
            assert bound.status_code == 200, bound.text
        put_profile(api, stale, "ostree", [{"ref": X86, "commit": older},
                                           {"ref": ARM, "commit": heads[ARM]},
                                           {"ref": DEBUG, "commit": heads[DEBUG]}])
        put_profile(api, current, "ostree", [{"ref": X86, "commit": heads[X86]},
                                             {"ref": ARM, "commit": heads[ARM]}])
        response = api.post(f"{API}/repositories/actions/content/regenerate_applicability/",
                            json={"repo_criteria": {"filters": {"id": repo_id}}})
        assert [t["state"] for t in api.wait_report(response)] == ["finished"]
        stored = list(db["repo_profile_applicability"].find({"repo_id": repo_id}))
        assert len(stored) == 2  # one result per distinct profile

        assert applicability(api, [stale, current]) == sorted([
            {"consumers": [stale], "applicability": {"ostree": [x86[heads[X86]]]}},
            {"consumers": [current], "applicability": {}},
        ], key=lambda g: g["consumers"])
        assert applicability(api, [stale], content_types=["ostree"]) == [
            {"consumers": [stale], "applicability": {"ostree": [x86[heads[X86]]]}}]
        assert applicability(api, [stale], content_types=["iso"]) == [
            {"consumers": [stale], "applicability": {}}]
    finally:
        for consumer in (stale, current):
            api.delete(f"{API}/consumers/{consumer}/")
        api.delete(f"{API}/repositories/{repo_id}/")


def regenerate_in_group(client, repos) -> str:
    response = client.post(f"{API}/repositories/actions/content/regenerate_applicability/",
                           json={"repo_criteria": {"filters": {"id": {"$in": repos}}},
                                 "parallel": True})
    assert response.status_code == 202, response.text
    return response.json()["group_id"]


def test_task_group_endpoints(api, consumers, repo_factory, db):
    repos = sorted(repo_factory()["id"] for _ in range(3))
    consumers(1, bind=[(r, "d") for r in repos])
    group_id = regenerate_in_group(api, repos)
    href = f"{API}/task_groups/{group_id}/"

    listed = api.get(href)
    assert listed.status_code == 200, listed.text
    stored = list(db["task_status"].find({"group_id": group_id}).sort("seq", 1))
    assert [t["task_id"] for t in listed.json()] == [d["_id"] for d in stored]
    assert len(stored) == 3
    for report in listed.json():
        assert report["_href"] == f"{API}/tasks/{report['task_id']}/"
        assert "queue" not in report and "kwargs" not in report
    summary = api.get(f"{href}state_summary/").json()
    assert set(summary) == {"total", "waiting", "skipped", "accepted", "running",
                            "suspended", "finished", "error", "canceled"}
    assert summary["total"] == 3 == sum(v for k, v in summary.items() if k != "total")

    finished = [api.wait_task(t["task_id"]) for t in listed.json()]
    assert {t["state"] for t in finished} == {"finished"}
    assert sorted(t for r in finished for t in r["tags"] if t.startswith("pulp:repository:")) \
        == [f"pulp:repository:{r}" for r in repos]
    # As in Pulp 2, tasks/ lists no task of a group, even by its tags.
    ids = {t["task_id"] for t in finished}
    assert not ids & {t["task_id"] for t in api.get(f"{API}/tasks/").json()}
    assert api.get(f"{API}/tasks/", params={"tag": f"pulp:repository:{repos[0]}"}).json() == []
    assert api.get(f"{href}state_summary/").json() == {
        "total": 3, "waiting": 0, "skipped": 0, "accepted": 0, "running": 0, "suspended": 0,
        "finished": 3, "error": 0, "canceled": 0}
    # Canceling a finished group is a no-op answered 200 null, as for a finished task.
    deleted = api.delete(href)
    assert deleted.status_code == 200 and deleted.json() is None
    assert {t["state"] for t in api.get(href).json()} == {"finished"}

    unknown = f"{API}/task_groups/{uuid.uuid4()}/"
    for response in (api.get(unknown), api.delete(unknown),
                     api.get(f"{unknown}state_summary/")):
        assert_error(response, 404, "PLP0009")


def test_task_group_cancel_cancels_waiting_tasks(api, consumers, repo_factory, db):
    """A group whose tasks cannot start yet (their repositories are reserved by a task that
    has not finished) is canceled as a whole."""
    repos = sorted(repo_factory()["id"] for _ in range(2))
    # Hold each repository's reservation with a fake task: the group's tasks wait behind it.
    holders = {r: f"holder-{uuid.uuid4().hex[:8]}" for r in repos}
    held = [f"repository_profile_applicability:{r}" for r in repos]
    db["reserved_resources"].insert_many(
        [{"_id": h, "task_id": holders[r], "since": datetime.datetime.now(datetime.timezone.utc)}
         for h, r in zip(held, repos)])
    try:
        group_id = regenerate_in_group(api, repos)
        href = f"{API}/task_groups/{group_id}/"
        assert api.get(f"{href}state_summary/").json()["waiting"] == 2
        assert api.delete(href).json() is None
        reports = api.get(href).json()
        assert [r["state"] for r in reports] == ["canceled", "canceled"]
        summary = api.get(f"{href}state_summary/").json()
        assert summary["canceled"] == summary["total"] == 2
    finally:
        db["reserved_resources"].delete_many({"_id": {"$in": held}})


def test_task_group_permissions_follow_the_task_rule(api, repo_factory):
    from tests.integration.test_users import denied
    from tests.stack import Api

    repos = sorted(repo_factory()["id"] for _ in range(2))
    made = []

    def user(*grants):
        login = f"u-{uuid.uuid4().hex[:8]}"
        assert api.post(f"{API}/users/", json={"login": login, "password": "pw"}
                        ).status_code == 201
        made.append(login)
        for resource, operation in grants:
            assert api.post(f"{API}/permissions/actions/grant_to_user/", json={
                "login": login, "resource": resource, "operations": [operation]}
            ).status_code == 200
        return Api(api.base, auth=(login, "pw"))

    try:
        requester = user(("/v2/repositories/actions/content/regenerate_applicability/",
                          "CREATE"))
        group_id = regenerate_in_group(requester, repos)
        href = f"{API}/task_groups/{group_id}/"
        assert len(requester.get(href).json()) == 2            # its requester follows it
        assert requester.get(f"{href}state_summary/").json()["total"] == 2
        for t in requester.get(href).json():
            requester.wait_task(t["task_id"])
        assert requester.delete(href).status_code == 200
        # Reading one of its repositories is not enough; reading both is.
        one = user((f"/v2/repositories/{repos[0]}/", "READ"))
        assert denied(one.get(href)) and denied(one.get(f"{href}state_summary/"))
        both = user(*[(f"/v2/repositories/{r}/", "READ") for r in repos])
        assert both.get(href).status_code == 200
        assert denied(both.delete(href))                       # canceling needs EXECUTE
        assert denied(both.get(f"{API}/task_groups/{uuid.uuid4()}/"))
    finally:
        for login in made:
            api.delete(f"{API}/users/{login}/")
