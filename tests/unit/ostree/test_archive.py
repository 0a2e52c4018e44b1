"""Archive format: paths, config, objects, verification and summary, against real repos."""
from __future__ import annotations

import glob
import hashlib
import io
import os
import tracemalloc
import zlib

import pytest

from pulp2ng.importers.ostree import archive, gvariant
from pulp2ng.importers.ostree.archive import (
    COMMIT, DIRTREE, FILEZ, Commit, DirTree, object_path, parse_config, verify_object)
from pulp2ng.importers.ostree.errors import (
    OSTreeChecksumError, OSTreeError, OSTreeFormatError, OSTreeMissingObject)

from .conftest import REF_X86, ostree

CSUM = "ab" * 32


def test_error_hierarchy():
    for exc in (OSTreeFormatError, OSTreeChecksumError, OSTreeMissingObject):
        assert issubclass(exc, OSTreeError)


def test_object_path():
    assert object_path(CSUM, "dirtree") == f"objects/ab/{CSUM[2:]}.dirtree"
    assert object_path(CSUM, "filez").endswith(".filez")
    with pytest.raises(OSTreeFormatError):
        object_path(CSUM, "file")
    with pytest.raises(OSTreeFormatError):
        object_path("../" + CSUM[3:], "commit")


@pytest.mark.parametrize("bad", ["", "AB" * 32, "ab" * 31, "ab" * 33, "zz" * 32, None])
def test_validate_checksum_rejects(bad):
    with pytest.raises(OSTreeFormatError):
        archive.validate_checksum(bad)


@pytest.mark.parametrize("ref", ["main", "fedora/28/x86_64/workstation", "a-b_c.d/e"])
def test_validate_ref_accepts(ref):
    assert archive.validate_ref(ref) == ref
    assert archive.ref_path(ref) == f"refs/heads/{ref}"


@pytest.mark.parametrize("ref", ["", "/abs", "a//b", "a/../b", "..", "a/", "-x", ".hidden",
                                 "a b", "a\0b"])
def test_validate_ref_rejects(ref):
    with pytest.raises(OSTreeFormatError):
        archive.validate_ref(ref)


@pytest.mark.parametrize("text", ["[core]\nrepo_version=1\nmode=archive-z2\n",
                                  "[core]\nmode=archive\n", archive.CONFIG_TEXT.encode()])
def test_parse_config_accepts_archive(text):
    assert parse_config(text)["mode"] in archive.ACCEPTED_MODES


@pytest.mark.parametrize("text,match", [
    ("[core]\nrepo_version=1\nmode=bare\n", "'bare'"),
    ("[core]\nmode=bare-user\n", "bare-user"),
    ("[core]\nrepo_version=1\n", "'bare'"),  # ostree's default mode
    ("[remote \"x\"]\nurl=y\n", r"\[core\]"),
    ("not ini at all", "INI"),
])
def test_parse_config_rejects(text, match):
    with pytest.raises(OSTreeFormatError, match=match):
        parse_config(text)


def test_parse_config_from_real_repo(base_upstream):
    repo, _ = base_upstream
    assert parse_config((repo / "config").read_text())["mode"] == "archive-z2"


def test_parse_commit_matches_ostree_cli(base_upstream):
    repo, heads = base_upstream
    head = heads[REF_X86]
    commit = archive.parse_commit((repo / object_path(head, COMMIT)).read_bytes())
    parent = ostree(repo, "rev-parse", f"{REF_X86}^").stdout.strip()
    root = ostree(repo, "ls", "-C", "-d", REF_X86, "/").stdout.split()
    assert commit.parent == parent
    assert (commit.root_dirtree, commit.root_dirmeta) == (root[4], root[5])
    assert commit.subject == f"{REF_X86} v2"
    assert commit.version == "2.0"
    assert commit.timestamp == 1577923200  # 2020-01-02T00:00:00Z
    first = archive.parse_commit((repo / object_path(parent, COMMIT)).read_bytes())
    assert first.parent is None and first.version == "1.0"


def test_parse_dirtree_matches_ostree_cli(base_upstream):
    repo, heads = base_upstream
    listing = ostree(repo, "ls", "-C", REF_X86, "/usr/bin").stdout.splitlines()
    tree_csum = listing[0].split()[4]
    tree = archive.parse_dirtree((repo / object_path(tree_csum, DIRTREE)).read_bytes())
    assert tree.files == {"fixture-hello": listing[1].split()[4]}
    assert tree.dirs == {}


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../etc"])
def test_parse_dirtree_rejects_hostile_names(name):
    data = archive.encode_dirtree(DirTree(files={name: CSUM}))
    with pytest.raises(OSTreeFormatError, match="invalid dirtree entry name"):
        archive.parse_dirtree(data)
    data = archive.encode_dirtree(DirTree(dirs={name: (CSUM, CSUM)}))
    with pytest.raises(OSTreeFormatError):
        archive.parse_dirtree(data)


def test_parse_dirtree_rejects_duplicates_and_short_checksums():
    dup = gvariant.encode(archive.DIRTREE_SIG, ([("a", bytes(32))], [("a", bytes(32),
                                                                       bytes(32))]), "big")
    with pytest.raises(OSTreeFormatError, match="duplicate"):
        archive.parse_dirtree(dup)
    short = gvariant.encode(archive.DIRTREE_SIG, ([("a", bytes(31))], []), "big")
    with pytest.raises(OSTreeFormatError, match="32 bytes"):
        archive.parse_dirtree(short)


def test_every_real_object_verifies(base_upstream):
    repo, _ = base_upstream
    count = 0
    for path in glob.glob(str(repo / "objects" / "*" / "*")):
        rel = os.path.relpath(path, repo / "objects")
        csum, ext = rel.replace(os.sep, "").split(".")
        verify_object(csum, ext, path=path)
        verify_object(csum, ext, data=open(path, "rb").read())
        count += 1
    assert count > 20


