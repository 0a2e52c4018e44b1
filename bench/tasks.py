"""Tasking benchmark: dispatch latency, queue latency, burst throughput, authenticated GETs
(as the admin, and as a user holding 1 000 grants, whose every GET is authorized).

Runs a real stack (API + 2 workers) on the embedded database, once with the embedded broker
(kombu's MongoDB transport) and once with RabbitMQ when 127.0.0.1:5672 answers, and prints
medians and p95s next to the Pulp 3 figures measured on this machine. Each broker runs on a
database that fsyncs before acknowledging a write (``pulp2ng run``'s default,
``embedded_sync_on_commit``) and, with ``--compare-sync``, also on one that does not, to show
what durability costs.

    python bench/tasks.py [--rounds 60] [--compare-sync]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pymongo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulp2ng.embedded import EmbeddedDatabase  # noqa: E402
from tests.stack import Api, Stack, port_open  # noqa: E402

API = "/pulp/api/v2"
PULP3 = {"queue_ms": 81.0, "burst_tasks_per_s": 8.0, "auth_get_ms": 450.0}
BURSTS = 5  # a burst takes well under a second: report the median of a few


def p95(values):
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def noop(api, repo: str) -> str:
    """An update_distributor task with an empty change: the lightest reserved task."""
    response = api.put(f"{API}/repositories/{repo}/distributors/d/", json={})
    return response.json()["spawned_tasks"][0]["task_id"]


def setup_repos(api, names):
    for name in names:
        api.post(f"{API}/repositories/", json={
            "id": name, "importer_type_id": "harness_importer",
            "distributors": [{"distributor_type_id": "harness_distributor",
                              "distributor_id": "d"}]})


def measure(stack: Stack, db_url: str, rounds: int, root: Path) -> dict:
    api = stack.api
    tasks = pymongo.MongoClient(db_url)[stack.name]["task_status"]
    setup_repos(api, ["lat"] + [f"burst-{i}" for i in range(4)])
    for _ in range(5):  # warm up connections and code paths
        api.wait_task(noop(api, "lat"))

    latencies, queued = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        task_id = noop(api, "lat")
        api.wait_task(task_id)
        latencies.append((time.perf_counter() - start) * 1000)
        doc = tasks.find_one({"_id": task_id})
        queued.append((doc["start_time"] - doc["created"]).total_seconds() * 1000)

    bursts = []
    for _ in range(BURSTS):
        start = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(lambda i: noop(api, f"burst-{i % 4}"), range(40)))
        for task_id in ids:
            api.wait_task(task_id)
        bursts.append(40 / (time.perf_counter() - start))

    gets = timed_gets(api, f"{API}/repositories/lat/")
    reader = granted_user(api, "reader", 1000, "/v2/repositories/lat/")
    reader_gets = timed_gets(reader, f"{API}/repositories/lat/")
    cert_gets = timed_gets(certificate_session(stack, api, root), f"{API}/repositories/lat/")
    return {
        "dispatch_ms": (statistics.median(latencies), p95(latencies)),
        "queue_ms": (statistics.median(queued), p95(queued)),
        "burst_tasks_per_s": statistics.median(bursts),
        "auth_get_ms": (statistics.median(gets), p95(gets)),
        "granted_get_ms": (statistics.median(reader_gets), p95(reader_gets)),
        "cert_get_ms": (statistics.median(cert_gets), p95(cert_gets)),
    }


def timed_gets(api, path: str, count: int = 200) -> list[float]:
    """Milliseconds per GET, after one untimed GET (the first verifies the password)."""
    assert api.get(path).status_code == 200
    times = []
    for _ in range(count):
        start = time.perf_counter()
        api.get(path)
        times.append((time.perf_counter() - start) * 1000)
    return times


def certificate_session(stack: Stack, api, root: Path) -> Api:
    """An HTTPS client authenticating with the admin's login certificate (kept-alive
    connection, as a client would)."""
    body = api.post(f"{API}/actions/login/").json()
    cert, key = root / "login.crt", root / "login.key"
    cert.write_text(body["certificate"])
    key.write_text(body["key"])
    client = Api(stack.https_base, auth=None)
    client.session.cert = (str(cert), str(key))
    client.session.verify = str(stack.ca_cert)
    return client


def granted_user(api, login: str, grants: int, readable: str) -> Api:
    """A user who is no super-user, with READ on ``readable`` among ``grants`` grants."""
    api.post(f"{API}/users/", json={"login": login, "password": "pw"})
    for i in range(grants - 1):
        api.post(f"{API}/permissions/actions/grant_to_user/",
                 json={"login": login, "resource": f"/v2/repositories/other-{i}/",
                       "operations": ["READ", "EXECUTE"]})
    api.post(f"{API}/permissions/actions/grant_to_user/",
             json={"login": login, "resource": readable, "operations": ["READ"]})
    return Api(api.base, auth=(login, "pw"))


def report(name: str, r: dict) -> None:
    print(f"\n== {name}")
    print(f"  no-op dispatch (POST -> finished)  median {r['dispatch_ms'][0]:7.1f} ms"
          f"   p95 {r['dispatch_ms'][1]:7.1f} ms")
    print(f"  queue latency (created -> started) median {r['queue_ms'][0]:7.1f} ms"
          f"   p95 {r['queue_ms'][1]:7.1f} ms   (Pulp 3: {PULP3['queue_ms']:.0f} ms, "
          f"ratio {PULP3['queue_ms'] / r['queue_ms'][0]:.1f}x better)")
    print(f"  burst 40 tasks / 4 repos / 2 wkrs  {r['burst_tasks_per_s']:7.1f} tasks/s (median of {BURSTS})"
          f"   (Pulp 3: ~{PULP3['burst_tasks_per_s']:.0f}/s, "
          f"ratio {r['burst_tasks_per_s'] / PULP3['burst_tasks_per_s']:.1f}x)")
    print(f"  authenticated GET                  median {r['auth_get_ms'][0]:7.2f} ms"
          f"   p95 {r['auth_get_ms'][1]:7.2f} ms   (Pulp 3: ~{PULP3['auth_get_ms']:.0f} ms)")
    print(f"  GET as a user with 1000 grants     median {r['granted_get_ms'][0]:7.2f} ms"
          f"   p95 {r['granted_get_ms'][1]:7.2f} ms   (admin ratio "
          f"{r['granted_get_ms'][0] / r['auth_get_ms'][0]:.2f}x)")
    print(f"  HTTPS GET with a login certificate median {r['cert_get_ms'][0]:7.2f} ms"
          f"   p95 {r['cert_get_ms'][1]:7.2f} ms   (basic-auth ratio "
          f"{r['cert_get_ms'][0] / r['auth_get_ms'][0]:.2f}x)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--compare-sync", action="store_true",
                        help="also run on a database without --sync-on-commit")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="pulp2ng-bench-"))
    brokers = [("embedded broker (MongoDB transport)", "")]
    if port_open("127.0.0.1", 5672):
        brokers.append(("RabbitMQ", "amqp://guest:guest@127.0.0.1:5672//"))
    else:
        print("RabbitMQ not reachable on 127.0.0.1:5672: skipping that broker")
    durability = [("fsync per write", True)] + ([("no fsync", False)] if args.compare_sync
                                                 else [])
    for label, sync in durability:
        db = EmbeddedDatabase(root / f"db-{sync}", sync_on_commit=sync).start()
        try:
            for name, broker in brokers:
                stack = Stack(root / f"{name.split()[0]}-{sync}", db.url, workers=2,
                              broker_url=broker, https=True)
                try:
                    report(f"{name}, database {label}", measure(stack, db.url, args.rounds, stack.root))
                finally:
                    stack.stop()
        finally:
            db.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
