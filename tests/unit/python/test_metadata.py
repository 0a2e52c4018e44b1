"""Reading file names and core metadata from real wheels and sdists."""

import io
import os
import subprocess
import sys
import tarfile
import zipfile

from pathlib import Path

import pytest
from packaging.version import Version

from pulp2ng.importers.python import metadata
from pulp2ng.importers.python.errors import MetadataError
from pulp2ng.importers.python.metadata import (
    core_metadata_bytes,
    parse_filename,
    read_metadata,
)

FIXTURES = str(Path(__file__).resolve().parents[2] / "fixtures")


def make_packages(outdir, *specs, backend="raw"):
    """Run the shared fixture builder; returns the sorted file names it wrote."""
    args = [sys.executable, f"{FIXTURES}/make_py_packages.py", str(outdir), "--backend", backend]
    for spec in specs:
        args += ["--spec", spec]
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    return sorted(os.listdir(outdir))


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """The default fixture set: three projects, wheels and sdists."""
    outdir = tmp_path_factory.mktemp("dist")
    make_packages(outdir)
    return outdir


def test_default_fixture_files_parse(dist):
    parsed = {fn: parse_filename(fn) for fn in os.listdir(dist)}
    assert parsed["fixture_alpha-0.1.0-py3-none-any.whl"][:3] == (
        "fixture-alpha", Version("0.1.0"), "bdist_wheel")
    assert parsed["fixture_beta-2.0.0.tar.gz"] == ("fixture-beta", Version("2.0.0"), "sdist",
                                                   frozenset())
    assert parsed["fixture_gamma-0.0.1.tar.gz"][0] == "fixture-gamma"
    tags = parsed["fixture_gamma-0.0.1-py3-none-any.whl"][3]
    assert {str(t) for t in tags} == {"py3-none-any"}


def test_read_wheel_metadata(dist):
    meta = read_metadata(dist / "fixture_beta-2.0.0-py3-none-any.whl")
    assert meta == {
        "name": "Fixture_Beta",
        "version": "2.0.0",
        "summary": "Fixture package Fixture_Beta",
        "requires_python": ">=3.7",
        "requires_dist": ["fixture-alpha>=0.2"],
        "author": "pulp2ng fixtures",
        "author_email": "fixtures@example.invalid",
        "license": "MIT",
        "home_page": None,
        "classifiers": [],
        "metadata_version": "2.1",
        "dynamic": [],
        "packagetype": "bdist_wheel",
        "python_version": "py3",
        "platform": "any",
    }


def test_read_sdist_metadata(dist):
    meta = read_metadata(dist / "fixture_gamma-0.0.1.tar.gz")
    assert meta["name"] == "fixture.gamma"
    assert meta["version"] == "0.0.1"
    assert meta["packagetype"] == "sdist"
    assert meta["python_version"] == "source"
    assert meta["platform"] is None
    assert meta["requires_dist"] == []


def test_core_metadata_bytes_is_the_wheel_member(dist):
    path = dist / "fixture_alpha-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(path) as zf:
        expected = zf.read("fixture_alpha-1.0.0.dist-info/METADATA")
    assert core_metadata_bytes(path) == expected


def test_setuptools_built_packages(tmp_path):
    """The ``build`` backend gives real setuptools output; its file-name case varies by version."""
    files = make_packages(tmp_path, "Shelf_Reader==2.0:fixture-alpha>=0.2", backend="build")
    assert [f.lower() for f in files] == [
        "shelf_reader-2.0-py3-none-any.whl", "shelf_reader-2.0.tar.gz"]
    for fn in files:
        meta = read_metadata(tmp_path / fn)
        # setuptools 65 writes "Shelf-Reader"; newer ones keep the spelling as given.
        assert (meta["name"].replace("-", "_"), meta["version"]) == ("Shelf_Reader", "2.0")
        assert meta["requires_python"] == ">=3.7"
        if fn.endswith(".whl"):  # setuptools 65 leaves Requires-Dist out of an sdist's PKG-INFO
            assert meta["requires_dist"] == ["fixture-alpha>=0.2"]


def test_zip_sdist(tmp_path):
    path = tmp_path / "legacy_pkg-1.0.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("legacy_pkg-1.0/PKG-INFO", "Metadata-Version: 1.1\nName: legacy-pkg\n"
                    "Version: 1.0\nPlatform: UNKNOWN\n")
        zf.writestr("legacy_pkg-1.0/setup.py", "")
        zf.writestr("legacy_pkg-1.0/legacy_pkg.egg-info/PKG-INFO", "Name: other\n")
    meta = read_metadata(path)
    assert (meta["name"], meta["version"], meta["packagetype"]) == ("legacy-pkg", "1.0", "sdist")
    assert meta["platform"] is None


