"""File (ISO) sync benchmark against a raw pooled download of the same files.

For each data set (default: 1000 x 1 KiB and 200 x 1 MiB) it generates an upstream with a
PULP_MANIFEST, serves it on 127.0.0.1, and prints side by side: a plain pooled client
downloading and hashing every file, a pulp2ng sync, a no-op re-sync, a publish and fetching
every published file back. Pulp 3's figures measured on this machine are printed for
reference (use ../shared/peers/pulp3 to re-measure them).

    python bench/sync_files.py [--sets 1000x1,200x1024] [--runs 3] [--pulp3 ../shared/peers/pulp3]

With ``--pulp3 DIR`` the same data-set sizes also run through Pulp 3, installed and started
by that folder's ``setup.sh`` (PostgreSQL on this machine; see its README), one after the
other so the two never compete for the CPU.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pulp2ng.embedded import EmbeddedDatabase  # noqa: E402
from tests.stack import Stack  # noqa: E402
from pulp3 import run_peer  # noqa: E402  (bench/ is sys.path[0])
from upstream import serve  # noqa: E402

API = "/pulp/api/v2"
PULP3 = {1000: 7.9, 200: 2.07}  # seconds to sync, measured on this machine
PULP3_SERVE_MS = 36.0


def make_upstream(path: Path, count: int, size_kb: int) -> list[str]:
    path.mkdir(parents=True)
    rows, names = [], []
    for i in range(count):
        data = os.urandom(size_kb * 1024)
        name = f"d{i % 20}/file-{i}.bin"
        (path / name).parent.mkdir(exist_ok=True)
        (path / name).write_bytes(data)
        rows.append(f"{name},{hashlib.sha256(data).hexdigest()},{len(data)}\n")
        names.append(name)
    (path / "PULP_MANIFEST").write_text("".join(rows))
    return names


def raw_download(base: str, names: list[str], workers: int = 10) -> float:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=workers)
    session.mount("http://", adapter)

    def fetch(name):
        sha = hashlib.sha256()
        with session.get(base + name, stream=True) as response:
            for chunk in response.iter_content(1 << 20):
                sha.update(chunk)
        return sha.hexdigest()

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(fetch, names))
    return time.perf_counter() - start


def durable_write(up: Path, names: list[str], dest: Path) -> float:
    """Copy the files into one directory and fsync the filesystem: the disk's floor for any
    sync that stores the same bytes durably (the raw download writes nothing)."""
    dest.mkdir()
    start = time.perf_counter()
    for i, name in enumerate(names):
        (dest / str(i)).write_bytes((up / name).read_bytes())
    os.sync()
    return time.perf_counter() - start


def timed_task(api, response) -> float:
    start = time.perf_counter()
    task_id = response.json()["spawned_tasks"][0]["task_id"]
    report = api.wait_task(task_id, timeout=600)
    assert report["state"] == "finished", report
    return time.perf_counter() - start


def fetch_back(base: str, names: list[str]) -> float:
    session = requests.Session()
    start = time.perf_counter()
    for name in names:
        session.get(base + name).content
    return (time.perf_counter() - start) / len(names) * 1000


def measure_once(stack: Stack, tmp: Path, count: int, size_kb: int, run: int) -> dict:
    """One round on a fresh upstream: new random files, so no unit is stored already."""
    api = stack.api
    up = tmp / f"up-{count}x{size_kb}-{run}"
    names = make_upstream(up, count, size_kb)
    feed, server = serve(up, tmp)
    try:
        figures = {"raw": raw_download(feed, names)}
        repo = f"bench-{count}x{size_kb}-{run}"
        api.post(f"{API}/repositories/", json={
            "id": repo, "importer_type_id": "iso_importer", "importer_config": {"feed": feed},
            "distributors": [{"distributor_type_id": "iso_distributor", "distributor_id": "d"}]})
        sync = f"{API}/repositories/{repo}/actions/sync/"
        figures["sync"] = timed_task(api, api.post(sync, json={}))
        figures["noop"] = timed_task(api, api.post(sync, json={}))
        figures["publish"] = timed_task(api, api.post(
            f"{API}/repositories/{repo}/actions/publish/", json={"id": "d"}))
        figures["served"] = fetch_back(f"{api.base}/pulp/isos/{repo}/", names)
        # Last, so its writeback does not slow the rest.
        figures["disk"] = durable_write(up, names, tmp / f"disk-{count}x{size_kb}-{run}")
    finally:
        server.terminate()
    return figures


def run_set(stack: Stack, tmp: Path, count: int, size_kb: int, runs: int) -> None:
    rounds = [measure_once(stack, tmp, count, size_kb, run) for run in range(runs)]
    med = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    raw, first = med["raw"], med["sync"]
    pulp3 = PULP3.get(count)
    print(f"\n== {count} files x {size_kb} KiB (median of {runs} rounds)")
    print(f"  raw pooled download + sha256   {raw:7.2f} s")
    print(f"  write the same bytes + sync(2) {med['disk']:7.2f} s   (the disk's floor for storing them)")
    print(f"  pulp2ng sync                   {first:7.2f} s   ({first / raw:.1f}x raw"
          + (f", Pulp 3 {pulp3:.2f} s: {pulp3 / first:.1f}x faster)" if pulp3 else ")")
          + "   rounds: " + ", ".join(f"{r['sync']:.2f}" for r in rounds))
    print(f"  pulp2ng no-op re-sync          {med['noop']:7.2f} s")
    print(f"  pulp2ng publish                {med['publish']:7.2f} s")
    print(f"  fetch each file back           {med['served']:7.2f} ms/file   (Pulp 3 ~{PULP3_SERVE_MS:.0f})")


def run_pulp3(peer: Path, count: int, size_kb: int) -> None:
    """Pulp 3's own benchmark (the peer's bench.py) for the same data-set size."""
    f = run_peer(peer, "--files", str(count), "--file-size", str(size_kb * 1024),
                 "--skip-python")["file"]
    print(f"  Pulp 3 sync                    {f['sync']['wall_s']:7.2f} s")
    print(f"  Pulp 3 no-op re-sync           {f['resync_noop']['wall_s']:7.2f} s")
    print(f"  Pulp 3 publish                 {f['publish']['wall_s']:7.2f} s")
    fetch = f["content_fetch"]
    print(f"  Pulp 3 fetch each file back    {fetch['total_s'] / fetch['files'] * 1000:7.2f} ms/file")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="1000x1,200x1024",
                        help="comma-separated COUNTxKIB data sets")
    parser.add_argument("--pulp3", type=Path, help="peers/pulp3 folder: also run Pulp 3")
    parser.add_argument("--runs", type=int, default=3,
                        help="rounds per data set, each on fresh files; medians are printed")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pulp2ng-bench-files-"))
    db = EmbeddedDatabase(tmp / "db").start()
    stack = Stack(tmp / "stack", db.url, workers=1)
    try:
        sets = [tuple(int(x) for x in spec.split("x")) for spec in args.sets.split(",")]
        for count, size_kb in sets:
            run_set(stack, tmp, count, size_kb, args.runs)
    finally:
        stack.stop()
        db.stop()
    if args.pulp3:
        for count, size_kb in sets:
            print(f"\n== Pulp 3, {count} files x {size_kb} KiB")
            run_pulp3(args.pulp3, count, size_kb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
