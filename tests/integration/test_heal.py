"""The scheduler heals what a crash between two tasking steps leaves behind."""

import datetime as dt
import uuid

import pymongo

API = "/pulp/api/v2"


def db(stack):
    client = pymongo.MongoClient(stack.env["PULP2NG_DATABASE_URL"], tz_aware=True)
    return client[stack.env["PULP2NG_DATABASE_NAME"]]


def test_stale_reservation_and_lost_message_are_recovered(api, stack, repo_factory):
    repo = repo_factory(importer_type_id="harness_importer")["id"]
    resource = f"repository:{repo}"
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    store = db(stack)
    # A worker died after finishing a task but before releasing its reservation ...
    dead = str(uuid.uuid4())
    store.task_status.insert_one({"_id": dead, "task_id": dead, "state": "finished",
                                  "tags": [], "resource": resource, "seq": 0})
    store.reserved_resources.insert_one({"_id": resource, "task_id": dead, "since": old})
    # ... so a sync queued behind it would wait forever without healing.
    response = api.post(f"{API}/repositories/{repo}/actions/sync/",
                        json={"override_config": {"num_units": 2}})
    queued = response.json()["spawned_tasks"][0]["task_id"]
    store.task_status.update_one({"_id": queued}, {"$set": {"created": old}})
    # And an unreserved task whose message never reached the broker.
    lost = str(uuid.uuid4())
    store.task_status.insert_one({
        "_id": lost, "task_id": lost, "task_type": "pulp2ng.tasks.repository.sync",
        "state": "waiting", "tags": ["pulp:test:lost"], "resource": None, "seq": 1,
        "kwargs": {"repo_id": "no-such-repo", "override_config": {}}, "worker_name": None,
        "created": old, "progress_report": {}, "spawned_tasks": []})
    assert api.wait_task(queued, timeout=30)["state"] == "finished"
    report = api.wait_task(lost, timeout=30)
    assert report["state"] == "error" and report["error"]["code"] == "PLP0009"  # it ran
    assert store.reserved_resources.find_one({"_id": resource}) is None


def test_reserved_task_whose_message_was_lost_is_sent_again(api, stack, repo_factory):
    """The holder of a reservation is still waiting and no worker ever received it."""
    repo = repo_factory(importer_type_id="harness_importer")["id"]
    resource = f"repository:{repo}"
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    store = db(stack)
    holder = str(uuid.uuid4())
    store.task_status.insert_one({
        "_id": holder, "task_id": holder, "task_type": "pulp2ng.tasks.repository.sync",
        "state": "waiting", "tags": [f"pulp:repository:{repo}"], "resource": resource,
        "seq": 0, "kwargs": {"repo_id": repo, "override_config": {"num_units": 1}},
        # Created now, so only the stale reservation (not the stale-task sweep) can heal it.
        "worker_name": None, "created": dt.datetime.now(dt.timezone.utc),
        "progress_report": {}, "spawned_tasks": []})
    store.reserved_resources.insert_one({"_id": resource, "task_id": holder, "since": old})
    queued = api.start_sync(repo, num_units=2)
    assert api.wait_task(holder, timeout=30)["state"] == "finished"
    assert api.wait_task(queued, timeout=30)["state"] == "finished"
    counts = api.get(f"{API}/repositories/{repo}/").json()["content_unit_counts"]
    assert counts == {"harness_unit": 2}
