"""Importer secrets: masked on the way out, kept when the mask comes back, encrypted at rest
(configs, stored overrides, task arguments, schedules), migrated and rotated.

The raw documents are read with pymongo from the stack's database: no clear-text password
may appear anywhere in them, and a sync against a basic-auth upstream still authenticates.
"""

import os
import stat
import subprocess
import sys

import pymongo
import pytest
from cryptography.fernet import Fernet, InvalidToken

from tests.integration.test_iso import iso_repo, unique_upstream

API = "/pulp/api/v2"
PASSWORD = "hunter2-s3cret"


@pytest.fixture
def upstream(serve, tmp_path):
    unique_upstream(tmp_path / "up", count=2)
    feed, _ = serve(tmp_path / "up", "--basic-auth", f"bob:{PASSWORD}")
    return feed


def raw(database, stack):
    return pymongo.MongoClient(database)[stack.name]


def importer_url(repo_id):
    return f"{API}/repositories/{repo_id}/importers/iso_importer/"


def sync_state(api, repo_id, **override):
    report = api.wait_all(api.start_sync(repo_id, **override))[0]
    return report["state"], (report.get("error") or {}).get("description", "")


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_mask_sent_back_keeps_the_stored_secret(api, upstream):
    repo = iso_repo(api, upstream, basic_auth_username="bob", basic_auth_password=PASSWORD,
                    retries=0)
    config = api.get(importer_url(repo)).json()["config"]
    assert config["basic_auth_password"] == "*****"
    # The importer PUT, the repository PUT and a replacing POST, each with the GET's config.
    api.wait_report(api.put(importer_url(repo), json={"importer_config": config}))
    assert sync_state(api, repo)[0] == "finished"
    response = api.put(f"{API}/repositories/{repo}/", json={"importer_config": config})
    assert response.status_code == 200, response.text
    assert sync_state(api, repo)[0] == "finished"
    api.wait_report(api.post(f"{API}/repositories/{repo}/importers/", json={
        "importer_type_id": "iso_importer", "importer_config": config}))
    assert sync_state(api, repo)[0] == "finished"
    # A new value replaces the secret, null removes it.
    api.wait_report(api.put(importer_url(repo),
                            json={"importer_config": {"basic_auth_password": "wrong"}}))
    assert "401" in sync_state(api, repo)[1]
    api.wait_report(api.put(importer_url(repo),
                            json={"importer_config": {"basic_auth_password": PASSWORD}}))
    assert sync_state(api, repo)[0] == "finished"
    api.wait_report(api.put(importer_url(repo),
                            json={"importer_config": {"basic_auth_password": None}}))
    assert "basic_auth_password" not in api.get(importer_url(repo)).json()["config"]


def test_importer_secrets_are_encrypted_at_rest(api, stack, database, upstream):
    repo = iso_repo(api, upstream.replace("http://", f"http://bob:{PASSWORD}@"), retries=0)
    doc = raw(database, stack).repo_importers.find_one({"repo_id": repo})
    assert PASSWORD not in repr(doc)
    assert doc["config"]["basic_auth_password"].startswith("enc:v1:")
    assert sync_state(api, repo)[0] == "finished"
    key_file = stack.root / "state" / "secret.key"
    assert mode(key_file) == 0o600
    token = doc["config"]["basic_auth_password"][len("enc:v1:"):]
    assert PASSWORD in Fernet(key_file.read_text().split()[0]).decrypt(token.encode()).decode()


def test_directories_are_private(stack):
    assert mode(stack.root / "state") == 0o700
    assert mode(stack.storage) == 0o750
    for sub in ("content", "tmp", "published", "uploads", "working"):
        assert mode(stack.storage / sub) == 0o750


def test_overrides_never_keep_secrets_in_clear(api, stack, database, upstream):
    """CVE-2018-1090: the override is used for the call, stored only sealed."""
    repo = iso_repo(api, upstream, retries=0)
    override = {"basic_auth_username": "bob", "basic_auth_password": PASSWORD}
    task_id = api.start_sync(repo, **override)
    assert api.wait_task(task_id)["state"] == "finished"
    db = raw(database, stack)
    doc = db.repo_importers.find_one({"repo_id": repo})
    assert doc["last_override_config"]["basic_auth_password"].startswith("enc:v1:")
    task = db.task_status.find_one({"_id": task_id})
    assert PASSWORD not in repr(doc) and PASSWORD not in repr(task)
    assert PASSWORD not in api.get(f"{API}/tasks/{task_id}/").text
    response = api.post(f"{importer_url(repo)}schedules/sync/", json={
        "schedule": "2030-01-01T00:00:00Z/PT24H", "override_config": override})
    assert response.status_code == 201, response.text
    assert response.json()["kwargs"]["overrides"]["basic_auth_password"] == "*****"
    schedule = db.scheduled_calls.find_one({"repo_id": repo})
    assert PASSWORD not in repr(schedule)
    # A publish override is stamped with a digest, not the secret.
    api.wait_all(api.post(f"{API}/repositories/{repo}/actions/publish/", json={
        "id": "iso_distributor", "override_config": {"proxy_password": PASSWORD}}
    ).json()["spawned_tasks"][0]["task_id"])
    assert PASSWORD not in repr(db.repo_distributors.find_one({"repo_id": repo}))


def test_clear_secrets_are_migrated_and_rotate_key_reencrypts(make_stack, database, upstream):
    stack = make_stack(workers=1)
    api = stack.api
    repo = iso_repo(api, upstream, retries=0, basic_auth_username="bob",
                    basic_auth_password=PASSWORD)
    db = raw(database, stack)
    # What an older version left: the secret in clear, no migration done yet.
    db.repo_importers.update_one({"repo_id": repo},
                                 {"$set": {"config.basic_auth_password": PASSWORD}})
    db.counters.delete_one({"_id": "migration:secrets_sealed"})
    stack.kill("api")
    stack._start("api", ["api"])
    stack.wait_ready(1)
    sealed = db.repo_importers.find_one({"repo_id": repo})["config"]["basic_auth_password"]
    assert sealed.startswith("enc:v1:")
    assert sync_state(api, repo)[0] == "finished"

    listener = api.post(f"{API}/events/", json={
        "notifier_type_id": "http", "event_types": ["task.error"],
        "notifier_config": {"url": "http://127.0.0.1:9/", "username": "bob",
                            "password": PASSWORD}}).json()
    key_file = stack.root / "state" / "secret.key"
    old_key = key_file.read_text().split()[0]
    done = subprocess.run([sys.executable, "-m", "pulp2ng.cli", "rotate-key"], env=stack.env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (key_file.parent / "secret.key.old").read_text().split()[0] == old_key
    new_key = key_file.read_text().split()
    assert len(new_key) == 1 and new_key[0] != old_key and mode(key_file) == 0o600
    rotated = db.repo_importers.find_one({"repo_id": repo})["config"]["basic_auth_password"]
    token = rotated[len("enc:v1:"):].encode()
    with pytest.raises(InvalidToken):
        Fernet(old_key).decrypt(token)
    assert PASSWORD in Fernet(new_key[0]).decrypt(token).decode()
    # An event listener's notifier password is re-encrypted with the rest.
    rotated = db.event_listeners.find_one({"_id": listener["id"]})["notifier_config"]["password"]
    assert PASSWORD in Fernet(new_key[0]).decrypt(rotated[len("enc:v1:"):].encode()).decode()
    # Running processes follow the new key file.
    assert sync_state(api, repo)[0] == "finished"
