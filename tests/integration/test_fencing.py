"""Fencing of cut-off workers (issue 22, fault 3): once a task's worker is declared dead and
its repository handed on, the old task's writes are refused."""

import contextvars
import os
import signal
import time
import uuid

import pymongo
import pytest

from pulp2ng.config import load_settings
from pulp2ng.controllers.repositories import create_repository
from pulp2ng.controllers.sync import _record_sync
from pulp2ng.db import fencing
from pulp2ng.db.repositories import new_history_id
from pulp2ng.db.store import now
from pulp2ng.errors import Fenced
from pulp2ng.plugin.conduits import PublishConduit, SyncConduit
from pulp2ng.platform import Platform
from pulp2ng.tasking import lifeline
from pulp2ng.tasking.dispatch import insert_waiting_task
from pulp2ng.tasking.runner import TaskContext
from pulp2ng.tasking.workers import fail_worker_tasks

API = "/pulp/api/v2"
SYNC = "pulp2ng.tasks.repository.sync"


@pytest.fixture
def platform(database, tmp_path, monkeypatch):
    monkeypatch.setenv("PULP2NG_TEST_PLUGINS", "1")
    name = f"fence-{uuid.uuid4().hex[:8]}"
    settings = load_settings(environ={}).with_overrides(
        database={"url": database, "name": name},
        storage={"dir": str(tmp_path / "storage"), "state_dir": str(tmp_path / "state")},
        broker={"url": "", "queue": name},  # messages are sent but no worker consumes them
        tasks={"worker_timeout": "30", "self_cancel_after": "0"})
    p = Platform.from_settings(settings, worker_name=f"wA@{name}")
    p.prepare_database()
    yield p
    p.store.client.drop_database(name)
    p.store.client.close()


def running_task(platform, repo_id, resource, worker):
    """A sync task as a worker runs it: reserved (with its lease), then started."""
    task_id = insert_waiting_task(platform, SYNC, [f"pulp:repository:{repo_id}"],
                                  resource=resource,
                                  kwargs={"repo_id": repo_id, "override_config": {}})
    platform.store.reserve(resource, task_id, now())
    assert platform.store.start_task(task_id, {"worker_name": worker, "start_time": now()})
    return task_id


def as_reaper(fn, *args):
    """Run ``fn`` as the reaper does: another thread, so without the task's lease."""
    return contextvars.Context().run(fn, *args)


def names(platform, repo_id):
    ids = platform.store.repo_association_ids(repo_id)
    return sorted(u["name"] for u in platform.store.find_units_by_ids("harness_unit", ids))


def test_reaped_task_cannot_write_and_the_next_holder_can(platform):
    store = platform.store
    repo_id = f"fenced-{uuid.uuid4().hex[:8]}"
    create_repository(platform, {"id": repo_id, "importer_type_id": "harness_importer"})
    resource = f"repository:{repo_id}"
    worker = platform.worker_name
    old = running_task(platform, repo_id, resource, worker)
    new = insert_waiting_task(platform, SYNC, [], resource=resource,
                              kwargs={"repo_id": repo_id, "override_config": {}})

    # Task A holds the repository: its writes land.
    token = fencing.activate(fencing.take_lease(store, resource, old))
    try:
        ctx = TaskContext(platform, store.find_task(old))
        conduit = SyncConduit(platform, ctx, repo_id, "harness_importer")
        conduit.save_units("harness_unit", [{"name": "a-0"}])
        assert names(platform, repo_id) == ["a-0"]
        before = store.repo_association_ids(repo_id)

        # A's worker is declared dead: the reaper fails A and hands the repository to B.
        as_reaper(fail_worker_tasks, platform, worker, "missed heartbeats for 30 s")
        assert store.find_task(old)["state"] == "error"
        assert store.reservations.find_one({"_id": resource})["task_id"] == new
        history = list(store.sync_results.find({"repo_id": repo_id}))
        assert [(h["result"], h["added_count"]) for h in history] == [("error", None)]

        # A comes back: every write it tries is refused and nothing of it lands.
        with pytest.raises(Fenced):
            conduit.save_units("harness_unit", [{"name": "a-1"}, {"name": "a-2"}])
        with pytest.raises(Fenced):
            conduit.unassociate_units("harness_unit", list(before))
        with pytest.raises(Fenced):
            conduit.update_repo_scratchpad({"late": True})
        entry = {"_id": new_history_id(), "repo_id": repo_id, "started": now(),
                 "result": "success", "summary": {}, "details": {}}
        with pytest.raises(Fenced):  # the whole end-of-sync record: counts, importer, history
            _record_sync(platform, ctx, conduit, store.find_importer(repo_id), {}, entry,
                         None, {})
        with pytest.raises(Fenced):
            with PublishConduit(platform, ctx, repo_id, "d").publish_dir("harness", repo_id):
                pass
        assert not (platform.storage.published_root("harness") / repo_id).exists()
        assert store.find_unit("harness_unit", conduit.unit_id("harness_unit",
                                                               {"name": "a-1"})) is None
    finally:
        fencing.deactivate(token)
    assert names(platform, repo_id) == ["a-0"]
    assert [h["result"] for h in store.sync_results.find({"repo_id": repo_id})] == ["error"]
    assert "late" not in store.get_repo_scratchpad(repo_id)
    assert store.find_task(old)["state"] == "error"

    # B, the reservation's holder now, writes as usual.
    assert store.start_task(new, {"worker_name": "wB", "start_time": now()})
    token = fencing.activate(fencing.take_lease(store, resource, new))
    try:
        ctx = TaskContext(platform, store.find_task(new))
        conduit = SyncConduit(platform, ctx, repo_id, "harness_importer")
        conduit.save_units("harness_unit", [{"name": "b-0"}, {"name": "b-1"}])
        entry = {"_id": new_history_id(), "repo_id": repo_id, "started": now(),
                 "result": "success", "summary": {}, "details": {}}
        _record_sync(platform, ctx, conduit, store.find_importer(repo_id), before, entry,
                     None, {})
    finally:
        fencing.deactivate(token)
    assert names(platform, repo_id) == ["a-0", "b-0", "b-1"]
    results = sorted((h["result"], h["added_count"])
                     for h in store.sync_results.find({"repo_id": repo_id}))
    assert results == [("error", None), ("success", 2)]
    assert store.get_repository(repo_id)["content_unit_counts"] == {"harness_unit": 3}


