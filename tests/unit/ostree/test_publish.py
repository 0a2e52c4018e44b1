"""Publishing: the written repository is a valid archive-z2 repo for the real ostree CLI."""
from __future__ import annotations

import errno
import os

import pytest

from pulp2ng.distributors.ostree import deltas, publish
from pulp2ng.importers.ostree import archive, gvariant
from pulp2ng.importers.ostree.archive import COMMIT, object_path
from pulp2ng.distributors.ostree.deltas import OSTreeDeltaError
from pulp2ng.importers.ostree.errors import OSTreeMissingObject

from .conftest import REF_ARM, REF_X86, ostree


def upstream_source(repo):
    """Use a fixture repo's own objects directory as the object store."""
    def source(checksum, objtype):
        path = os.path.join(str(repo), object_path(checksum, objtype))
        return path if os.path.exists(path) else None
    return source


def test_layout_links_and_summary(upstream, tmp_path):
    repo, heads = upstream
    dest = tmp_path / "pub"
    result = publish.write_archive_repo(str(dest), heads, upstream_source(repo), depth=-1,
                                        last_modified=1700000000)
    assert (dest / "config").read_text() == "[core]\nrepo_version=1\nmode=archive-z2\n"
    for ref, head in heads.items():
        assert (dest / "refs" / "heads" / ref).read_text() == head + "\n"
    assert result.copied == 0 and result.linked == result.objects
    head_obj = object_path(heads[REF_X86], COMMIT)
    assert os.stat(dest / head_obj).st_ino == os.stat(repo / head_obj).st_ino
    summary = archive.parse_summary((dest / "summary").read_bytes())
    assert {r: e.checksum for r, e in summary.refs.items()} == heads
    assert gvariant.byteswap_int(summary.metadata["ostree.summary.last-modified"], "t") \
        == 1700000000
    ostree(dest, "fsck")
    assert sorted(ostree(dest, "refs").stdout.split()) == sorted(heads)


def test_summary_matches_ostree_summary_update(upstream, tmp_path):
    repo, heads = upstream
    dest = tmp_path / "pub"
    publish.write_archive_repo(str(dest), heads, upstream_source(repo))
    ours = gvariant.decode(archive.SUMMARY_SIG, (dest / "summary").read_bytes())
    ostree(dest, "summary", "-u")
    theirs = gvariant.decode(archive.SUMMARY_SIG, (dest / "summary").read_bytes())
    assert ours[0] == theirs[0]


def test_depth_trimming_keeps_repo_valid(upstream, tmp_path):
    repo, heads = upstream
    dest = tmp_path / "pub"
    result = publish.write_archive_repo(str(dest), heads, upstream_source(repo), depth=0)
    assert {r: len(c) for r, c in result.history.items()} == {REF_X86: 1, REF_ARM: 1}
    parent = archive.parse_commit((dest / object_path(heads[REF_X86], COMMIT)).read_bytes())
    assert not (dest / object_path(parent.parent, COMMIT)).exists()
    ostree(dest, "fsck")
    log = ostree(dest, "log", REF_X86).stdout
    assert log.count("\ncommit ") + log.startswith("commit ") == 1


def test_summary_is_written_last(upstream, tmp_path, monkeypatch):
    repo, heads = upstream
    order = []
    real = archive.write_atomic

    def spy(path, data):
        order.append(os.path.basename(path))
        real(path, data)

    monkeypatch.setattr(archive, "write_atomic", spy)
    publish.write_archive_repo(str(tmp_path / "pub"), heads, upstream_source(repo))
    assert order[-1] == "summary" and order.count("summary") == 1
    assert set(order[:-1]) >= {"config", "base"}


def test_copies_when_hardlinks_fail(upstream, tmp_path, monkeypatch):
    repo, heads = upstream

    def no_link(src, dst):
        raise OSError(errno.EXDEV, "cross-device link")

    monkeypatch.setattr(publish.os, "link", no_link)
    result = publish.write_archive_repo(str(tmp_path / "pub"), heads, upstream_source(repo))
    assert result.linked == 0 and result.copied == result.objects > 0
    ostree(tmp_path / "pub", "fsck")


def test_missing_stored_object_and_nonempty_dest(upstream, tmp_path):
    repo, heads = upstream
    source = upstream_source(repo)
    victim = archive.parse_commit((repo / object_path(heads[REF_ARM], COMMIT)).read_bytes())
    os.unlink(repo / object_path(victim.root_dirtree, "dirtree"))
    with pytest.raises(OSTreeMissingObject, match=victim.root_dirtree[2:]):
        publish.write_archive_repo(str(tmp_path / "pub"), heads, source)
    assert not (tmp_path / "pub" / "summary").exists()  # a failed publish never gets a summary
    with pytest.raises(FileExistsError):
        publish.write_archive_repo(str(tmp_path / "pub"), heads, source)
    with pytest.raises(OSTreeMissingObject, match="not in the store"):
        publish.write_archive_repo(str(tmp_path / "pub2"), {"x": "ab" * 32}, source)


def file_stats(root):
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}


def test_compute_delta_parent_to_head_listed_like_ostree_does(upstream, tmp_path):
    repo, heads = upstream
    stored = file_stats(repo)
    dest = tmp_path / "pub"
    result = publish.write_archive_repo(str(dest), heads, upstream_source(repo), depth=-1,
                                        compute_delta=True)
    parents = {ref: chain[1] for ref, chain in result.history.items()}
    assert result.deltas == sorted(f"{parents[ref]}-{head}" for ref, head in heads.items())
    ours = archive.parse_summary((dest / "summary").read_bytes()).metadata
    assert sorted(ours["ostree.static-deltas"]) == result.deltas
    new_files = [p for p in (dest / "deltas").rglob("*") if p.is_file()]
    assert new_files and all(p.stat().st_nlink == 1 for p in new_files)  # not linked to storage
    assert file_stats(repo) == stored  # the hard-linked object store was only read
    ostree(dest, "fsck")
    ostree(dest, "summary", "-u")  # libostree lists the same deltas with the same digests
    theirs = archive.parse_summary((dest / "summary").read_bytes()).metadata
    assert theirs["ostree.static-deltas"] == ours["ostree.static-deltas"]


def test_compute_delta_skips_heads_published_without_parent(upstream, tmp_path):
    repo, heads = upstream
    dest = tmp_path / "pub"
    result = publish.write_archive_repo(str(dest), heads, upstream_source(repo), depth=0,
                                        compute_delta=True)
    assert result.deltas == []
    assert "ostree.static-deltas" not in archive.parse_summary(
        (dest / "summary").read_bytes()).metadata


def test_delta_failures_are_ostree_errors(upstream, tmp_path, monkeypatch):
    repo, heads = upstream
    with pytest.raises(OSTreeDeltaError, match="static-delta generate failed"):
        deltas.generate(str(repo), {("ab" * 32, heads[REF_X86])})
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(OSTreeDeltaError, match="not installed"):
        deltas.generate(str(repo), {(heads[REF_ARM], heads[REF_X86])})
