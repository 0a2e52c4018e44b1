"""Tasking benchmark: dispatch latency, queue latency, burst throughput, authenticated GETs
(as the admin, and as a user holding 1 000 grants, whose every GET is authorized).

Runs a real stack (API + 2 workers) on the embedded database, once with the embedded broker
(kombu's MongoDB transport) and once with RabbitMQ when 127.0.0.1:5672 answers, and prints
medians and p95s next to the Pulp 3 figures measured on this machine. Each broker runs on a
database that fsyncs before acknowledging a write (``pulp2ng run``'s default,
``embedded_sync_on_commit``) and, with ``--compare-sync``, also on one that does not, to show
what durability costs. With ``--hosts`` (root, ``ip``) the task figures are measured again with
the database, the broker, the API and each worker on a network-namespace host of its own
(``tests/multihost.py``), and printed beside the one-host figure.

    python bench/tasks.py [--rounds 60] [--compare-sync] [--hosts]
"""

from __future__ import annotations

import argparse
import shutil
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
    figures = measure_tasks(api, pymongo.MongoClient(db_url)[stack.name]["task_status"], rounds)
    reader = granted_user(api, "reader", 1000, "/v2/repositories/lat/")
    certified = certificate_session(stack, api, root)
    gets, reader_gets, cert_gets = timed_gets([api, reader, certified],
                                              f"{API}/repositories/lat/")
    return figures | {
        "auth_get_ms": (statistics.median(gets), p95(gets)),
        "granted_get_ms": (statistics.median(reader_gets), p95(reader_gets)),
        "cert_get_ms": (statistics.median(cert_gets), p95(cert_gets)),
    }


def measure_tasks(api, tasks, rounds: int) -> dict:
    """Dispatch and queue latency over ``rounds`` no-op tasks, then the burst's throughput;
    ``tasks``: the stack's task_status collection (for the queue latency)."""
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
    return {
        "dispatch_ms": (statistics.median(latencies), p95(latencies)),
        "queue_ms": (statistics.median(queued), p95(queued)),
        "burst_tasks_per_s": statistics.median(bursts),
    }


def timed_gets(clients: list, path: str, count: int = 200) -> list[list[float]]:
    """Milliseconds per GET for each client, their GETs interleaved so that each sees the
    same machine load; after one untimed GET each (the first verifies the credentials)."""
    for client in clients:
        assert client.get(path).status_code == 200
    times: list[list[float]] = [[] for _ in clients]
    for _ in range(count):
        for client, spent in zip(clients, times):
            start = time.perf_counter()
            client.get(path)
            spent.append((time.perf_counter() - start) * 1000)
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
    client.session.trust_env = False  # else REQUESTS_CA_BUNDLE would beat session.verify
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


def measure_hosts(root: Path, rounds: int, broker: str) -> dict:
    """The task figures with every part on a host of its own (``tests/multihost.py``:
    network namespaces on a bridge): database, broker (``"redis"``, or ``""`` for the
    embedded one through the database host), API, and each worker."""
    from tests.multihost import Cluster

    cluster = Cluster(root, workers=2, broker=broker, scheduler=False, test_plugins=True)
    try:
        tasks = pymongo.MongoClient(cluster.db_url)[cluster.name]["task_status"]
        return measure_tasks(cluster.api, tasks, rounds)
    finally:
        cluster.stop()


def report_hosts(one_host: dict | None, hosts: dict[str, dict]) -> None:
    """The namespace hosts' figures beside the one-host figure (embedded broker, fsync)."""
    print("\n== workers on separate hosts (network namespaces; database fsync per write)")
    rows = ([("one host, embedded broker", one_host)] if one_host else []) + list(hosts.items())
    for name, r in rows:
        print(f"  {name:<40} burst {r['burst_tasks_per_s']:6.1f} tasks/s   dispatch median "
              f"{r['dispatch_ms'][0]:6.1f} ms   queue median {r['queue_ms'][0]:6.1f} ms")


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
    parser.add_argument("--hosts", action="store_true",
                        help="also run with database, broker, API and each worker on hosts "
                             "of their own (network namespaces; needs root and `ip`)")
    args = parser.parse_args()
    if args.hosts:
        from tests.netns import NoNamespace, check_support

        try:
            check_support()
        except NoNamespace as exc:
            parser.error(f"--hosts needs network namespaces: {exc}")
    root = Path(tempfile.mkdtemp(prefix="pulp2ng-bench-"))
    brokers = [("embedded broker (MongoDB transport)", "")]
    if port_open("127.0.0.1", 5672):
        brokers.append(("RabbitMQ", "amqp://guest:guest@127.0.0.1:5672//"))
    else:
        print("RabbitMQ not reachable on 127.0.0.1:5672: skipping that broker")
    durability = [("fsync per write", True)] + ([("no fsync", False)] if args.compare_sync
                                                 else [])
    one_host = None
    for label, sync in durability:
        db = EmbeddedDatabase(root / f"db-{sync}", sync_on_commit=sync).start()
        try:
            for name, broker in brokers:
                stack = Stack(root / f"{name.split()[0]}-{sync}", db.url, workers=2,
                              broker_url=broker, https=True)
                try:
                    figures = measure(stack, db.url, args.rounds, stack.root)
                    report(f"{name}, database {label}", figures)
                    if sync and not broker:
                        one_host = figures
                finally:
                    stack.stop()
        finally:
            db.stop()
    if args.hosts:
        hosts = {"namespace hosts, embedded broker": measure_hosts(root / "hosts-embedded",
                                                                  args.rounds, "")}
        if shutil.which("redis-server"):
            hosts["namespace hosts, Redis on its own host"] = measure_hosts(
                root / "hosts-redis", args.rounds, "redis")
        else:
            print("redis-server not installed: skipping the Redis broker host")
        report_hosts(one_host, hosts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
