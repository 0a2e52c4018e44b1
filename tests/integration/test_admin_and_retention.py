"""Against the real database: the default admin password never reaches a public bind; old history goes."""

import uuid

import pytest

from pulp2ng.config import load_settings
from pulp2ng.db.store import connect
from pulp2ng.server.app import create_app
from pulp2ng.access import AccessControl
from pulp2ng.controllers.users import ensure_admin
from pulp2ng.passwords import hash_password


def settings_for(database, tmp_path, **auth):
    return load_settings(environ={}).with_overrides(
        database={"url": database, "name": f"auth-{uuid.uuid4().hex[:8]}"},
        storage={"dir": str(tmp_path / "storage")},
        server={"host": "0.0.0.0"},
        auth={"admin_user": "admin", **auth})


def test_public_bind_refused_while_the_database_keeps_the_default_password(database, tmp_path):
    settings = settings_for(database, tmp_path, admin_password="s3cret")
    store = connect(settings)
    ensure_admin(store, "admin", "admin")     # an earlier start on loopback, with the default
    with pytest.raises(SystemExit, match="user 'admin' in the database"):
        create_app(settings)
    store.users.update_one({"_id": "admin"}, {"$set": {"password": hash_password("s3cret")}})
    assert create_app(settings) is not None   # changed password: the public bind is allowed


def test_first_start_with_the_default_password_refuses_a_public_bind(database, tmp_path):
    with pytest.raises(SystemExit, match="default admin password"):
        create_app(settings_for(database, tmp_path, admin_password="admin"))


def test_after_the_first_start_the_config_need_not_hold_the_password(database, tmp_path):
    settings = settings_for(database, tmp_path, admin_password="s3cret")
    assert create_app(settings) is not None
    # The file no longer names it: the default applies, but the database keeps s3cret.
    assert create_app(settings.with_overrides(auth={"admin_password": "admin"})) is not None
    access = AccessControl(connect(settings))
    access.refresh()
    assert access.verify_password("admin", "s3cret")
    assert not access.verify_password("admin", "admin")


def test_authenticator_accepts_only_the_stored_password(database, tmp_path):
    store = connect(settings_for(database, tmp_path))
    ensure_admin(store, "admin", "right")
    auth = AccessControl(store)
    auth.refresh()
    assert auth.verify_password("admin", "right") and auth.verify_password("admin", "right")
    assert not auth.verify_password("admin", "wrong")
    assert not auth.verify_password("nobody", "right")


def test_a_legacy_pbkdf2_hash_upgrades_to_argon2id_on_login(database, tmp_path):
    import hashlib

    store = connect(settings_for(database, tmp_path))
    salt = b"0123456789abcdef"
    legacy = "pbkdf2_sha256$200000${}${}".format(
        salt.hex(), hashlib.pbkdf2_hmac("sha256", b"old", salt, 200_000).hex())
    store.users.insert_one({"_id": "legacy", "login": "legacy", "roles": [], "password": legacy})
    auth = AccessControl(store)
    auth.refresh()
    assert not auth.verify_password("legacy", "wrong")
    assert store.users.find_one({"_id": "legacy"})["password"] == legacy
    assert auth.verify_password("legacy", "old")
    upgraded = store.users.find_one({"_id": "legacy"})["password"]
    assert upgraded.startswith("$argon2id$")
    fresh = AccessControl(store)
    fresh.refresh()
    assert fresh.verify_password("legacy", "old") and not fresh.verify_password("legacy", "x")


def test_history_older_than_the_retention_is_purged(database, tmp_path):
    import datetime as dt
    from types import SimpleNamespace

    from pulp2ng.scheduler import purge_history

    settings = settings_for(database, tmp_path).with_overrides(
        tasks={"history_retention_days": "1"})
    store = connect(settings)
    fresh, old = dt.datetime.now(dt.timezone.utc), dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)
    for collection in (store.sync_results, store.publish_results):
        collection.insert_many([{"_id": "old", "started": old}, {"_id": "new", "started": fresh}])
    purge_history(SimpleNamespace(settings=settings, store=store))
    for collection in (store.sync_results, store.publish_results):
        assert [d["_id"] for d in collection.find({}, {"_id": 1})] == ["new"]


def test_scratch_of_dead_tasks_is_swept_but_not_a_running_tasks(database, tmp_path):
    import datetime as dt
    import os
    import time
    from types import SimpleNamespace

    from pulp2ng.content.storage import ContentStorage
    from pulp2ng.scheduler import SCRATCH_MIN_AGE, sweep_scratch

    settings = settings_for(database, tmp_path)
    store, storage = connect(settings), ContentStorage(tmp_path / "storage")
    now = time.time()
    ages = {"tmp/dl-dead": 3 * SCRATCH_MIN_AGE, "working/dead-task": 3 * SCRATCH_MIN_AGE,
            "tmp/dl-running": 1.5 * SCRATCH_MIN_AGE, "tmp/dl-fresh": 60}
    for rel, age in ages.items():
        path = storage.root / rel
        path.mkdir() if rel.startswith("working") else path.write_bytes(b"partial")
        os.utime(path, (now - age, now - age))
    started = dt.datetime.fromtimestamp(now - 2 * SCRATCH_MIN_AGE, dt.timezone.utc)
    store.tasks.insert_one({"_id": "t", "state": "running", "start_time": started})

    sweep_scratch(SimpleNamespace(store=store, storage=storage))
    left = {f"{sub}/{name}" for sub in ("tmp", "working")
            for name in os.listdir(storage.root / sub)}
    assert left == {"tmp/dl-running", "tmp/dl-fresh"}   # newer than the running task's start

    store.tasks.update_one({"_id": "t"}, {"$set": {"state": "finished"}})
    sweep_scratch(SimpleNamespace(store=store, storage=storage))
    assert os.listdir(storage.root / "tmp") == ["dl-fresh"]