@pytest.mark.parametrize("filename, expected", [
    ("pip-tools-1.12.0.tar.gz", ("pip-tools", "1.12.0", "sdist")),
    ("Twisted-8.0.tar.bz2", ("twisted", "8.0", "sdist")),
    ("numpy-1.26.0-cp311-cp311-win_amd64.whl", ("numpy", "1.26.0", "bdist_wheel")),
    ("setuptools-0.6c11-py2.7.egg", ("setuptools", "0.6c11", "bdist_egg")),
])
def test_parse_filename_forms(filename, expected):
    name, version, packagetype, _tags = parse_filename(filename)
    assert (name, str(version), packagetype) == (expected[0], str(Version(expected[1])),
                                                 expected[2])


@pytest.mark.parametrize("filename", [
    "installer.exe", "pkg.tar.gz", "pkg-1.0-py3.whl", "pkg-notaversion.tar.gz", "x.rpm",
])
def test_parse_filename_rejects(filename):
    with pytest.raises(MetadataError):
        parse_filename(filename)


def write_wheel(path, members):
    """A zip with the given ``{name: text}`` members."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)


GOOD_METADATA = "Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n"


@pytest.mark.parametrize("member", [
    "../evil.py", "evil-1.0.dist-info/../../x", "/etc/passwd", "C:/x", "evil\\..\\x",
])
def test_wheel_with_traversal_member_is_rejected(tmp_path, member):
    path = tmp_path / "evil-1.0-py3-none-any.whl"
    write_wheel(path, {member: "x", "evil-1.0.dist-info/METADATA": GOOD_METADATA})
    with pytest.raises(MetadataError, match="unsafe member name"):
        read_metadata(path)


def write_tar(path, members):
    """A .tar.gz from ``(TarInfo kwargs, data)`` pairs."""
    with tarfile.open(path, "w:gz") as tf:
        for kwargs, data in members:
            ti = tarfile.TarInfo(kwargs.pop("name"))
            for key, value in kwargs.items():
                setattr(ti, key, value)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))


@pytest.mark.parametrize("hostile", [
    {"name": "evil-1.0/../../etc/cron.d/x"},
    {"name": "/tmp/evil"},
    {"name": "evil-1.0/link", "type": tarfile.SYMTYPE, "linkname": "../../../etc/passwd"},
    {"name": "evil-1.0/abs", "type": tarfile.SYMTYPE, "linkname": "/etc/passwd"},
    {"name": "evil-1.0/hard", "type": tarfile.LNKTYPE, "linkname": "../../x"},
])
def test_sdist_with_traversal_member_is_rejected(tmp_path, hostile):
    path = tmp_path / "evil-1.0.tar.gz"
    write_tar(path, [({"name": "evil-1.0/PKG-INFO"}, GOOD_METADATA.encode()), (hostile, b"")])
    with pytest.raises(MetadataError, match="unsafe member name"):
        read_metadata(path)


def test_metadata_must_match_file_name(tmp_path):
    path = tmp_path / "evil-1.0-py3-none-any.whl"
    write_wheel(path, {"evil-1.0.dist-info/METADATA": GOOD_METADATA.replace("1.0", "2.0")})
    with pytest.raises(MetadataError, match="does not match"):
        read_metadata(path)


def test_missing_or_duplicate_metadata(tmp_path):
    path = tmp_path / "evil-1.0-py3-none-any.whl"
    write_wheel(path, {"evil/__init__.py": ""})
    with pytest.raises(MetadataError, match="has no"):
        read_metadata(path)
    write_wheel(path, {"a.dist-info/METADATA": GOOD_METADATA,
                       "b.dist-info/METADATA": GOOD_METADATA})
    with pytest.raises(MetadataError, match="more than one"):
        read_metadata(path)


def test_oversized_metadata_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(metadata, "MAX_METADATA_BYTES", 64)
    path = tmp_path / "evil-1.0-py3-none-any.whl"
    write_wheel(path, {"evil-1.0.dist-info/METADATA": GOOD_METADATA + "Summary: " + "x" * 100})
    with pytest.raises(MetadataError, match="larger than 64 bytes"):
        read_metadata(path)


def test_corrupt_archive(tmp_path):
    path = tmp_path / "evil-1.0-py3-none-any.whl"
    path.write_bytes(b"not a zip at all")
    with pytest.raises(MetadataError, match="cannot read archive"):
        read_metadata(path)
    tgz = tmp_path / "evil-1.0.tar.gz"
    tgz.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(MetadataError, match="cannot read archive"):
        read_metadata(tgz)


@pytest.mark.parametrize("packagetype, version, dynamic, published", [
    ("bdist_wheel", "2.1", [], True),
    ("sdist", "2.1", [], False),           # before PEP 643 PKG-INFO may omit Requires-Dist
    ("sdist", "2.2", [], True),
    ("sdist", "2.4", ["License"], True),
    ("sdist", "2.2", ["Requires-Dist"], False),
    ("sdist", "2.2", ["requires-python"], False),
])
def test_which_core_metadata_is_published(packagetype, version, dynamic, published):
    from pulp2ng.importers.python.importer import _publishable_metadata

    meta = {"packagetype": packagetype, "metadata_version": version, "dynamic": dynamic}
    assert (_publishable_metadata(meta, b"raw") == b"raw") is published
