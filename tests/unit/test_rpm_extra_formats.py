"""The readers behind RPM modules, delta RPMs and distribution trees, on the inputs the
integration tests do not build: productmd trees, unsafe paths, broken documents."""

import io

import pytest

from pulp2ng.importers.rpm.deltas import DeltaParseError, DeltaWriter, read_deltas
from pulp2ng.importers.rpm.modules import ModulesParseError, read_modules, write_modules
from pulp2ng.importers.rpm.treeinfo import TreeinfoError, read_treeinfo

PRODUCTMD = """\
[header]
type = productmd.treeinfo
version = 1.2
[release]
name = Walrus Linux
short = WL
version = 9
[tree]
arch = x86_64
build_timestamp = 1767225600
variants = BaseOS,AppStream
[images-x86_64]
boot.iso = images/boot.iso
kernel = images/pxeboot/vmlinuz
[checksums]
images/boot.iso = sha512:ABCD
images/pxeboot/vmlinuz = sha256:abcd
repodata/repomd.xml = sha256:ef01
"""


def test_productmd_treeinfo():
    unit, files = read_treeinfo(PRODUCTMD)
    assert (unit["family"], unit["variant"], unit["version"], unit["arch"]) == (
        "Walrus Linux", "BaseOS", "9", "x86_64")
    assert unit["id"] == "ks-Walrus_Linux-BaseOS-9-x86_64"
    assert unit["timestamp"] == 1767225600.0
    # case of paths kept, checksums lowercased, repodata left to the yum metadata
    assert files == [
        {"relativepath": "images/boot.iso", "checksumtype": "sha512", "checksum": "abcd"},
        {"relativepath": "images/pxeboot/vmlinuz", "checksumtype": "sha256",
         "checksum": "abcd"}]


@pytest.mark.parametrize("text, why", [
    ("[general]\nfamily = F\nversion = 1\narch = x\n[images-x]\nk = ../../etc/passwd\n",
     "unsafe path"),
    ("[general]\nfamily = F\nversion = 1\n", "arch"),
    ("[general]\nfamily = F\nversion = 1\narch = x\n[checksums]\na = md4:00\n", "checksum"),
    ("not an ini file", "not a valid ini"),
])
def test_bad_treeinfo(text, why):
    with pytest.raises(TreeinfoError, match=why):
        read_treeinfo(text)


def test_deltas_round_trip(tmp_path):
    unit = {"epoch": "0", "version": "2", "release": "1", "filename": "a.drpm",
            "checksumtype": "sha256", "checksum": "ab", "new_package": "a & b",
            "arch": "noarch", "oldepoch": "0", "oldversion": "1", "oldrelease": "1",
            "sequence": "seq", "size": 7, "relativepath": "drpms/a.drpm"}
    out = io.BytesIO()
    writer = DeltaWriter(out)
    writer.add(unit, "drpms/a.drpm")
    writer.add({**unit, "oldversion": "0.9", "checksum": "cd"}, "drpms/a.drpm")
    writer.close()
    path = tmp_path / "prestodelta.xml"
    path.write_bytes(out.getvalue())
    read = list(read_deltas(str(path)))
    assert read[0] == unit  # escaped and read back as written
    assert [d["oldversion"] for d in read] == ["1", "0.9"]


def test_delta_without_checksum_is_refused(tmp_path):
    path = tmp_path / "prestodelta.xml"
    path.write_text('<prestodelta><newpackage name="a" epoch="0" version="1" release="1" '
                    'arch="x"><delta><filename>a.drpm</filename></delta></newpackage>'
                    '</prestodelta>')
    with pytest.raises(DeltaParseError, match="no filename or checksum"):
        list(read_deltas(str(path)))
    path.write_text("<prestodelta><newpackage>")
    with pytest.raises(DeltaParseError, match="not valid XML"):
        list(read_deltas(str(path)))


def test_modules_skip_other_documents_and_round_trip(tmp_path):
    path = tmp_path / "modules.yaml"
    path.write_text(
        "---\ndocument: modulemd-translations\nversion: 1\ndata: {module: m}\n"
        "---\ndocument: modulemd\nversion: 2\ndata:\n  name: m\n  stream: 1.10\n"
        "  version: 3\n  context: 0123\n  arch: x86_64\n"
        "---\ndocument: modulemd-defaults\nversion: 1\ndata:\n  module: m\n"
        "  profiles: {'1.10': [a, b]}\n...\n")
    parsed = list(read_modules(path, "repo"))
    assert [t for t, _, _ in parsed] == ["modulemd", "modulemd_defaults"]
    module, defaults = parsed[0][1], parsed[1][1]
    # scalars read as libmodulemd reads them: an unquoted 1.10 is the stream "1.10"
    assert (module["stream"], module["context"], module["version"]) == ("1.10", "0123", 3)
    assert defaults["stream"] is None and defaults["profiles"] == '{"1.10": ["a", "b"]}'
    again = tmp_path / "again.yaml"
    with open(again, "w") as out:
        assert write_modules(out, (text for _, _, text in parsed)) == 2
    assert [u for _, u, _ in read_modules(again, "repo")] == [module, defaults]


@pytest.mark.parametrize("text", ["---\ndocument: modulemd\ndata: [\n",
                                  "---\ndocument: modulemd\ndata: {stream: a}\n",
                                  "---\ndocument: modulemd\ndata: {name: a, stream: b, "
                                  "version: x}\n"])
def test_bad_modules(tmp_path, text):
    path = tmp_path / "modules.yaml"
    path.write_text(text)
    with pytest.raises(ModulesParseError):
        list(read_modules(path, "repo"))
