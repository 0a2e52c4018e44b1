"""rpm's version ordering (retain_old_count) and the mirrorlist / metalink readers."""

import pytest

from pulp2ng.importers.rpm.feeds import _metalink, _mirrorlist
from pulp2ng.importers.rpm.evr import compare_evr as evr_compare
from pulp2ng.importers.rpm.evr import rpmvercmp
from pulp2ng.importers.rpm.retention import _Newest


@pytest.mark.parametrize("a, b, expected", [
    ("1.0", "1.0", 0), ("1.10", "1.2", 1), ("1.0", "1.0.1", -1), ("2.0", "10", -1),
    ("1.0a", "1.0", 1), ("1a", "1.0", -1),          # a numeric segment beats a letter one
    ("1.0~rc1", "1.0", -1), ("1.0~rc1", "1.0~rc2", -1), ("1.0^git1", "1.0", 1),
    ("1.0^git1", "1.0.1", -1), ("001", "1", 0), ("1_0", "1.0", 0), ("abc", "abd", -1),
])
def test_rpmvercmp(a, b, expected):
    assert rpmvercmp(a, b) == expected
    assert rpmvercmp(b, a) == -expected


def test_epoch_wins_over_version():
    assert evr_compare((1, "1.0", "1"), (0, "9.0", "1")) == 1
    assert evr_compare((0, "1.0", "10"), (0, "1.0", "9")) == 1


def test_newest_keeps_n_distinct_versions_per_group():
    newest = _Newest(2)
    for version in ("1.0", "1.10", "1.2", "1.10", "0.9"):
        newest.add(("walrus", "noarch"), (0, version, "1"))
    assert sorted(v for _, v, _ in newest.groups[("walrus", "noarch")]) == ["1.10", "1.2"]
    assert not newest.kept(("walrus", "x86_64"), (0, "1.10", "1"))


def test_mirrorlist_skips_comments_and_blank_lines():
    text = "# a comment\n\nhttp://a.example/r/\n  https://b.example/r  \nnot a url\n"
    assert _mirrorlist(text) == ["http://a.example/r/", "https://b.example/r"]


def test_metalink_orders_by_preference_and_strips_repomd():
    text = """<?xml version="1.0"?><metalink xmlns="http://www.metalinker.org/"><files><file>
      <resources>
        <url protocol="https" preference="50">https://low.example/r/repodata/repomd.xml</url>
        <url protocol="rsync" preference="99">rsync://x.example/r/repodata/repomd.xml</url>
        <url protocol="https" preference="100">https://high.example/r/repodata/repomd.xml</url>
        <url protocol="https" preference="100">https://other.example/some/file.iso</url>
      </resources></file></files></metalink>"""
    assert _metalink(text) == ["https://high.example/r/", "https://low.example/r/"]
    assert _metalink("<html><body>not found</body></html>") == []
    assert _metalink("<metalink") == []
