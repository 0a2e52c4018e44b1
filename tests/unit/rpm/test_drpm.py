"""drpm.py reads a delta RPM's old package, sequence and the new package's signing key from
its compressed delta header, whatever the compression deltarpm chose."""

import subprocess
import uuid
from pathlib import Path

import pytest

from pulp2ng.importers.rpm import drpm
from tests.conftest import require_tool


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    for tool in ("rpmbuild", "createrepo_c", "makedeltarpm", "applydeltarpm", "gpg",
                 "rpmsign"):
        require_tool(tool)
    from tests.fixtures.make_rpm_repo import make_repo
    from tests.fixtures.rpm_signing import make_key, sign

    root = tmp_path_factory.mktemp("drpm")
    prefix = f"x{uuid.uuid4().hex[:6]}"
    make_repo(root / "repo", prefix=prefix, fillers=0)
    old = root / "repo" / f"{prefix}-walrus-1.0-1.noarch.rpm"
    new = root / "repo" / f"{prefix}-walrus-1.1-1.noarch.rpm"
    key = make_key(root / "key", "Pulp2ng Delta Key")
    sign([new], key)
    return root, old, new, key


def make_delta(root: Path, old, new, *options) -> Path:
    out = root / f"delta-{uuid.uuid4().hex[:6]}.drpm"
    subprocess.run(["makedeltarpm", *options, str(old), str(new), str(out)], check=True,
                   capture_output=True)
    return out


@pytest.mark.parametrize("compression", ["gzip", "bzip2", "xz", "lzma"])
def test_reads_sequence_and_key_in_every_compression(packages, compression):
    root, old, new, key = packages
    delta = make_delta(root, old, new, "-z", compression)
    info = subprocess.run(["applydeltarpm", "-i", str(delta)], capture_output=True,
                          text=True, check=True).stdout
    fields = dict(line.split(": ", 1) for line in info.splitlines() if ": " in line)
    found = drpm.read_delta(delta)
    assert found == {"old_nevr": fields["source rpm"], "sequence": fields["sequence"],
                     "signing_key": key.short_id}
    assert drpm.split_nevr(found["old_nevr"])[1:] == ("0", "1.0", "1")


def test_refuses_rpm_only_deltas_packages_and_truncated_files(packages, tmp_path):
    root, old, new, _ = packages
    with pytest.raises(drpm.DeltaError, match="rpm-only"):
        drpm.read_delta(make_delta(root, old, new, "-r"))
    with pytest.raises(drpm.DeltaError, match="DLT"):
        drpm.read_delta(new)  # a package is no delta
    whole = make_delta(root, old, new).read_bytes()
    cut = tmp_path / "cut.drpm"
    cut.write_bytes(whole[:len(whole) - 900])
    with pytest.raises(drpm.DeltaError):
        drpm.read_delta(cut)


def test_split_nevr():
    assert drpm.split_nevr("foo-bar-2:1.0-3.el9") == ("foo-bar", "2", "1.0", "3.el9")
    with pytest.raises(drpm.DeltaError):
        drpm.split_nevr("nodashes")
