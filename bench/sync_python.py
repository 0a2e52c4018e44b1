"""Benchmark: Python sync from a static PEP 503/691 index, publish, and pip through pulp2ng.

Upstream: ``make_py_packages.py`` wheels (20 projects x 5 versions = 100 wheels) in a
``make_simple_index.py`` tree served by ``serve_static.py``. Timed:

* first sync of the 100 wheels (the sync task alone, and sync + auto-publish seen by a client);
* a no-op re-sync (nothing to download);
* a forced publish;
* ``pip download`` of all 20 projects' latest wheels through pulp2ng vs straight from the
  upstream;
* with ``--mirror-projects N`` (default 2000): a mirror sync of a whole N-project index
  (no includes, ``remove_missing``) and its no-op re-sync.

Pulp 3 reference (issue 5, ``../shared/peers/pulp3/``): 2.0 s for 100 wheels, 1.7 s no-op
re-sync, printed as quoted; ``--pulp3 DIR`` also measures Pulp 3 now, on the same set sizes,
after pulp2ng's run.

    .venv/bin/python bench/sync_python.py [--mirror-projects 2000] [--pulp3 ../shared/peers/pulp3]
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pulp2ng.embedded import EmbeddedDatabase  # noqa: E402
from tests.stack import Stack  # noqa: E402
from pulp3 import run_peer  # noqa: E402  (bench/ is sys.path[0])
from upstream import serve  # noqa: E402

API = "/pulp/api/v2"
FX = ROOT / "tests" / "fixtures"
PULP3 = {"sync 100 wheels": 2.0, "no-op re-sync": 1.7}
PIP_ENV = {k: v for k, v in os.environ.items() if k != "PIP_FIND_LINKS"} | {
    "PIP_CONFIG_FILE": "/dev/null", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def sh(*args, env=None) -> str:
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True,
                          env=env).stdout


def make_index(work: Path, name: str, specs: list[str]) -> tuple[str, subprocess.Popen]:
    dist = work / f"{name}-dist"
    for start in range(0, len(specs), 500):  # keep argv short
        args = [a for s in specs[start:start + 500] for a in ("--spec", s)]
        sh(sys.executable, FX / "make_py_packages.py", dist, "--no-sdist", *args)
    (work / name).mkdir(parents=True)
    feed, proc = serve(work / name, work)
    sh(sys.executable, FX / "make_simple_index.py", dist, work / name, "--base-url", feed)
    return feed, proc


def cpu_seconds(stack) -> float:
    """User + system CPU the workers have used so far: what the plugin costs, much less
    sensitive to other load on the machine than wall time."""
    ticks = 0
    for key, proc in stack.processes.items():
        if key.startswith("w"):
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def run(api, path: str, body: dict) -> tuple[float, float, list[dict]]:
    """Seconds until the task itself ended (seen by a client polling every 20 ms), seconds
    until every spawned task (auto-publish) ended, and the reports."""
    started = time.perf_counter()
    response = api.post(path, json=body)
    task_id = response.json()["spawned_tasks"][0]["task_id"]
    api.wait_task(task_id, timeout=1800)
    own = time.perf_counter() - started
    reports = api.wait_all(task_id, timeout=1800)
    elapsed = time.perf_counter() - started
    if any(r["state"] != "finished" for r in reports):
        raise SystemExit(f"task failed: {reports}")
    return own, elapsed, reports


def steps(report: dict) -> str:
    """Per-stage seconds of the importer's progress report."""
    stages = report["progress_report"].get("python_importer") or []
    return "   [" + ", ".join(f"{s['step_type']} {s.get('seconds', 0):.3f}" for s in stages) + "]"


def create(api, repo_id: str, config: dict) -> None:
    response = api.post(f"{API}/repositories/", json={
        "id": repo_id, "importer_type_id": "python_importer", "importer_config": config,
        "distributors": [{"distributor_type_id": "python_distributor", "distributor_id": "web",
                          "auto_publish": True}]})
    assert response.status_code == 201, response.text


def pip_download(venv: Path, index: str, names: list[str], dest: Path) -> float:
    shutil.rmtree(dest, ignore_errors=True)
    started = time.perf_counter()
    sh(venv / "bin" / "python", "-m", "pip", "download", "--no-cache-dir", "--no-deps",
       "--only-binary", ":all:", "-d", dest, "--index-url", index, *names, env=PIP_ENV)
    return time.perf_counter() - started


