"""The scheduler heals what a crash between two tasking steps leaves behind."""

import datetime as dt
import uuid

import pymongo

API = "/pulp/api/v2"


def db(stack):
    client = pymongo.MongoClient(stack.env["PULP2NG_DATABASE_URL"], tz_aware=True)
    return client[stack.env["PULP2NG_DATABASE_NAME"]]


def harness_repo(repo_factory):
    """A repository, its reservation key, and a time well past the heal's stale limit."""
    repo = repo_factory(importer_type_id="harness_importer")["id"]
    return repo, f"repository:{repo}", dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)


def waiting_sync(task_id, *, repo_id, resource, tags, seq, created, override_config):
    """A sync status document as dispatch writes it, whose message no worker received."""
    return {"_id": task_id, "task_id": task_id, "task_type": "pulp2ng.tasks.repository.sync",
            "state": "waiting", "tags": tags, "resource": resource, "seq": seq,
            "kwargs": {"repo_id": repo_id, "override_config": override_config},
            "worker_name": None, "created": created, "progress_report": {},
            "spawned_tasks": []}


def test_stale_reservation_and_lost_message_are_recovered(api, stack, repo_factory):
    repo, resource, old = harness_repo(repo_factory)
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
    store.task_status.insert_one(waiting_sync(
        lost, repo_id="no-such-repo", resource=None, tags=["pulp:test:lost"], seq=1,
        created=old, override_config={}))
    assert api.wait_task(queued, timeout=30)["state"] == "finished"
    report = api.wait_task(lost, timeout=30)
    assert report["state"] == "error" and report["error"]["code"] == "PLP0009"  # it ran
    assert store.reserved_resources.find_one({"_id": resource}) is None


def test_reserved_task_whose_message_was_lost_is_sent_again(api, stack, repo_factory):
    """The holder of a reservation is still waiting and no worker ever received it."""
    repo, resource, old = harness_repo(repo_factory)
    store = db(stack)
    holder = str(uuid.uuid4())
    # Created now, so only the stale reservation (not the stale-task sweep) can heal it.
    store.task_status.insert_one(waiting_sync(
        holder, repo_id=repo, resource=resource, tags=[f"pulp:repository:{repo}"], seq=0,
        created=dt.datetime.now(dt.timezone.utc), override_config={"num_units": 1}))
    store.reserved_resources.insert_one({"_id": resource, "task_id": holder, "since": old})
    queued = api.start_sync(repo, num_units=2)
    assert api.wait_task(holder, timeout=30)["state"] == "finished"
    assert api.wait_task(queued, timeout=30)["state"] == "finished"
    counts = api.get(f"{API}/repositories/{repo}/").json()["content_unit_counts"]
    assert counts == {"harness_unit": 2}
