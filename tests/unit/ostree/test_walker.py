"""Sync walker: mirror real fixture repos over HTTP, republish, and pull with the ostree CLI."""
from __future__ import annotations

import glob
import os
import shutil

import pytest

from pulp2ng.distributors.ostree import publish
from pulp2ng.importers.ostree import archive, walker
from pulp2ng.importers.ostree.archive import COMMIT, COMMITMETA, FILEZ, DirTree, object_path
from pulp2ng.importers.ostree.errors import (
    OSTreeChecksumError, OSTreeFormatError, OSTreeMissingObject)
from pulp2ng.importers.ostree.walker import DirObjectStore

from .conftest import REF_ARM, REF_X86, make_repo, ostree, require_tool


def mirror(url: str, store_dir, depth: int, branches=None, max_workers: int = 4):
    """Sync ``url`` into a DirObjectStore the way the importer will."""
    fetch_bytes, fetch_to_file = walker.make_http_fetchers(url)
    heads = walker.list_remote_refs(fetch_bytes, branches)
    store = DirObjectStore(str(store_dir))
    inventory = walker.walk(fetch_bytes, fetch_to_file, store.has, heads, depth,
                            store_object=store.add, load_object=store.read,
                            staging_dir=os.path.join(str(store_dir), "staging"),
                            max_workers=max_workers)
    return store, inventory


def upstream_objects(repo) -> set[tuple[str, str]]:
    found = set()
    for path in glob.glob(os.path.join(str(repo), "objects", "*", "*")):
        rel = os.path.relpath(path, os.path.join(str(repo), "objects")).replace(os.sep, "")
        csum, ext = rel.split(".")
        found.add((csum, ext))
    return found


def commit_count(repo, ref: str) -> int:
    return sum(line.startswith("commit ") for line in ostree(repo, "log", ref).stdout.splitlines())


@pytest.mark.parametrize("depth,expected", [(0, 1), (1, 2), (-1, 3), (7, 3)])
def test_mirror_publish_and_pull_with_ostree_cli(tmp_path, serve, depth, expected):
    up = tmp_path / "up"
    heads = make_repo(up, "--commits", "3")
    store, inv = mirror(serve(up), tmp_path / "store", depth)
    assert inv.heads == heads
    assert {ref: len(chain) for ref, chain in inv.history.items()} == {r: expected for r in heads}
    assert all(inv.history[ref][0] == head for ref, head in heads.items())

    pub = tmp_path / "pub"
    result = publish.write_archive_repo(str(pub), heads, store.source, depth=depth)
    assert result.history == inv.history
    url = serve(pub)

    client = tmp_path / "client"
    ostree(client, "init", "--mode=archive")
    ostree(client, "remote", "add", "--no-gpg-verify", "origin", url)
    refs_out = ostree(client, "remote", "refs", "origin").stdout.split()
    assert sorted(refs_out) == sorted(f"origin:{ref}" for ref in heads)
    for ref in heads:
        ostree(client, "pull", "--depth=-1", "origin", ref)  # history beyond the trim is fine
        assert commit_count(client, f"origin:{ref}") == expected
    ostree(client, "pull", "--mirror", "--depth=-1", "origin")
    ostree(client, "fsck")
    for ref, head in heads.items():
        assert ostree(client, "rev-parse", ref).stdout.strip() == head
        assert commit_count(client, ref) == expected
    ostree(client, "checkout", REF_X86, str(tmp_path / "co"))
    assert os.access(tmp_path / "co" / "usr" / "bin" / "fixture-hello", os.X_OK)
    assert os.readlink(tmp_path / "co" / "etc" / "hello-link") == "../usr/bin/fixture-hello"


def test_inventory_records_objects_per_commit(upstream, serve, tmp_path):
    repo, heads = upstream
    store, inv = mirror(serve(repo), tmp_path / "store", -1, max_workers=8)
    everything = upstream_objects(repo)
    assert set().union(*inv.objects.values()) == everything
    assert inv.fetched == everything and not inv.skipped
    assert upstream_objects(store.root) == everything
    shared = set.intersection(*(set(objs) for objs in inv.objects.values()))
    assert {t for _, t in shared} >= {FILEZ}  # shared.bin is in every commit of every ref
    for checksum, objs in inv.objects.items():
        assert (checksum, COMMIT) in objs
        commit = inv.commits[checksum]
        assert (commit.root_dirtree, "dirtree") in objs and (commit.root_dirmeta, "dirmeta") in objs


