"""Applicability benchmark: regeneration over 1 000 consumers bound to 5 repositories.

Runs a real stack (API + 2 workers) on the embedded database. Five ``iso`` repositories are
synced from a local PULP_MANIFEST (``--files`` files each); ``--consumers`` consumers, bound to
every repository, get ``iso`` profiles inserted in bulk (the consumers API is not used). Then
a full regeneration (``consumers/actions/content/regenerate_applicability/`` with empty
criteria) is timed twice: with ``--profiles`` distinct profiles (10 by default), and with one
distinct profile per consumer, the baseline the ratio is measured against. Prints the total,
the per-consumer cost and the number of stored (profile, repository) results. No asserts on
time.

    python bench/consumers.py [--consumers 1000] [--profiles 10] [--files 50]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import pymongo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulp2ng.controllers.profiles import profile_hash  # noqa: E402
from pulp2ng.db.profiles import profile_doc_id  # noqa: E402
from pulp2ng.embedded import EmbeddedDatabase  # noqa: E402
from tests.stack import Stack  # noqa: E402

API = "/pulp/api/v2"
REPOS = 5


def serve(root: Path) -> str:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/"


def make_repos(api, root: Path, files: int) -> tuple[list[str], dict]:
    """Five iso repositories, each synced from its own manifest; returns ids and checksums."""
    repos, checksums = [], {}
    for r in range(REPOS):
        up = root / f"up{r}"
        up.mkdir(parents=True)
        rows = []
        for i in range(files):
            data = os.urandom(256)
            name = f"file-{i}.iso"
            sha = hashlib.sha256(data).hexdigest()
            (up / name).write_bytes(data)
            rows.append(f"{name},{sha},{len(data)}\n")
            checksums.setdefault(name, []).append(sha)
        (up / "PULP_MANIFEST").write_text("".join(rows))
        repo_id = f"bench-{r}"
        response = api.post(f"{API}/repositories/", json={
            "id": repo_id, "importer_type_id": "iso_importer",
            "importer_config": {"feed": serve(up)}})
        assert response.status_code == 201, response.text
        reports = api.sync(repo_id, timeout=300)
        assert reports[0]["state"] == "finished", reports[0]
        repos.append(repo_id)
    return repos, checksums


def load_profiles(db, consumer_ids: list[str], distinct: int, files: int) -> None:
    """``iso`` profiles: consumer i gets variant ``i % distinct`` (a different set of files
    with a current or an outdated checksum)."""
    db["consumer_unit_profiles"].delete_many({})
    db["repo_profile_applicability"].delete_many({})
    docs = []
    for i, consumer in enumerate(consumer_ids):
        variant = i % distinct
        profile = [{"name": f"file-{k}.iso",
                    "checksum": hashlib.sha256(f"{variant}-{k}".encode()).hexdigest(),
                    "size": 256} for k in range(variant % files, files, 7)]
        profile.append({"name": f"v-{variant}.iso", "checksum": "0" * 64, "size": 1})
        docs.append({"_id": profile_doc_id(consumer, "iso"), "oid": f"{i:024x}",
                     "consumer_id": consumer, "content_type": "iso", "profile": profile,
                     "profile_hash": profile_hash(profile)})
    db["consumer_unit_profiles"].insert_many(docs)


def regenerate(api) -> float:
    started = time.perf_counter()
    response = api.post(f"{API}/consumers/actions/content/regenerate_applicability/",
                        json={"consumer_criteria": {}})
    assert response.status_code == 202, response.text
    (report,) = api.wait_report(response, timeout=1800)
    assert report["state"] == "finished", report
    return time.perf_counter() - started


def query(api) -> float:
    started = time.perf_counter()
    response = api.post(f"{API}/consumers/content/applicability/", json={"criteria": {}})
    assert response.status_code == 200, response.text
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consumers", type=int, default=1000)
    parser.add_argument("--profiles", type=int, default=10)
    parser.add_argument("--files", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        database = EmbeddedDatabase(root / "db", log_file=root / "db.log").start()
        stack = Stack(root / "stack", database.url, workers=2)
        try:
            api = stack.api
            db = pymongo.MongoClient(database.url)[stack.name]
            t0 = time.perf_counter()
            repos, _ = make_repos(api, root / "upstream", args.files)
            ids = [f"bench-consumer-{i:04d}" for i in range(args.consumers)]
            db["consumers"].insert_many([{"_id": c, "id": c, "display_name": c,
                                          "description": None, "notes": {}} for c in ids])
            db["consumer_bindings"].insert_many([
                {"_id": f"{c}\x1f{r}\x1fiso_distributor", "consumer_id": c, "repo_id": r,
                 "distributor_id": "iso_distributor", "deleted": False}
                for c in ids for r in repos])
            print(f"setup: {REPOS} repositories x {args.files} iso units, "
                  f"{args.consumers} consumers bound to each ({time.perf_counter() - t0:.1f} s)")
            figures = {}
            for label, distinct in (("shared", args.profiles), ("distinct", args.consumers)):
                load_profiles(db, ids, distinct, args.files)
                seconds = regenerate(api)
                stored = db["repo_profile_applicability"].count_documents({})
                cached_query = query(api)
                figures[label] = seconds
                print(f"{distinct:>5} distinct profiles: regeneration {seconds:.2f} s, "
                      f"{seconds / args.consumers * 1000:.2f} ms per consumer, "
                      f"{stored} stored results; applicability query (stored results) "
                      f"{cached_query:.2f} s")
            print(f"ratio distinct/shared: {figures['distinct'] / figures['shared']:.1f}x")
        finally:
            stack.stop()
            database.stop()


if __name__ == "__main__":
    main()
