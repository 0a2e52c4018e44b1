"""Concurrent updates of one repository through HTTP: no change is lost, none combines into a
config that was never validated, and keys that cannot be field names are refused."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pymongo
import requests

from pulp2ng.db.store import Store

API = "/pulp/api/v2"
BAD_KEYS = ["a.b", "$x", ""]


def _parallel(api, calls, threads=20):
    """Run ``(method, path, json)`` calls at once, one requests session per thread."""
    import threading

    local = threading.local()

    def run(call):
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.auth = api.session.auth
        method, path, body = call
        return local.session.request(method, api.url(path), json=body, timeout=120)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(run, calls))


def test_100_concurrent_note_puts_keep_every_key(api, repo_factory):
    repo = repo_factory(notes={"keep": "me"})
    path = f"{API}/repositories/{repo['id']}/"
    calls = [("PUT", path, {"delta": {"notes": {f"k{i}": i}}}) for i in range(100)]
    responses = _parallel(api, calls)
    assert [r.status_code for r in responses] == [200] * 100, responses[0].text
    notes = api.get(path).json()["notes"]
    assert notes == {"keep": "me", **{f"k{i}": i for i in range(100)}}
    # A None value removes only its key, also under concurrency.
    calls = [("PUT", path, {"delta": {"notes": {f"k{i}": None}}}) for i in range(0, 100, 2)]
    assert {r.status_code for r in _parallel(api, calls)} == {200}
    assert api.get(path).json()["notes"] == {
        "keep": "me", **{f"k{i}": i for i in range(1, 100, 2)}}


def _assert_400(response):
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"]["code"] == "PLP1010"
    return body


def test_keys_that_are_not_field_names_are_400(api, repo_factory):
    for key in BAD_KEYS:
        repo_id = f"r-{uuid.uuid4().hex[:8]}"
        _assert_400(api.post(f"{API}/repositories/", json={"id": repo_id, "notes": {key: 1}}))
        _assert_400(api.post(f"{API}/repositories/", json={
            "id": repo_id, "importer_type_id": "harness_importer",
            "importer_config": {key: 1}}))
        _assert_400(api.post(f"{API}/repositories/", json={
            "id": repo_id, "distributors": [{"distributor_type_id": "harness_distributor",
                                             "distributor_config": {key: 1}}]}))
        assert api.get(f"{API}/repositories/{repo_id}/").status_code == 404
    repo = repo_factory(importer_type_id="harness_importer",
                        distributors=[{"distributor_type_id": "harness_distributor",
                                       "distributor_id": "web"}])
    base = f"{API}/repositories/{repo['id']}/"
    for key in BAD_KEYS:
        body = _assert_400(api.put(base, json={"delta": {"notes": {key: 1}}}))
        assert body["property_names"] == ["delta.notes"]
        _assert_400(api.put(base, json={"importer_config": {key: 1}}))
        _assert_400(api.put(base, json={"distributor_configs": {"web": {key: 1}}}))
        _assert_400(api.put(f"{base}importers/harness_importer/",
                            json={"importer_config": {key: 1}}))
        _assert_400(api.put(f"{base}distributors/web/", json={"distributor_config": {key: 1}}))
        _assert_400(api.post(f"{base}distributors/", json={
            "distributor_type_id": "harness_distributor", "distributor_id": "other",
            "distributor_config": {key: 1}}))
    details = api.get(f"{base}?details=true").json()
    assert details["notes"] == {}
    assert details["importers"][0]["config"] == {}
    assert [d["config"] for d in details["distributors"]] == [{}]


def test_concurrent_importer_config_deltas_all_land_validated(api, repo_factory):
    """Repository PUTs (applied in the API) race importer PUTs (tasks): every key lands."""
    repo = repo_factory(importer_type_id="harness_importer", importer_config={"num_units": 1})
    base = f"{API}/repositories/{repo['id']}/"
    calls = []
    for i in range(20):
        if i % 2:
            calls.append(("PUT", f"{base}importers/harness_importer/",
                          {"importer_config": {f"k{i}": i}}))
        else:
            calls.append(("PUT", base, {"importer_config": {f"k{i}": i}}))
    # One more that the plugin rejects: it must not leave a trace either.
    calls.append(("PUT", base, {"importer_config": {"invalid": 1}}))
    responses = _parallel(api, calls)
    assert responses[-1].status_code == 400
    for i, response in enumerate(responses[:-1]):
        if i % 2:
            [report] = api.wait_report(response)
            assert report["state"] == "finished", report
        else:
            assert response.status_code == 200, response.text
    [imp] = api.get(f"{base}importers/").json()
    assert imp["config"] == {"num_units": 1, **{f"k{i}": i for i in range(20)}}
    # Removals race additions on other keys the same way.
    calls = [("PUT", base, {"importer_config": {f"k{i}": None, f"n{i}": i}})
             for i in range(10)]
    assert {r.status_code for r in _parallel(api, calls)} == {200}
    [imp] = api.get(f"{base}importers/").json()
    assert imp["config"] == {"num_units": 1, **{f"k{i}": i for i in range(10, 20)},
                             **{f"n{i}": i for i in range(10)}}


def test_distributor_config_tasks_and_repository_puts_keep_every_key(api, repo_factory):
    repo = repo_factory(distributors=[{"distributor_type_id": "harness_distributor",
                                       "distributor_id": "web"}])
    base = f"{API}/repositories/{repo['id']}/"
    calls = [("PUT", f"{base}distributors/web/", {"distributor_config": {f"d{i}": i}})
             if i % 2 else ("PUT", base, {"distributor_configs": {"web": {f"d{i}": i}}})
             for i in range(10)]
    for response in _parallel(api, calls, threads=10):
        assert all(r["state"] == "finished" for r in api.wait_report(response))
    dist = api.get(f"{base}distributors/web/").json()
    assert dist["config"] == {f"d{i}": i for i in range(10)}


def test_compare_and_set_treats_a_missing_revision_as_zero(database):
    client = pymongo.MongoClient(database)
    try:
        store = Store(client, f"cas-{uuid.uuid4().hex[:8]}")
        col = store.importers
        col.insert_one({"_id": "old", "config": {"a": 1}})  # stored before ``revision``
        assert not store.compare_and_set(col, "old", 1, {"config": {"a": 2}})
        assert store.compare_and_set(col, "old", 0, {"config": {"a": 3}})
        assert not store.compare_and_set(col, "old", 0, {"config": {"a": 4}})
        assert store.compare_and_set(col, "old", 1, {"config": {"a": 5}})
        assert col.find_one({"_id": "old"}) == {"_id": "old", "config": {"a": 5}, "revision": 2}
        client.drop_database(store.db.name)
    finally:
        client.close()


def test_update_repo_scratchpad_merges_concurrent_keys(database):
    from types import SimpleNamespace

    from pulp2ng.plugin.conduits import RepoConduit

    client = pymongo.MongoClient(database)
    try:
        store = Store(client, f"pad-{uuid.uuid4().hex[:8]}")
        store.repos.insert_many([{"_id": "r", "scratchpad": {"keep": 1}},
                                 {"_id": "null", "scratchpad": None}])
        platform = SimpleNamespace(store=store, storage=None)

        def write(i):
            RepoConduit(platform, None, "r", "x").update_repo_scratchpad({f"k{i}": i})

        with ThreadPoolExecutor(10) as pool:
            list(pool.map(write, range(30)))
        assert store.repos.find_one({"_id": "r"})["scratchpad"] == {
            "keep": 1, **{f"k{i}": i for i in range(30)}}
        conduit = RepoConduit(platform, None, "null", "x")
        conduit.update_repo_scratchpad({"a": 1})
        conduit.update_repo_scratchpad({"b": 2})
        assert conduit.get_repo_scratchpad() == {"a": 1, "b": 2}
        client.drop_database(store.db.name)
    finally:
        client.close()