def test_resync_skips_stored_objects_and_deepening_fetches_only_parents(upstream, serve,
                                                                       tmp_path):
    repo, heads = upstream
    url = serve(repo)
    _, first = mirror(url, tmp_path / "store", 0)
    _, again = mirror(url, tmp_path / "store", 0)
    assert not again.fetched and again.skipped == set().union(*first.objects.values())
    assert again.objects == first.objects
    _, deeper = mirror(url, tmp_path / "store", -1)
    parents = {inv_ref[1] for inv_ref in deeper.history.values()}
    assert deeper.fetched and {(p, COMMIT) for p in parents} <= deeper.fetched
    assert not deeper.fetched & set().union(*first.objects.values())


def test_walk_without_load_object_refetches_trees_but_stores_nothing_new(upstream, serve,
                                                                        tmp_path):
    repo, heads = upstream
    fetch_bytes, fetch_to_file = walker.make_http_fetchers(serve(repo))
    store = DirObjectStore(str(tmp_path / "s"))
    walker.walk(fetch_bytes, fetch_to_file, store.has, heads, 0, store_object=store.add)
    calls = []
    again = walker.walk(fetch_bytes, fetch_to_file, store.has, heads, 0,
                        store_object=lambda *a: calls.append(a))
    assert not calls and not again.fetched


def test_no_summary_needs_branch_names(tmp_path, serve):
    up = tmp_path / "up"
    heads = make_repo(up, "--no-summary")
    assert not (up / "summary").exists()
    fetch_bytes, _ = walker.make_http_fetchers(serve(up))
    with pytest.raises(OSTreeMissingObject, match="no summary"):
        walker.list_remote_refs(fetch_bytes)
    assert walker.list_remote_refs(fetch_bytes, [REF_ARM]) == {REF_ARM: heads[REF_ARM]}
    _, inv = mirror(serve(up), tmp_path / "store", 0, branches=[REF_X86])
    assert inv.history == {REF_X86: [heads[REF_X86]]}


def test_unknown_branch_is_a_clear_error(upstream, serve):
    repo, _ = upstream
    fetch_bytes, _ = walker.make_http_fetchers(serve(repo))
    with pytest.raises(OSTreeMissingObject, match="ref 'no/such/ref' not found"):
        walker.list_remote_refs(fetch_bytes, ["no/such/ref"])


def test_trimmed_upstream_history_ends_quietly(upstream, serve, tmp_path):
    repo, heads = upstream
    store, _ = mirror(serve(repo), tmp_path / "store", -1)
    trimmed = tmp_path / "trimmed"
    publish.write_archive_repo(str(trimmed), heads, store.source, depth=0)
    _, inv = mirror(serve(trimmed), tmp_path / "store2", -1)
    assert {ref: len(chain) for ref, chain in inv.history.items()} == {r: 1 for r in heads}


# ------------------------------------------------------------------------------- faults


def test_bare_mode_upstream_is_rejected(upstream, serve, tmp_path):
    repo, _ = upstream
    (repo / "config").write_text("[core]\nrepo_version=1\nmode=bare\n")
    with pytest.raises(OSTreeFormatError, match="unsupported repository mode 'bare'"):
        mirror(serve(repo), tmp_path / "store", 0)


@pytest.mark.parametrize("ext", ["dirtree", "filez", "dirmeta"])
def test_altered_object_is_rejected_by_name(upstream, serve, tmp_path, ext):
    repo, heads = upstream
    path = sorted(glob.glob(str(repo / "objects" / "*" / f"*.{ext}")))[0]
    if ext == "filez":  # rewrite the content so it still inflates but hashes differently
        data = open(path, "rb").read()
        size = int.from_bytes(data[:4], "big")
        import zlib
        deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
        body = zlib.decompressobj(-15).decompress(data[8 + size:])
        data = data[:8 + size] + deflater.compress(body + b"!") + deflater.flush()
    else:
        data = open(path, "rb").read() + b"\0"
    open(path, "wb").write(data)
    name = os.path.basename(path)
    with pytest.raises((OSTreeChecksumError, OSTreeFormatError), match=name):
        mirror(serve(repo), tmp_path / "store", -1)
    store = tmp_path / "store"
    assert not glob.glob(str(store / "objects" / "*" / name))  # never stored
    assert not os.listdir(store / "staging")  # nothing left behind


def test_missing_object_is_a_clear_error(upstream, serve, tmp_path):
    repo, _ = upstream
    path = sorted(glob.glob(str(repo / "objects" / "*" / "*.filez")))[0]
    os.unlink(path)
    with pytest.raises(OSTreeMissingObject, match=os.path.basename(path)) as info:
        mirror(serve(repo), tmp_path / "store", -1)
    assert "referenced by dirtree" in str(info.value)


