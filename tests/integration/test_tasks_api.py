"""Task reports, tag queries, search, cancel and purge over HTTP."""

import time
import uuid

from tests.integration.test_repositories import assert_error

API = "/pulp/api/v2"
TASK_FIELDS = {"_href", "task_id", "task_type", "state", "worker_name", "queue", "start_time",
               "finish_time", "progress_report", "result", "error", "exception", "traceback",
               "tags", "spawned_tasks"}


def sync(api, repo_id, **override):
    return api.start_sync(repo_id, **override)


def test_task_report_has_every_field(api, repo_factory):
    repo = repo_factory(importer_type_id="harness_importer", importer_config={"num_units": 2})
    task_id = sync(api, repo["id"])
    report = api.wait_task(task_id)
    assert TASK_FIELDS <= set(report)
    assert report["_href"] == f"{API}/tasks/{task_id}/" and report["task_id"] == task_id
    assert report["state"] == "finished" and report["error"] is None
    assert report["queue"].endswith(".dq") and report["worker_name"]
    assert report["start_time"] <= report["finish_time"]
    assert report["progress_report"]["harness_importer"] == {"state": "finished", "units": 2}
    assert report["result"]["added_count"] == 2 and report["result"]["result"] == "success"
    assert set(report["tags"]) == {f"pulp:repository:{repo['id']}", "pulp:action:sync"}
    assert report["exception"] is None and report["traceback"] is None


def test_failed_task_reports_error_and_traceback(api, repo_factory):
    repo = repo_factory(importer_type_id="harness_importer")
    report = api.wait_task(sync(api, repo["id"], fail=True))
    assert report["state"] == "error"
    assert "told to fail" in report["error"]["description"]
    assert report["error"]["code"].startswith("PLP")
    assert "Traceback" in report["traceback"]
    history = api.get(f"{API}/repositories/{repo['id']}/history/sync/").json()
    assert history[0]["result"] == "error" and "told to fail" in history[0]["error_message"]


def test_sync_without_importer_fails_in_the_task(api, repo_factory):
    repo = repo_factory()
    report = api.wait_task(sync(api, repo["id"]))
    assert report["state"] == "error" and report["error"]["code"] == "PLP0009"


def test_list_by_tags_is_an_and(api, repo_factory):
    a = repo_factory(importer_type_id="harness_importer")
    b = repo_factory(importer_type_id="harness_importer")
    ta, tb = sync(api, a["id"]), sync(api, b["id"])
    api.wait_task(ta), api.wait_task(tb)
    found = api.get(f"{API}/tasks/", params={"tag": [f"pulp:repository:{a['id']}",
                                                     "pulp:action:sync"]}).json()
    assert [t["task_id"] for t in found] == [ta]
    both = {t["task_id"] for t in api.get(f"{API}/tasks/", params={"tag": "pulp:action:sync"}).json()}
    assert {ta, tb} <= both


def test_search_tasks(api, repo_factory):
    repo = repo_factory(importer_type_id="harness_importer")
    task_id = sync(api, repo["id"])
    api.wait_task(task_id)
    found = api.post(f"{API}/tasks/search/", json={"criteria": {
        "filters": {"tags": f"pulp:repository:{repo['id']}"}, "fields": ["state", "tags"]}}).json()
    assert [t["task_id"] for t in found] == [task_id] and found[0]["state"] == "finished"
    got = api.get(f"{API}/tasks/search/",
                  params={"filters": f'{{"task_id": "{task_id}"}}'}).json()
    assert [t["task_id"] for t in got] == [task_id]


def test_missing_task_is_404(api):
    assert_error(api.get(f"{API}/tasks/{uuid.uuid4()}/"), 404, "PLP0009")
    assert_error(api.delete(f"{API}/tasks/{uuid.uuid4()}/"), 404, "PLP0009")


def test_cancel_running_then_waiting(api, repo_factory):
    repo = repo_factory(importer_type_id="harness_importer")
    running = sync(api, repo["id"], sleep=30)
    waiting = sync(api, repo["id"], num_units=3)
    deadline = time.monotonic() + 20
    while api.task(running)["state"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert api.task(waiting)["state"] == "waiting"
    response = api.delete(f"{API}/tasks/{waiting}/")
    assert response.status_code == 200 and response.json() is None
    assert api.delete(f"{API}/tasks/{running}/").status_code == 200
    assert api.wait_task(running, timeout=10)["state"] == "canceled"
    assert api.wait_task(waiting)["state"] == "canceled"
    # The waiting task never ran: no units, and the next task runs on the same repo.
    assert api.wait_task(sync(api, repo["id"], num_units=1))["state"] == "finished"
    counts = api.get(f"{API}/repositories/{repo['id']}/").json()["content_unit_counts"]
    assert counts == {"harness_unit": 1}
    # Canceling a completed task is a no-op 200, and canceled sticks.
    assert api.delete(f"{API}/tasks/{running}/").status_code == 200
    assert api.task(running)["state"] == "canceled"
    history = api.get(f"{API}/repositories/{repo['id']}/history/sync/").json()
    assert "canceled" in [h["result"] for h in history]


def test_purge_completed_tasks(api, repo_factory):
    repo = repo_factory(importer_type_id="harness_importer")
    ok = sync(api, repo["id"])
    bad = sync(api, repo["id"], fail=True)
    api.wait_task(ok), api.wait_task(bad)
    assert_error(api.delete(f"{API}/tasks/"), 403, "PLP1012")
    assert_error(api.delete(f"{API}/tasks/", params={"state": "canceled"}), 400, "PLP1011")
    response = api.delete(f"{API}/tasks/", params={"state": ["finished", "error"]})
    assert response.status_code == 204
    assert api.get(f"{API}/tasks/{ok}/").status_code == 404
    assert api.get(f"{API}/tasks/{bad}/").status_code == 404


def test_completed_tasks_expire_after_the_retention(make_stack):
    """Finished and canceled tasks alike leave once ``task_retention`` has passed."""
    stack = make_stack(workers=1, scheduler=True,
                       extra_env={"PULP2NG_TASKS_TASK_RETENTION": "1"})
    api = stack.api
    repo_id = f"ttl-{uuid.uuid4().hex[:8]}"
    assert api.post(f"{API}/repositories/", json={
        "id": repo_id, "importer_type_id": "harness_importer"}).status_code == 201
    blocker = sync(api, repo_id, sleep=30)
    waiting = sync(api, repo_id)
    assert api.delete(f"{API}/tasks/{waiting}/").status_code == 200
    assert api.delete(f"{API}/tasks/{blocker}/").status_code == 200
    assert api.wait_task(blocker, timeout=20)["state"] == "canceled"
    finished = sync(api, repo_id)
    assert api.wait_task(finished)["state"] == "finished"
    deadline = time.monotonic() + 30
    gone = set()
    while gone != {blocker, waiting, finished}:
        assert time.monotonic() < deadline, f"still there: {({blocker, waiting, finished} - gone)}"
        time.sleep(0.2)
        gone = {t for t in (blocker, waiting, finished)
                if api.get(f"{API}/tasks/{t}/").status_code == 404}
