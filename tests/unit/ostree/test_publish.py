"""Publishing: the written repository is a valid archive-z2 repo for the real ostree CLI."""
from __future__ import annotations

import errno
import os

import pytest

from pulp2ng.importers.ostree import archive, gvariant, publish
from pulp2ng.importers.ostree.archive import COMMIT, object_path
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
