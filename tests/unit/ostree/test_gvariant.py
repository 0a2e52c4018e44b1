"""GVariant codec: spec examples, round-trip properties and real objects from the ostree CLI."""
from __future__ import annotations

import glob
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pulp2ng.importers.ostree import gvariant
from pulp2ng.importers.ostree.errors import OSTreeFormatError
from pulp2ng.importers.ostree.gvariant import GVariantError, Variant, decode, encode

SPEC_EXAMPLES = [  # (type, value, bytes) from the GVariant serialisation spec
    ("s", "hello world", b"hello world\0"),
    ("ms", "hello world", b"hello world\0\0"),
    ("ab", [True, False], b"\1\0"),
    ("(si)", ("foo", -1), b"foo\0\xff\xff\xff\xff\x04"),
    ("as", ["i", "can", "has", "strings?"], b"i\0can\0has\0strings?\0\x02\x06\x0a\x13"),
    ("a{si}", {"a key": 514}, b"a key\0\0\0\x02\x02\0\0\x06\x0d"),
    ("()", (), b"\0"),
    ("(yi)", (1, 2), b"\x01\0\0\0\x02\0\0\0"),
    ("mi", None, b""),
    ("v", Variant("q", 258), b"\x02\x01\0q"),
    ("ay", b"\0\1", b"\0\1"),
]


@pytest.mark.parametrize("sig,value,data", SPEC_EXAMPLES)
def test_spec_examples(sig, value, data):
    assert encode(sig, value) == data
    assert decode(sig, data) == value


def test_integer_byteorder_and_byteswap():
    data = encode("(tu)", (1577836800, 7), "big")
    assert data[:8] == (1577836800).to_bytes(8, "big")
    assert decode("(tu)", data, "big") == (1577836800, 7)
    raw = decode("t", data[:8])  # decoded with the wrong (native) order
    assert gvariant.byteswap_int(raw, "t") == 1577836800


@pytest.mark.parametrize("count,width", [(10, 1), (100, 2), (20000, 4)])
def test_framing_offset_widths(count, width):
    value = [f"item-{i}" for i in range(count)]
    data = encode("as", value)
    last = int.from_bytes(data[-width:], "little")
    assert (len(data) - last) == count * width
    assert decode("as", data) == value


@pytest.mark.parametrize("sig,data", [
    ("s", b"no-nul"), ("(si)", b"foo\0\xff"), ("as", b"a\0\x09"), ("ai", b"\0\0\0"),
    ("b", b"\x02"), ("v", b"\0"), ("v", b"\0zz"), ("(uu)", b""), ("s", b"\xff\0"),
])
def test_malformed_data_raises_format_error(sig, data):
    with pytest.raises(GVariantError) as info:
        decode(sig, data)
    assert isinstance(info.value, OSTreeFormatError)


@pytest.mark.parametrize("sig", ["", "a", "(s", "{sv}x", "{vs}", "z", "a" * 300 + "y"])
def test_bad_type_strings(sig):
    with pytest.raises(GVariantError):
        gvariant.parse_type(sig)


def test_deeply_nested_variants_are_rejected():
    data = b"\0\0y"
    for _ in range(100):
        data = data + b"\0v"
    with pytest.raises(GVariantError):
        decode("v", data)


# ------------------------------------------------------------------------ property tests

BASIC = "bynqiuxthdsog"
_INT_RANGES = {"y": (0, 255), "n": (-2**15, 2**15 - 1), "q": (0, 2**16 - 1),
               "i": (-2**31, 2**31 - 1), "u": (0, 2**32 - 1), "h": (-2**31, 2**31 - 1),
               "x": (-2**63, 2**63 - 1), "t": (0, 2**64 - 1)}
TEXT = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)),
               max_size=12)


