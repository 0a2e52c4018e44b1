"""The RPM signature reader (importers/rpm/signatures.py) and the signature policy.

Real packages are built and signed with rpmbuild/rpmsign and throw-away keys; hand-made
headers and OpenPGP packets cover the tags and packet forms rpmsign here does not write, and
every kind of corruption must end in SignatureError, never another exception."""

import shutil
import struct
import tempfile
from pathlib import Path

import pytest

from pulp2ng.importers.rpm.signatures import (
    Policy,
    Screen,
    SignatureError,
    issuer_key_id,
    signing_key,
    validate_config,
)
from pulp2ng.plugin.config import CallConfig

TOOLS = ("rpmbuild", "rpmsign", "gpg")


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    from tests.fixtures.make_rpm_repo import build_rpms
    from tests.fixtures.rpm_signing import make_key, sign

    root = tmp_path_factory.mktemp("sigs")
    one, two = make_key(root / "k1", "Sig Unit One"), make_key(root / "k2", "Sig Unit Two")
    out = root / "out"
    out.mkdir()
    built = build_rpms(out, [("sigunit", "1.0", "", True)], Path(tempfile.mkdtemp()))
    unsigned = next(p for p in built if p.name.endswith(".noarch.rpm"))
    made = {"unsigned": unsigned, "keys": (one, two)}
    for label, key, v3, source in (("one", one, False, unsigned), ("two", two, False, unsigned),
                                   ("v3", one, True, unsigned),
                                   ("srpm", two, False, out / "sigunit-1.0-1.src.rpm")):
        path = root / f"{label}.rpm"
        path.write_bytes(source.read_bytes())
        sign([path], key, v3=v3)
        made[label] = path
    return made


def test_real_packages(packages):
    one, two = packages["keys"]
    assert signing_key(packages["unsigned"]) is None
    assert signing_key(packages["one"]) == one.short_id
    assert signing_key(packages["two"]) == two.short_id != one.short_id
    assert signing_key(packages["v3"]) == one.short_id
    assert signing_key(packages["srpm"]) == two.short_id
    assert len(one.short_id) == 8 and one.short_id == one.short_id.lower()


@pytest.mark.parametrize("damage", ["empty", "not rpm", "lead only", "truncated index",
                                    "huge index", "blob outside data", "garbage blob"])
def test_corrupt_files_raise_signature_error(packages, tmp_path, damage):
    data = bytearray(packages["one"].read_bytes())
    if damage == "empty":
        data = b""
    elif damage == "not rpm":
        data = b"PK\x03\x04" + bytes(200)
    elif damage == "lead only":
        data = data[:96]
    elif damage == "truncated index":
        data = data[:96 + 16 + 10]
    elif damage == "huge index":
        data[96 + 8:96 + 12] = struct.pack(">I", 0x7FFFFFFF)
    else:
        count = struct.unpack(">I", data[104:108])[0]
        for i in range(count):
            entry = 96 + 16 + 16 * i
            tag, _, offset, length = struct.unpack(">IIII", data[entry:entry + 16])
            if tag == 268:
                if damage == "blob outside data":
                    data[entry + 8:entry + 12] = struct.pack(">I", 1 << 20)
                else:
                    blob_at = 96 + 16 + 16 * count + offset
                    data[blob_at:blob_at + length] = bytes([0x88]) + bytes(length - 1)
    path = tmp_path / "bad.rpm"
    path.write_bytes(bytes(data))
    with pytest.raises(SignatureError):
        signing_key(path)


def _header(entries: dict[int, bytes]) -> bytes:
    index, store = b"", b""
    for tag, blob in entries.items():
        index += struct.pack(">IIII", tag, 7, len(store), len(blob))
        store += blob
    return (b"\x8e\xad\xe8\x01" + bytes(4) + struct.pack(">II", len(entries), len(store))
            + index + store)


def _rpm(signature: dict, main: dict) -> bytes:
    sig = _header(signature)
    return (b"\xed\xab\xee\xdb" + bytes(92) + sig + bytes(-len(sig) % 8) + _header(main))


def _v3_packet(key_id: bytes) -> bytes:
    body = bytes([3, 5, 0]) + bytes(4) + key_id + bytes([1, 8]) + bytes(2) + bytes(4)
    return bytes([0x80 | (2 << 2) | 0, len(body)]) + body  # old format, 1-byte length


def _v4_packet(hashed: bytes, unhashed: bytes, new_format=True) -> bytes:
    body = (bytes([4, 0, 1, 8]) + struct.pack(">H", len(hashed)) + hashed
            + struct.pack(">H", len(unhashed)) + unhashed + bytes(2) + bytes(4))
    if new_format:
        return bytes([0xC2, len(body)]) + body
    return bytes([0x80 | (2 << 2) | 1]) + struct.pack(">H", len(body)) + body


def test_main_header_tags_and_packet_forms(tmp_path):
    key = bytes.fromhex("0123456789abcdef")
    path = tmp_path / "x.rpm"
    # no signature in the signature header (only a digest): the main header's SIGPGP counts
    path.write_bytes(_rpm({1004: b"\x00" * 16}, {259: _v3_packet(key)}))
    assert signing_key(path) == "89abcdef"
    path.write_bytes(_rpm({}, {}))
    assert signing_key(path) is None
    issuer = bytes([9, 16]) + key
    assert issuer_key_id(_v4_packet(b"", issuer)) == key.hex()
    assert issuer_key_id(_v4_packet(issuer, b"", new_format=False)) == key.hex()
    fingerprint = bytes([22, 33, 4]) + bytes(12) + key
    assert issuer_key_id(_v4_packet(fingerprint, b"")) == key.hex()


@pytest.mark.parametrize("packet", [
    b"", b"\x00", bytes([0xC2, 50]) + bytes(5), bytes([0xC6, 3, 1, 2, 3]),
    _v4_packet(b"", b""), bytes([0xC2, 2, 9, 9]), _v4_packet(bytes([40, 16]), b""),
])
def test_bad_packets_raise_signature_error(packet):
    with pytest.raises(SignatureError):
        issuer_key_id(packet)


def test_policy_and_config_validation():
    def config(**values):
        return CallConfig(values)

    assert validate_config(config(allowed_keys=["FA17BC83", "00000000"])) is None
    for bad in ("fa17bc83", ["xyz"], ["fa17bc8"], [1], ["0123456789abcdef"]):
        assert "allowed_keys" in validate_config(config(allowed_keys=bad))
    assert validate_config(config(require_signature="maybe"))
    policy = Policy(config(require_signature=True, allowed_keys=["FA17BC83"]))
    assert policy.refusal(None) and policy.refusal("00000000")
    assert policy.refusal("fa17bc83") is None
    lax = Policy(config())
    assert not lax.active and lax.refusal(None) is None and lax.refusal("00000000") is None
    only_keys = Policy(config(allowed_keys=["fa17bc83"]))
    assert only_keys.refusal(None) is None and only_keys.refusal("00000001")
    screen = Screen(config(require_signature=True))
    stored = {"signing_key": None, "filename": "a.rpm"}
    assert screen.check_stored(stored, dict(stored), None)["error_code"] == "RPM1013"
    assert screen.refused_count == 1