def test_writes_outside_a_task_are_not_fenced(platform):
    """The API and the reaper hold no lease: their writes never consult a reservation."""
    repo_id = f"free-{uuid.uuid4().hex[:8]}"
    create_repository(platform, {"id": repo_id, "importer_type_id": "harness_importer"})
    assert fencing.current() is None
    platform.store.update_repo_scratchpad(repo_id, {"k": 1})
    assert platform.store.get_repo_scratchpad(repo_id) == {"k": 1}


def test_task_cancels_itself_after_a_heartbeat_lapse_once_reaped(platform):
    """``self_cancel_after`` without a heartbeat reaching the database makes the worker's
    running tasks look at their reservation: handed on (the worker was declared dead) → the
    task cancels itself, also when the beats resumed before it looked; still its own (the
    database was away for everyone) → it runs on."""
    store = platform.store
    repo_id = f"lapse-{uuid.uuid4().hex[:8]}"
    create_repository(platform, {"id": repo_id, "importer_type_id": "harness_importer"})
    worker = platform.worker_name
    resource = f"repository:{repo_id}"
    task_id = running_task(platform, repo_id, resource, worker)
    token = fencing.activate(fencing.take_lease(store, resource, task_id))
    try:
        start = time.monotonic()
        lifeline.beat(worker, 15, start - 1)
        ctx = TaskContext(platform, store.find_task(task_id))
        lifeline.beat(worker, 15, start)
        assert not ctx.canceled                  # beats 1 s apart: alive
        lifeline.beat(worker, 15, start + 16)    # the previous beat was 16 s before
        assert not ctx.canceled                  # its reservation is intact: ridden out
        lifeline.beat(worker, 15, start + 33)    # another lapse, and meanwhile reaped
        as_reaper(store.revoke_lease, resource, task_id)
        assert ctx.canceled
    finally:
        fencing.deactivate(token)


# -- a real worker paused past worker_timeout ---------------------------------------------


def db(stack):
    client = pymongo.MongoClient(stack.env["PULP2NG_DATABASE_URL"], tz_aware=True)
    return client[stack.env["PULP2NG_DATABASE_NAME"]]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return value


def test_paused_worker_writes_nothing_after_its_task_was_failed(make_stack):
    stack = make_stack(workers=2, worker_timeout=3, scheduler=True)
    api = stack.api
    repo_id = f"paused-{uuid.uuid4().hex[:8]}"
    response = api.post(f"{API}/repositories/", json={
        "id": repo_id, "importer_type_id": "harness_importer"})
    assert response.status_code == 201, response.text
    old = api.start_sync(repo_id, sleep=4, num_units=5, prefix="old")
    new = api.start_sync(repo_id, num_units=2, prefix="new")
    report = wait_for(lambda: (r := api.task(old))["state"] == "running" and r, 30,
                      "the first sync never started")
    victim = next(k for k in stack.processes if k.startswith(report["worker_name"]))
    proc = stack.processes[victim]
    os.killpg(proc.pid, signal.SIGSTOP)
    try:
        failed = api.wait_task(old, timeout=30)
        assert failed["state"] == "error" and failed["error"]["code"] == "PLP0049"
        done = api.wait_task(new, timeout=30)
        assert done["state"] == "finished" and done["worker_name"] != report["worker_name"]
    finally:
        os.killpg(proc.pid, signal.SIGCONT)
    # The old task wakes past its sleep, with its writes still to make: all are refused.
    log = stack.logs / f"{victim.split('@')[0]}.log"

    def history():
        return api.get(f"{API}/repositories/{repo_id}/history/sync/?sort=ascending").json()

    # Ended either way: refused (as it must), or with a late history entry (the fault).
    wait_for(lambda: b"ended without writing" in log.read_bytes() or len(history()) > 2, 30,
             f"the resumed task did not end: {stack.log_tail(victim)}")
    assert [(h["result"], h["added_count"]) for h in history()] == [
        ("error", None), ("success", 2)]
    units = api.post(f"{API}/repositories/{repo_id}/search/units/",
                     json={"criteria": {}}).json()
    assert sorted(u["metadata"]["name"] for u in units) == ["new-0", "new-1"]
    # Refused at its first write, or at its start when the pause came before it took its
    # lease (both seen under load): either way it ended by the fence, writing nothing.
    assert b"ended without writing" in log.read_bytes()
    assert api.get(f"{API}/repositories/{repo_id}/").json()["content_unit_counts"] == {
        "harness_unit": 2}
    assert api.task(old)["state"] == "error"  # not overwritten by the late run
    assert db(stack).reserved_resources.find_one({"_id": f"repository:{repo_id}"}) is None
    # Both workers take work again.
    assert api.wait_task(api.start_sync(repo_id, num_units=3, prefix="new"))["state"] == \
        "finished"