def profiling(stack, out: str | None, label: str, previous=None):
    """Stop the previous py-spy recording, and start one of the worker as ``OUT-label.txt``."""
    if previous is not None:
        previous.send_signal(signal.SIGINT)
        previous.wait(30)
    if not out:
        return None
    worker = next(p for k, p in stack.processes.items() if k.startswith("w"))
    spy = subprocess.Popen([ROOT / ".venv" / "bin" / "py-spy", "record", "-p", str(worker.pid),
                            "-f", "raw", "-r", "200", "-o", f"{out}-{label}.txt"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy attaches
    return spy


def line(label: str, seconds: float, extra: str = "") -> None:
    ref = PULP3.get(label)
    vs = f"   Pulp 3 (quoted) {ref:5.2f} s   ratio {seconds / ref:5.2f}" if ref else ""
    print(f"{label:34s} {seconds:7.3f} s{vs}{extra}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mirror-projects", type=int, default=2000)
    ap.add_argument("--pulp3", type=Path, metavar="DIR",
                    help="peers/pulp3 folder: also run Pulp 3 on the same 100-wheel set")
    ap.add_argument("--profile", metavar="OUT", help="run one worker under py-spy (raw "
                    "format) during the first sync and the no-op re-sync; writes OUT-first.txt "
                    "and OUT-noop.txt")
    opts = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-python-"))
    db = EmbeddedDatabase(work / "db", log_file=work / "db.log").start()
    stack, procs = None, []
    try:
        projects = [f"bench-project-{i:02d}" for i in range(20)]
        specs = [f"{p}=={v}.0" for p in projects for v in range(1, 6)]
        feed, proc = make_index(work, "up100", specs)
        procs.append(proc)
        stack = Stack(work / "stack", db.url, workers=1 if opts.profile else 2)
        api = stack.api
        create(api, "bench", {"feed": feed, "max_downloads": 10})
        profiled = profiling(stack, opts.profile, "first")

        cpu = cpu_seconds(stack)
        own, first, reports = run(api, f"{API}/repositories/bench/actions/sync/", {})
        cpu = cpu_seconds(stack) - cpu
        profiled = profiling(stack, opts.profile, "noop", profiled)
        counts = api.get(f"{API}/repositories/bench/").json()["content_unit_counts"]
        print(f"index: {len(specs)} wheels in {len(projects)} projects; repo {counts}; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        line("sync 100 wheels", own, steps(reports[0]))
        line("  sync + auto-publish", first, f"   (worker CPU {cpu:.2f} s)")
        cpu = cpu_seconds(stack)
        own, noop, reports = run(api, f"{API}/repositories/bench/actions/sync/", {})
        cpu = cpu_seconds(stack) - cpu
        line("no-op re-sync", own, f"   (added {reports[0]['result']['added_count']}, "
             f"worker CPU {cpu:.2f} s)" + steps(reports[0]))
        profiling(stack, None, "", profiled)
        line("  no-op re-sync + publish (skipped)", noop)
        own, _, reports = run(api, f"{API}/repositories/bench/actions/publish/",
                              {"id": "web", "override_config": {"force_full": True}})
        line("publish (forced)", own)

        venv = work / "venv"
        sh(sys.executable, "-m", "venv", venv)
        web = f"{api.base}/pulp/python/web/bench/simple/"
        through = pip_download(venv, web, projects, work / "through")
        direct = pip_download(venv, feed + "simple/", projects, work / "direct")
        line(f"pip download {len(projects)} wheels via pulp2ng", through,
             f"   vs upstream {direct:6.2f} s   ratio {through / direct:5.2f}")

        if opts.mirror_projects:
            started = time.perf_counter()
            specs = [f"mirror-project-{i:04d}==1.0" for i in range(opts.mirror_projects)]
            feed, proc = make_index(work, "upmirror", specs)
            procs.append(proc)
            print(f"(built a {len(specs)}-project index in {time.perf_counter() - started:.1f} s)")
            create(api, "mirror", {"feed": feed, "remove_missing": True, "max_downloads": 10})
            own, total, reports = run(api, f"{API}/repositories/mirror/actions/sync/", {})
            line(f"mirror sync {len(specs)} projects", own,
                 f"   (+ publish {total:.2f} s)" + steps(reports[0]))
            own, total, reports = run(api, f"{API}/repositories/mirror/actions/sync/", {})
            line(f"mirror no-op re-sync {len(specs)}", own,
                 f"   (+ publish {total:.2f} s)" + steps(reports[0]))
    finally:
        if stack:
            stack.stop()
        for proc in procs:
            proc.terminate()
            proc.wait(5)
        db.stop()
        shutil.rmtree(work, ignore_errors=True)
    if opts.pulp3:
        run_pulp3(opts.pulp3)


def run_pulp3(peer: Path) -> None:
    """The peer's own benchmark on 20 projects x 5 versions (100 wheels), after ours."""
    y = run_peer(peer, "--projects", "20", "--versions", "5", "--files", "1",
                 "--fetch", "0")["python"]
    print(f"\n== Pulp 3, {y['synced_units']} wheels (measured now)")
    print(f"{'sync 100 wheels':34s} {y['sync']['wall_s']:7.3f} s")
    print(f"{'no-op re-sync':34s} {y['resync_noop']['wall_s']:7.3f} s")
    print(f"{'publish':34s} {y['publish']['wall_s']:7.3f} s")
    print(f"{'pip download 1 wheel':34s} {y['pip_download_s']:7.3f} s")


if __name__ == "__main__":
    main()