def test_ref_pointing_at_missing_commit_is_a_clear_error(upstream, serve, tmp_path):
    repo, heads = upstream
    os.unlink(repo / object_path(heads[REF_X86], COMMIT))
    with pytest.raises(OSTreeMissingObject, match=f"ref {REF_X86}") as info:
        mirror(serve(repo), tmp_path / "store", 0)
    assert heads[REF_X86][2:] in str(info.value)


def test_hostile_dirtree_name_is_rejected(upstream, serve, tmp_path):
    repo, heads = upstream
    commit_path = repo / object_path(heads[REF_X86], COMMIT)
    commit = archive.parse_commit(commit_path.read_bytes())
    evil_tree = archive.encode_dirtree(DirTree(dirs={"..": (commit.root_dirtree,
                                                            commit.root_dirmeta)}))
    tree_csum = archive.hashlib.sha256(evil_tree).hexdigest()
    tree_path = repo / object_path(tree_csum, "dirtree")
    tree_path.parent.mkdir(exist_ok=True)
    tree_path.write_bytes(evil_tree)
    evil_commit = archive.encode_commit(archive.Commit(
        metadata={}, parent=None, subject="evil", body="", timestamp=0,
        root_dirtree=tree_csum, root_dirmeta=commit.root_dirmeta))
    evil_csum = archive.hashlib.sha256(evil_commit).hexdigest()
    (repo / object_path(evil_csum, COMMIT)).parent.mkdir(exist_ok=True)
    (repo / object_path(evil_csum, COMMIT)).write_bytes(evil_commit)
    fetch_bytes, fetch_to_file = walker.make_http_fetchers(serve(repo))
    store = DirObjectStore(str(tmp_path / "store"))
    with pytest.raises(OSTreeFormatError, match="invalid dirtree entry name '..'"):
        walker.walk(fetch_bytes, fetch_to_file, store.has, {"evil": evil_csum}, 0,
                    store_object=store.add)


def test_invalid_arguments():
    with pytest.raises(ValueError):
        walker.walk(None, None, None, {}, -2, store_object=None)
    with pytest.raises(OSTreeFormatError):
        walker.walk(None, None, None, {"../x": "ab" * 32}, 0, store_object=None)


# ---------------------------------------------------------------------------- signatures


def test_signed_commits_carry_commitmeta_through_publish(tmp_path, serve):
    require_tool("gpg")
    up, gnupg = tmp_path / "up", tmp_path / "gnupg"
    heads = make_repo(up, "--gpg-homedir", str(gnupg), "--ref", REF_X86)
    store, inv = mirror(serve(up), tmp_path / "store", 0)
    head = heads[REF_X86]
    assert (head, COMMITMETA) in inv.objects[head]
    meta = archive.parse_commitmeta(store.read(head, COMMITMETA))
    assert "ostree.gpgsigs" in meta
    pub = tmp_path / "pub"
    publish.write_archive_repo(str(pub), heads, store.source)
    client = tmp_path / "client"
    ostree(client, "init", "--mode=archive")
    ostree(client, "remote", "add", "--set=gpg-verify=true",
           f"--gpg-import={gnupg / 'fixture-signer.asc'}", "signed", serve(pub))
    ostree(client, "pull", "signed", REF_X86)
    shown = ostree(client, "show", "--gpg-verify-remote=signed", f"signed:{REF_X86}")
    assert "Good signature" in shown.stdout + shown.stderr
    shutil.rmtree(gnupg, ignore_errors=True)


# --------------------------------------------------------------------- injected I/O, threads


def test_local_fetchers_run_concurrently(upstream, tmp_path):
    """Plain-file fetchers (no HTTP) work, and each level is fetched in parallel."""
    import threading
    import time

    repo, heads = upstream
    lock, active, peak = threading.Lock(), [0], [0]

    def slow(fn):
        def wrapper(*args):
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            try:
                time.sleep(0.02)
                return fn(*args)
            finally:
                with lock:
                    active[0] -= 1
        return wrapper

    def fetch_bytes(rel):
        with open(repo / rel, "rb") as fh:  # FileNotFoundError means "missing", like a 404
            return fh.read()

    def fetch_to_file(rel, dest):
        shutil.copyfile(repo / rel, dest)

    store = DirObjectStore(str(tmp_path / "store"))
    inv = walker.walk(slow(fetch_bytes), slow(fetch_to_file), store.has, heads, -1,
                      store_object=store.add, load_object=store.read, max_workers=6)
    assert peak[0] > 1
    assert set().union(*inv.objects.values()) == upstream_objects(repo)
    assert upstream_objects(store.root) == upstream_objects(repo)
