"""Benchmark: container sync from a docker-registry and pulls through pulp2ng's /v2 API.

Upstream: Debian ``docker-registry`` holding 20 tags made by ``make_oci_images.py`` (10
single-arch images and 10 four-platform manifest lists: 50 images, ~104 blobs). Timed:

* the first sync (task + auto-publish) vs a ``skopeo copy --all`` of every tag straight from
  the upstream into ``dir:`` trees (what a client-side mirror costs);
* a no-op re-sync vs the first sync;
* pulling every tag with one ``skopeo sync --all`` from pulp2ng vs from the upstream registry.

    .venv/bin/python bench/sync_container.py [--layer-kb 256]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pulp2ng.embedded import EmbeddedDatabase  # noqa: E402
from tests.stack import Stack, free_port  # noqa: E402

API = "/pulp/api/v2"
FX = ROOT / "tests" / "fixtures"
ARCHES = ("amd64", "arm64", "s390x", "arm")


def sh(*args, timeout=600) -> str:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode:
        raise SystemExit(f"{args} failed: {proc.stderr}")
    return proc.stdout


def make_upstream(work: Path, layer_kb: int) -> tuple[str, int, list[str]]:
    port = free_port()
    sh("bash", FX / "start_registry.sh", work / "reg", port)
    pid = int((work / "reg" / "registry.pid").read_text())
    specs = [f"s{i:02d}={ARCHES[i % 4]}" for i in range(10)]
    specs += [f"m{i:02d}={','.join(ARCHES)}" for i in range(10)]
    args = [a for spec in specs for a in ("--tag", spec)]
    sh(sys.executable, FX / "make_oci_images.py", work / "layout", *args, "--layer-kb", layer_kb,
       "--push", f"http://127.0.0.1:{port}/bench/images")
    return f"127.0.0.1:{port}", pid, [s.split("=")[0] for s in specs]


def pull_all(host: str, name: str, tags: list[str], out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = time.perf_counter()
    # One skopeo run for all tags: skopeo first tries HTTPS on a plain-HTTP registry, and
    # pulp2ng's server (waitress) lets that TLS handshake hang for 10 s instead of failing it.
    sh("skopeo", "sync", "--all", "--src", "docker", "--dest", "dir", "--src-tls-verify=false",
       f"{host}/{name}", out)
    return time.perf_counter() - started


def timed_sync(api, repo_id: str) -> tuple[float, list[dict]]:
    started = time.perf_counter()
    response = api.post(f"{API}/repositories/{repo_id}/actions/sync/", json={})
    reports = api.wait_all(response.json()["spawned_tasks"][0]["task_id"], timeout=600)
    elapsed = time.perf_counter() - started
    if any(r["state"] != "finished" for r in reports):
        raise SystemExit(f"sync failed: {reports}")
    return elapsed, reports


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layer-kb", type=int, default=256)
    opts = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-container-"))
    db = EmbeddedDatabase(work / "db", log_file=work / "db.log").start()
    stack = reg_pid = None
    try:
        upstream, reg_pid, tags = make_upstream(work, opts.layer_kb)
        stack = Stack(work / "stack", db.url, workers=2)
        api = stack.api
        response = api.post(f"{API}/repositories/", json={
            "id": "bench", "importer_type_id": "docker_importer",
            "importer_config": {"feed": f"http://{upstream}", "upstream_name": "bench/images",
                                "max_downloads": 8},
            "distributors": [{"distributor_type_id": "docker_distributor_web",
                              "distributor_id": "web", "auto_publish": True}]})
        assert response.status_code == 201, response.text

        mirror = pull_all(upstream, "bench/images", tags, work / "baseline-mirror")
        first, _ = timed_sync(api, "bench")
        noop, reports = timed_sync(api, "bench")
        counts = api.get(f"{API}/repositories/bench/").json()["content_unit_counts"]
        pulp_host = api.base.split("://", 1)[1]
        direct = pull_all(upstream, "bench/images", tags, work / "direct")
        through = pull_all(pulp_host, "bench", tags, work / "through")
        size = sum(f.stat().st_size for f in (work / "direct").rglob("*") if f.is_file())
        same = sorted(p.name for p in (work / "direct").rglob("manifest.json")) == sorted(
            p.name for p in (work / "through").rglob("manifest.json"))
        assert same, "pulp2ng served a different set of images"

        print(f"image set: {len(tags)} tags, {counts}, {size / 1e6:.1f} MB pulled per round")
        print(f"first sync + publish        {first:7.2f} s   vs skopeo mirror of all tags "
              f"{mirror:7.2f} s   ratio {first / mirror:5.2f}")
        print(f"no-op re-sync + publish     {noop:7.2f} s   vs first sync "
              f"{first:7.2f} s   ratio {noop / first:5.2f}  "
              f"(added {reports[0]['result']['added_count']})")
        print(f"pull every tag via pulp2ng  {through:7.2f} s   vs directly from upstream "
              f"{direct:7.2f} s   ratio {through / direct:5.2f}")
    finally:
        if stack:
            stack.stop()
        if reg_pid:
            subprocess.run(["kill", str(reg_pid)], check=False)
        db.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
