"""Content management at scale: unit search, copy and orphan deletion of N units.

Starts its own embedded database and stack, loads N ``iso`` units (documents, associations and
small files) straight through the store helpers, then drives the HTTP API and prints:
search latency, copy time, removal time, orphan deletion time and peak worker memory.

    .venv/bin/python bench/content.py [--units 100000]

Target (issue 4): copy and orphan deletion of 100 000 units each under 10 s on the embedded
database, with worker memory flat in N.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulp2ng.config import load_settings  # noqa: E402
from pulp2ng.db.store import (  # noqa: E402
    association_id,
    connect,
    insert_ignoring_duplicates,
    now,
    unit_id,
)
from pulp2ng.embedded import EmbeddedDatabase  # noqa: E402
from tests.stack import Stack  # noqa: E402

API = "/pulp/api/v2"
TARGET = 10.0


def descendants(pid: int) -> list[int]:
    found = [pid]
    try:
        for tid in Path(f"/proc/{pid}/task").iterdir():
            for child in (tid / "children").read_text().split():
                found += descendants(int(child))
    except OSError:
        pass
    return found


def worker_pids(stack: Stack) -> list[int]:
    return [pid for key, proc in stack.processes.items() if key.startswith("w")
            for pid in descendants(proc.pid)]


def reset_peaks(stack: Stack) -> None:
    """Start each phase's peak afresh (``5`` to clear_refs resets VmHWM, Linux 4.0+)."""
    for pid in worker_pids(stack):
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            pass


def peak_rss_mib(stack: Stack) -> float:
    """Largest VmHWM among the worker processes (and their children), in MiB."""
    peak = 0
    for pid in worker_pids(stack):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
    return peak / 1024


def load_units(store, storage: Path, repo_id: str, n: int) -> None:
    """N units with their files and associations, in bulk (no per-unit round trips)."""
    stamp = now()
    for start in range(0, n, 5000):
        units, assocs = [], []
        for i in range(start, min(start + 5000, n)):
            data = f"bench unit {i}\n".encode()
            sha = hashlib.sha256(data).hexdigest()
            rel = f"content/iso/{sha[:2]}/{sha[2:]}"
            path = storage / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            key = {"name": f"unit-{i:06d}.iso", "checksum": sha, "size": len(data)}
            uid = unit_id("iso", key)
            units.append({**key, "_id": uid, "_content_type_id": "iso",
                          "pulp_user_metadata": {}, "_last_updated": stamp,
                          "_storage_path": rel})
            assocs.append({"_id": association_id(repo_id, "iso", uid), "repo_id": repo_id,
                           "unit_id": uid, "unit_type_id": "iso", "created": stamp,
                           "updated": stamp})
        insert_ignoring_duplicates(store.units("iso"), units)
        insert_ignoring_duplicates(store.associations, assocs)
    store.rebuild_unit_counts(repo_id)


def timed_task(api, response) -> tuple[float, dict]:
    t0 = time.monotonic()
    [report] = api.wait_report(response, timeout=3600)
    elapsed = time.monotonic() - t0
    if report["state"] != "finished":
        raise SystemExit(f"task failed: {report['error']}")
    return elapsed, report


def latency(api, method, path, body=None, rounds=5) -> float:
    samples = []
    for _ in range(rounds):
        t0 = time.monotonic()
        response = api.request(method, path, json=body)
        samples.append(time.monotonic() - t0)
        response.raise_for_status()
    return statistics.median(samples) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=100_000)
    args = parser.parse_args()
    n = args.units
    root = Path(tempfile.mkdtemp(prefix="bench-content-"))
    db = EmbeddedDatabase(root / "db", log_file=root / "db.log").start()
    stack = Stack(root / "stack", db.url, workers=2)
    api = stack.api
    try:
        settings = load_settings().with_overrides(database={"url": db.url, "name": stack.name})
        store = connect(settings)
        for repo_id in ("src", "dest"):
            response = api.post(f"{API}/repositories/", json={
                "id": repo_id, "importer_type_id": "iso_importer", "importer_config": {}})
            response.raise_for_status()
        t0 = time.monotonic()
        load_units(store, stack.storage, "src", n)
        print(f"units: {n}  (bulk load {time.monotonic() - t0:.1f} s)")
        print(f"peak worker RSS before: {peak_rss_mib(stack):.0f} MiB")

        search = f"{API}/repositories/src/search/units/"
        print(f"search page of 100 (association page):  "
              f"{latency(api, 'POST', search, {'criteria': {'limit': 100}}):.0f} ms")
        unit_filter = {"criteria": {"type_ids": ["iso"], "filters": {"unit": {
            "name": {"$in": ["unit-000007.iso", "unit-000042.iso"]}}}}}
        print(f"search by unit filter (2 hits):         "
              f"{latency(api, 'POST', search, unit_filter, rounds=3):.0f} ms")
        by_type = {"criteria": {"filters": {"name": "unit-000042.iso"}}, "include_repos": True}
        print(f"content/units/iso/search/ (1 hit):      "
              f"{latency(api, 'POST', f'{API}/content/units/iso/search/', by_type, 3):.0f} ms")

        reset_peaks(stack)
        elapsed, report = timed_task(api, api.post(
            f"{API}/repositories/dest/actions/associate/", json={"source_repo_id": "src"}))
        copied = report["result"].get("units_successful_count",
                                      len(report["result"]["units_successful"]))
        print(f"copy {copied} units:                    {elapsed:.1f} s "
              f"({'meets' if elapsed < TARGET else 'MISSES'} the {TARGET:.0f} s target); "
              f"peak worker RSS {peak_rss_mib(stack):.0f} MiB")

        reset_peaks(stack)
        elapsed, report = timed_task(api, api.post(
            f"{API}/repositories/dest/actions/unassociate/", json={"criteria": {}}))
        print(f"remove {report['result']['removed_count']} units (unassociate):    "
              f"{elapsed:.1f} s; peak worker RSS {peak_rss_mib(stack):.0f} MiB")

        store.associations.drop()  # setup, not measured: every unit becomes an orphan
        store.ensure_indexes()
        reset_peaks(stack)
        elapsed, report = timed_task(api, api.delete(f"{API}/content/orphans/iso/"))
        left = sum(1 for _ in (stack.storage / "content" / "iso").rglob("*") if _.is_file()) \
            if (stack.storage / "content" / "iso").exists() else 0
        print(f"orphan deletion of {report['result']['iso']} units:     {elapsed:.1f} s "
              f"({'meets' if elapsed < TARGET else 'MISSES'} the {TARGET:.0f} s target); "
              f"files left {left}; peak worker RSS {peak_rss_mib(stack):.0f} MiB")
    finally:
        stack.stop()
        db.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
