"""Tarball upload extraction: hostile members are rejected before anything is imported."""
from __future__ import annotations

import io
import tarfile

import pytest

from pulp2ng.importers.ostree import tarball
from pulp2ng.plugin import UploadError


def make_tar(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                info.linkname = payload
                tar.addfile(info)
    return path


@pytest.mark.parametrize("member", [
    ("/etc/passwd", "file", b"x"),
    ("repo/../../escape", "file", b"x"),
    ("repo/objects/evil", "sym", "../../../etc/passwd"),
    ("repo/objects/abs", "sym", "/etc/passwd"),
    ("repo/objects/hard", "hard", "../outside"),
])
def test_unsafe_members_rejected(tmp_path, member):
    tar = make_tar(tmp_path / "t.tar.gz", [("repo/config", "file", b"[core]\n"), member])
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(UploadError):
        tarball.extract(str(tar), str(dest))
    assert not (tmp_path / "escape").exists()


def test_repo_found_under_top_dir_and_refs_listed(tmp_path):
    tar = make_tar(tmp_path / "t.tar.gz", [
        ("./myrepo/", "dir", None), ("./myrepo/config", "file", b"[core]\nmode=archive-z2\n"),
        ("./myrepo/refs/heads/a/b", "file", b"0" * 64 + b"\n"),
        ("./myrepo/objects/inner", "sym", "../config")])
    dest = tmp_path / "out"
    dest.mkdir()
    tarball.extract(str(tar), str(dest))
    root = tarball.find_repo_root(str(dest), None)
    assert root.endswith("myrepo")
    assert tarball.local_refs(root) == ["a/b"]
    assert tarball.find_repo_root(str(dest), "myrepo") == root
    with pytest.raises(UploadError):
        tarball.find_repo_root(str(dest), "../x")
    with pytest.raises(UploadError):
        tarball.extract(str(tmp_path / "nope"), str(dest))
