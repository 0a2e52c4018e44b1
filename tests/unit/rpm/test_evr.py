"""importers/rpm/evr.py orders versions exactly as rpm does: known cases, then rpm's own
``rpm.vercmp`` (through ``rpm --eval``'s Lua) as the oracle for many generated pairs."""

import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulp2ng.importers.rpm.evr import compare_evr, evr_key, rpmvercmp

KNOWN = [
    ("1.0", "1.0", 0), ("1.0", "2.0", -1), ("2.0.1", "2.0", 1), ("1.10", "1.9", 1),
    ("1.001", "1.1", 0), ("1.0a", "1.0", 1), ("1.0a", "1.0.1", -1), ("a", "1", -1),
    ("5.5p1", "5.5p10", -1), ("1.0~rc1", "1.0", -1), ("1.0~rc1", "1.0~rc2", -1),
    ("1.0~~", "1.0~", -1), ("1.0^", "1.0", 1), ("1.0^git1", "1.0.1", -1),
    ("1.0^git1", "1.0~rc1", 1), ("1_0", "1.0", 0), ("1..0", "1.0", 0), ("abc", "abd", -1),
    ("1.0+", "1.0", 0),
]


@pytest.mark.parametrize("a,b,expected", KNOWN)
def test_known_orderings(a, b, expected):
    assert rpmvercmp(a, b) == expected
    assert rpmvercmp(b, a) == -expected


def test_evr_epoch_wins_then_version_then_release():
    assert compare_evr(("1", "1.0", "1"), ("0", "9.0", "9")) == 1
    assert compare_evr((None, "1.0", "1"), ("0", "1.0", "1")) == 0
    assert compare_evr(("0", "1.0", "2"), ("", "1.0", "10")) == -1
    assert sorted([("0", "1.1", "1"), ("0", "1.0", "1"), ("1", "0.1", "1")], key=evr_key) == [
        ("0", "1.0", "1"), ("0", "1.1", "1"), ("1", "0.1", "1")]


def _rpm_vercmp(pairs) -> list[int]:
    """rpm's own answers for ``pairs``, one ``rpm --eval`` for all of them."""
    lua = "".join(f"print(rpm.vercmp('{a}','{b}'))print(' ')" for a, b in pairs)
    out = subprocess.run(["rpm", "--eval", f"%{{lua:{lua}}}"], capture_output=True, text=True,
                         check=True).stdout
    return [int(v) for v in out.split()]


# rpm.vercmp parses its arguments as EVRs: no "-" or ":" and nothing empty in the oracle's input.
VERSION = st.text(alphabet="0123456789ab.~^_+", min_size=1, max_size=8)


@pytest.mark.skipif(shutil.which("rpm") is None, reason="rpm is not installed")
@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(VERSION, VERSION), min_size=1, max_size=40))
def test_agrees_with_rpm(pairs):
    assert [rpmvercmp(a, b) for a, b in pairs] == _rpm_vercmp(pairs)
