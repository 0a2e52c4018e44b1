"""``pulp2ng run`` (what ``make run`` starts): the whole stack from one command, then a clean stop."""

import os
import re
import signal
import stat
import subprocess
import sys
import time

import pymongo
import pytest

from tests.stack import Api, free_port, port_open

API = "/pulp/api/v2"


def test_run_starts_database_api_workers_and_scheduler_then_stops(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULP2NG_")}
    env.update(PULP2NG_SERVER_PORT=str(port), PULP2NG_STORAGE_DIR=str(tmp_path / "storage"),
               PULP2NG_STORAGE_STATE_DIR=str(tmp_path / "state"))
    proc = subprocess.Popen([sys.executable, "-m", "pulp2ng.cli", "run"], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "run.log", "wb"))
    api = Api(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 90
        roles = []
        while sorted(roles) != ["scheduler", "worker", "worker"]:
            assert proc.poll() is None, (tmp_path / "run.log").read_text()
            assert time.monotonic() < deadline, f"stack not up: {roles}"
            time.sleep(0.3)
            try:
                status = api.get(f"{API}/status/").json()
            except Exception:  # not listening yet
                continue
            roles = [w["role"] for w in status["known_workers"]]
        assert status["database_connection"]["connected"]
        assert (tmp_path / "state" / "db").is_dir()         # the embedded database's data
        assert api.post(f"{API}/repositories/", json={
            "id": "cli", "importer_type_id": "harness_importer"}).status_code == 201
        report = api.wait_task(api.start_sync("cli", num_units=2))
        assert report["state"] == "finished" and report["result"]["added_count"] == 2
        assert_database_requires_auth(tmp_path / "state", (tmp_path / "run.log").read_text())
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    assert code == 0
    assert not port_open("127.0.0.1", port)


def assert_database_requires_auth(state, log: str) -> None:
    """The embedded server refuses clients without the user kept in db-credentials."""
    credentials = state / "db-credentials"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    user, password = credentials.read_text().strip().split(":", 1)
    assert password not in log
    port = re.search(r"embedded database at mongodb://\S*@127\.0\.0\.1:(\d+)/", log).group(1)
    anonymous = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true")
    with pytest.raises(pymongo.errors.OperationFailure):
        anonymous.pulp2ng.repos.find_one()
    known = pymongo.MongoClient(f"mongodb://{user}:{password}@127.0.0.1:{port}/"
                                "?directConnection=true&authSource=admin")
    assert known.pulp2ng.repos.find_one({"_id": "cli"})