def types(depth: int = 3):
    """Random type strings (no nested maybes, whose Nothing/Just-Nothing both map to None)."""
    basic = st.sampled_from(list(BASIC) + ["v"])
    if depth == 0:
        return basic
    inner = types(depth - 1)
    return st.one_of(
        basic,
        inner.map(lambda t: "a" + t),
        inner.filter(lambda t: not t.startswith("m")).map(lambda t: "m" + t),
        st.lists(inner, max_size=4).map(lambda ts: "(" + "".join(ts) + ")"),
        st.tuples(st.sampled_from(BASIC), inner).map(lambda kv: "a{" + kv[0] + kv[1] + "}"),
    )


def values(t: gvariant.GType, depth: int = 2):
    """A strategy for Python values of a parsed type."""
    code = t.code
    if code in _INT_RANGES:
        return st.integers(*_INT_RANGES[code])
    if code == "b":
        return st.booleans()
    if code == "d":
        return st.floats(allow_nan=False)
    if code in "sog":
        return TEXT
    if code == "v":
        inner = types(1 if depth > 0 else 0)
        return inner.flatmap(lambda sig: values(gvariant.parse_type(sig), depth - 1)
                             .map(lambda v: Variant(sig, v)))
    if code == "m":
        return st.none() | values(t.children[0], depth)
    if code == "a":
        child = t.children[0]
        if child.signature == "y":
            return st.binary(max_size=40)
        if child.code == "{":
            key, val = child.children
            return st.dictionaries(values(key, depth), values(val, depth), max_size=4)
        return st.lists(values(child, depth), max_size=4)
    return st.tuples(*[values(c, depth) for c in t.children])


@st.composite
def typed_values(draw):
    sig = draw(types())
    return sig, draw(values(gvariant.parse_type(sig)))


def _same(a, b) -> bool:
    """Equality that treats 0.0 and -0.0 alike but keeps float identity otherwise."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


@settings(max_examples=400, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(typed_values(), st.sampled_from(["little", "big"]))
def test_round_trip(typed, order):
    sig, value = typed
    data = encode(sig, value, order)
    decoded = decode(sig, data, order)
    assert _same(decoded, value)
    assert encode(sig, decoded, order) == data  # normal form is unique


@settings(max_examples=300, deadline=None, database=None)
@given(st.sampled_from(["(a{sv}aya(say)sstayay)", "(a(say)a(sayay))", "(uuua(ayay))",
                        "(a(s(taya{sv}))a{sv})", "(tuuuusa(ayay))", "a{sv}", "v"]),
       st.binary(max_size=200))
def test_fuzz_decode_only_raises_format_errors(sig, data):
    try:
        decode(sig, data)
    except GVariantError:
        pass


# ------------------------------------------------------------------------- real objects

OSTREE_SIGS = {"commit": "(a{sv}aya(say)sstayay)", "dirtree": "(a(say)a(sayay))",
               "dirmeta": "(uuua(ayay))"}


def test_real_objects_decode_and_reencode_byte_exact(base_upstream):
    repo, heads = base_upstream
    seen = set()
    for path in glob.glob(str(repo / "objects" / "*" / "*")):
        ext = path.rsplit(".", 1)[1]
        data = open(path, "rb").read()
        if ext in OSTREE_SIGS:
            value = decode(OSTREE_SIGS[ext], data, "big")
            assert encode(OSTREE_SIGS[ext], value, "big") == data
        elif ext == "filez":
            size = int.from_bytes(data[:4], "big")
            header = data[8:8 + size]
            value = decode("(tuuuusa(ayay))", header, "big")
            assert encode("(tuuuusa(ayay))", value, "big") == header
        seen.add(ext)
    assert seen == {"commit", "dirtree", "dirmeta", "filez"}
    summary = (repo / "summary").read_bytes()
    refs, meta = decode("(a(s(taya{sv}))a{sv})", summary)
    assert encode("(a(s(taya{sv}))a{sv})", (refs, meta)) == summary
    assert {name: csum.hex() for name, (_, csum, _) in refs} == heads
    assert meta["ostree.summary.mode"] == Variant("s", "archive-z2")
