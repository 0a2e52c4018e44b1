"""Benchmark: OSTree sync of a ~5 000-object archive repository vs ``ostree pull --mirror``.

Three rounds, each timed for pulp2ng (sync task + its auto-publish) and for the raw client
(``ostree pull --mirror --depth=-1`` into a local archive repo, the baseline):
a full first sync, a no-op re-sync, and an incremental sync after one new upstream commit.
Both fetch from the same threaded HTTP/1.1 keep-alive server (``bench/upstream.py``), so
neither pays a TCP connection per object that the other does not.

    .venv/bin/python bench/sync_ostree.py [--files 1700] [--commits 3] [--profile DIR]

``--profile DIR`` records the worker with py-spy during each pulp2ng round (raw stacks in
``DIR/<round>.txt``, for ``flamegraph.pl`` or a quick ``sort | head``).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pulp2ng.embedded import EmbeddedDatabase  # noqa: E402
from tests.stack import Stack  # noqa: E402
from upstream import serve  # noqa: E402  (bench/ is sys.path[0])

API = "/pulp/api/v2"


def sh(*args) -> str:
    return subprocess.run([str(a) for a in args], check=True, capture_output=True,
                          text=True).stdout


def write_tree(tree: Path, files: int, generation: int, changed: float) -> None:
    """``files`` small files in 50 directories; a ``changed`` share differs per generation."""
    for i in range(files):
        gen = generation if (i % 100) < changed * 100 else 0
        path = tree / f"d{i % 50:02d}" / f"f{i:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        seed = hashlib.sha256(f"{i}-{gen}".encode()).hexdigest()
        path.write_text(seed * (1 + i % 8))


def commit(repo: Path, tree: Path, n: int) -> None:
    sh("ostree", f"--repo={repo}", "commit", "--branch=bench/x86_64/os", f"--subject=v{n}",
       f"--add-metadata-string=version={n}.0", "--owner-uid=0", "--owner-gid=0", "--no-xattrs",
       tree)
    sh("ostree", f"--repo={repo}", "summary", "-u")


def make_upstream(repo: Path, files: int, commits: int) -> Path:
    sh("ostree", f"--repo={repo}", "init", "--mode=archive")
    tree = repo.parent / "tree"
    for n in range(1, commits + 1):
        write_tree(tree, files, n, 0.0 if n == 1 else 0.9)
        commit(repo, tree, n)
    return tree


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def pulp_sync(api, repo_id: str) -> list[float]:
    response = api.post(f"{API}/repositories/{repo_id}/actions/sync/", json={})
    reports = api.wait_all(response.json()["spawned_tasks"][0]["task_id"], timeout=1800)
    states = [r["state"] for r in reports]
    assert states == ["finished", "finished"], reports
    return [_seconds(r) for r in reports]


def _seconds(report: dict) -> float:
    from datetime import datetime

    start, end = (datetime.fromisoformat(report[k].replace("Z", "+00:00"))
                  for k in ("start_time", "finish_time"))
    return (end - start).total_seconds()


def profiled(pid: int, out: Path | None, fn) -> float:
    """Time ``fn`` while py-spy samples process ``pid`` into ``out`` (raw folded stacks)."""
    if out is None:
        return timed(fn)
    spy = subprocess.Popen([str(ROOT / ".venv/bin/py-spy"), "record", "-p", str(pid), "-f",
                            "raw", "-o", str(out), "--nonblocking"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)  # let py-spy attach
    try:
        return timed(fn)
    finally:
        spy.send_signal(2)
        spy.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1700)
    parser.add_argument("--commits", type=int, default=3)
    parser.add_argument("--profile", type=Path, help="directory for py-spy raw profiles")
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-ostree-"))
    db = stack = server = None
    try:
        upstream = work / "up" / "repo"
        upstream.parent.mkdir()
        tree = make_upstream(upstream, args.files, args.commits)
        objects = sum(1 for _ in (upstream / "objects").rglob("*.*"))
        base, server = serve(upstream.parent, work)
        feed = base + "repo/"
        db = EmbeddedDatabase(work / "db", log_file=work / "db.log").start()
        stack = Stack(work / "stack", db.url, workers=1)
        api = stack.api
        response = api.post(f"{API}/repositories/", json={
            "id": "bench", "importer_type_id": "ostree_web_importer",
            "importer_config": {"feed": feed, "depth": -1},
            "distributors": [{"distributor_type_id": "ostree_web_distributor",
                              "distributor_id": "web", "auto_publish": True,
                              "distributor_config": {"depth": -1}}]})
        assert response.status_code == 201, response.text
        client = work / "client"
        sh("ostree", f"--repo={client}", "init", "--mode=archive")
        sh("ostree", f"--repo={client}", "remote", "add", "--no-gpg-verify", "up", feed)

        def mirror():
            sh("ostree", f"--repo={client}", "pull", "--mirror", "--depth=-1", "up")

        rows = []
        for label in ("full sync", "no-op re-sync", "after one new commit"):
            if label == "after one new commit":
                write_tree(tree, args.files, 99, 0.01)
                commit(upstream, tree, args.commits + 1)
            base_t = timed(mirror)
            tasks = []
            out = args.profile / f"{label.replace(' ', '-')}.txt" if args.profile else None
            worker = next(p.pid for k, p in stack.processes.items() if k.startswith("w"))
            pulp_t = profiled(worker, out, lambda: tasks.extend(pulp_sync(api, "bench")))
            rows.append((label, pulp_t, base_t, tasks))
        print(f"upstream: {objects} objects, {args.commits} commits (+1), "
              f"{args.files} files per tree")
        print(f"{'round':24} {'pulp2ng (sync+publish)':>24} {'ostree pull --mirror':>22} "
              f"{'ratio':>7} {'sync task':>10} {'ratio':>7}")
        for label, pulp_t, base_t, (sync_t, publish_t) in rows:
            print(f"{label:24} {pulp_t:23.2f}s {base_t:21.2f}s {pulp_t / base_t:6.2f}x"
                  f" {sync_t:9.2f}s {sync_t / base_t:6.2f}x   (publish task {publish_t:.2f}s)")
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        if stack:
            stack.stop()
        if db:
            db.stop()
        if server:
            server.terminate()
            server.wait(5)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