def _real_object(repo, ext, minimum=0):
    for path in sorted(glob.glob(str(repo / "objects" / "*" / f"*.{ext}"))):
        if os.path.getsize(path) >= minimum:
            rel = os.path.relpath(path, repo / "objects")
            return rel.replace(os.sep, "").split(".")[0], open(path, "rb").read()
    raise AssertionError(f"no {ext} object")


def test_altered_metadata_object_is_rejected_by_name(base_upstream):
    repo, _ = base_upstream
    csum, data = _real_object(repo, "commit")
    with pytest.raises(OSTreeChecksumError, match=csum[2:]):
        verify_object(csum, COMMIT, data=data[:-1] + bytes([data[-1] ^ 1]))


def test_altered_file_object_is_rejected_by_name(base_upstream):
    repo, _ = base_upstream
    csum, data = _real_object(repo, "filez", minimum=1000)
    size = int.from_bytes(data[:4], "big")
    content = zlib.decompress(data[8 + size:], -15)
    deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
    altered = data[:8 + size] + deflater.compress(b"X" + content[1:]) + deflater.flush()
    with pytest.raises(OSTreeChecksumError, match=f"{csum[2:]}.filez"):
        verify_object(csum, FILEZ, data=altered)
    with pytest.raises(OSTreeFormatError, match="truncated"):
        verify_object(csum, FILEZ, data=data[:-3])
    with pytest.raises(OSTreeFormatError):
        verify_object(csum, FILEZ, data=data[:6])


def _make_filez(content: bytes, mode: int = 0o100644) -> tuple[str, bytes]:
    """Build a .filez object the way ostree does; return (checksum, bytes)."""
    xattrs: list = []
    header = gvariant.encode(archive.FILEZ_HEADER_SIG, (len(content), 0, 0, mode, 0, "",
                                                        xattrs), "big")
    hashed = gvariant.encode(archive.FILE_HEADER_SIG, (0, 0, mode, 0, "", xattrs), "big")
    digest = hashlib.sha256(len(hashed).to_bytes(4, "big") + bytes(4) + hashed + content)
    deflater = zlib.compressobj(1, zlib.DEFLATED, -15)
    body = deflater.compress(content) + deflater.flush()
    return digest.hexdigest(), len(header).to_bytes(4, "big") + bytes(4) + header + body


def test_filez_verification_streams_with_bounded_memory():
    content = os.urandom(1 << 20) * 16  # 16 MiB, compresses well because it repeats
    csum, data = _make_filez(content)
    stream = io.BytesIO(data)
    tracemalloc.start()
    try:
        header = archive.verify_filez(csum, stream)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert header.size == len(content)
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes: verification is not streaming"


def test_filez_size_mismatch_is_rejected():
    csum, data = _make_filez(b"hello")
    size = int.from_bytes(data[:4], "big")
    header = gvariant.decode(archive.FILEZ_HEADER_SIG, data[8:8 + size], "big")
    lying = gvariant.encode(archive.FILEZ_HEADER_SIG, (99,) + header[1:], "big")
    with pytest.raises(OSTreeChecksumError, match="header says 99"):
        verify_object(csum, FILEZ, data=data[:8] + lying + data[8 + size:])


def test_summary_parse_matches_cli_and_build_matches_refs(base_upstream):
    repo, heads = base_upstream
    data = (repo / "summary").read_bytes()
    summary = archive.parse_summary(data)
    assert {ref: entry.checksum for ref, entry in summary.refs.items()} == heads
    refs = {}
    for ref, entry in summary.refs.items():
        commit_bytes = (repo / object_path(entry.checksum, COMMIT)).read_bytes()
        assert entry.size == len(commit_bytes)
        assert entry.timestamp == 1577923200 and entry.version == "2.0"
        refs[ref] = (entry.checksum, len(commit_bytes), archive.parse_commit(commit_bytes))
    built = archive.build_summary(refs, last_modified=1234)
    ours = gvariant.decode(archive.SUMMARY_SIG, built)[0]
    theirs = gvariant.decode(archive.SUMMARY_SIG, data)[0]
    assert ours == theirs  # per-ref entries are identical to `ostree summary -u`
    assert list(archive.parse_summary(built).refs) == sorted(heads)
    assert archive.parse_summary(built).metadata["ostree.summary.mode"] == "archive-z2"


def test_write_and_parse_ref(tmp_path):
    path = archive.write_ref(str(tmp_path), "a/b/c", CSUM)
    assert open(path).read() == CSUM + "\n"
    assert archive.parse_ref_file(open(path, "rb").read()) == CSUM
    with pytest.raises(OSTreeFormatError, match="'x'"):
        archive.parse_ref_file(b"nonsense\n", "x")
    with pytest.raises(OSTreeFormatError):
        archive.write_ref(str(tmp_path), "../escape", CSUM)


def test_encode_commit_round_trip(base_upstream):
    repo, heads = base_upstream
    data = (repo / object_path(heads[REF_X86], COMMIT)).read_bytes()
    commit = archive.parse_commit(data)
    rebuilt = Commit(
        metadata={"version": "2.0",
                  "ostree.ref-binding": gvariant.Variant("as", [REF_X86])},
        parent=commit.parent, subject=commit.subject, body=commit.body,
        timestamp=commit.timestamp, root_dirtree=commit.root_dirtree,
        root_dirmeta=commit.root_dirmeta)
    assert hashlib.sha256(archive.encode_commit(rebuilt)).hexdigest() == heads[REF_X86]
