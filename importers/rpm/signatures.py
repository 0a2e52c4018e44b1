"""Who signed an RPM: the short key id from its header signature, and the signature policy.

Why a reader of our own: the ``rpm`` Python module is not on PyPI and createrepo_c does not
expose signatures, and running ``rpm -qp`` would make every server host need the ``rpm``
tool. So this reads only what it needs, with the file's own sizes checked against bounds: the
96-byte lead, then the signature header's index (and, when that has no signature, the main
header's), then the one signature blob, an OpenPGP signature packet whose issuer key id it
returns. Nothing here verifies a signature cryptographically: that is the client's job
(``dnf`` with ``gpgcheck=1``); the policy only decides which keys a repository accepts, as
pulp_rpm 2.x did with ``require_signature`` and ``allowed_keys``.

Signature tags looked at, in order: the signature header's RSA and DSA header signatures
(268, 267) and its legacy header+payload ones (PGP 1002, GPG 1005); then the main header's
RSAHEADER/DSAHEADER (268, 267) and SIGPGP/SIGGPG (259, 262), where ``rpm`` itself copies them.
"""

from __future__ import annotations

import re
import struct

from pulp2ng.importers.rpm.types import DRPM, RPM, SRPM, UNIT_TYPES

LEAD_SIZE = 96
LEAD_MAGIC = b"\xed\xab\xee\xdb"
HEADER_MAGIC = b"\x8e\xad\xe8\x01"
BIN_TYPE = 7
SIGNATURE_HEADER_TAGS = (268, 267, 1002, 1005)
MAIN_HEADER_TAGS = (268, 267, 259, 262)
# rpm's own sanity bounds on a header (rpmlib's hdrchkTags / hdrchkData).
MAX_TAGS = 0x10000
MAX_DATA = 256 * 1024 * 1024
MAX_SIGNATURE = 64 * 1024

KEY_ID = re.compile(r"^[0-9a-fA-F]{8}$")


class SignatureError(ValueError):
    """The file is not an RPM, or its header or signature cannot be read."""


def signing_key(path) -> str | None:
    """The short (8 hex digits, lowercase) id of the key that signed the RPM at ``path``, or
    None when it is unsigned. Raises :class:`SignatureError` for anything unreadable."""
    with open(path, "rb") as f:
        lead = f.read(LEAD_SIZE)
        if len(lead) < LEAD_SIZE or lead[:4] != LEAD_MAGIC:
            raise SignatureError("not an RPM file (no RPM lead)")
        index, data_start, data_size, size = _read_index(f, LEAD_SIZE, "signature header")
        blob = _find_blob(f, index, data_start, data_size, SIGNATURE_HEADER_TAGS)
        if blob is None:
            main = LEAD_SIZE + (size + 7) // 8 * 8  # the signature header is 8-byte aligned
            index, data_start, data_size, _ = _read_index(f, main, "main header")
            blob = _find_blob(f, index, data_start, data_size, MAIN_HEADER_TAGS)
    return None if blob is None else issuer_key_id(blob)[-8:]


def _read_index(f, offset: int, what: str) -> tuple[dict, int, int, int]:
    """``({tag: (type, offset, count)}, data start, data size, whole header size)`` of the
    header at ``offset``."""
    f.seek(offset)
    intro = f.read(16)
    if len(intro) < 16 or intro[:4] != HEADER_MAGIC:
        raise SignatureError(f"corrupt RPM: no {what} at offset {offset}")
    count, data_size = struct.unpack(">II", intro[8:16])
    if count > MAX_TAGS or data_size > MAX_DATA:
        raise SignatureError(f"corrupt RPM: {what} claims {count} tags, {data_size} bytes")
    raw = f.read(16 * count)
    if len(raw) < 16 * count:
        raise SignatureError(f"corrupt RPM: {what} is truncated")
    index = {}
    for i in range(count):
        tag, kind, at, n = struct.unpack_from(">IIII", raw, 16 * i)
        index.setdefault(tag, (kind, at, n))
    data_start = offset + 16 + 16 * count
    return index, data_start, data_size, 16 + 16 * count + data_size


def _find_blob(f, index: dict, data_start: int, data_size: int, tags) -> bytes | None:
    """The first signature blob among ``tags``, read from the header's data store."""
    for tag in tags:
        if tag not in index:
            continue
        kind, at, n = index[tag]
        if kind != BIN_TYPE or not 0 < n <= MAX_SIGNATURE or at + n > data_size:
            raise SignatureError(f"corrupt RPM: signature tag {tag} has type {kind}, "
                                 f"length {n}")
        f.seek(data_start + at)
        blob = f.read(n)
        if len(blob) < n:
            raise SignatureError(f"corrupt RPM: signature tag {tag} is truncated")
        return blob
    return None


def issuer_key_id(packet: bytes) -> str:
    """The 16-hex-digit issuer key id of an OpenPGP signature packet (RFC 4880 §5.2; v3,
    v4, and v5/v6 through their issuer fingerprint)."""
    body = _packet_body(packet)
    version = body[0] if body else None
    if version in (2, 3):
        if len(body) < 15 or body[1] != 5:
            raise SignatureError("corrupt OpenPGP v3 signature")
        return body[7:15].hex()
    if version in (4, 5, 6):
        width = 4 if version == 6 else 2  # subpacket area lengths
        pos, found = 4, None
        for _ in ("hashed", "unhashed"):
            if pos + width > len(body):
                raise SignatureError("corrupt OpenPGP signature: truncated subpackets")
            length = int.from_bytes(body[pos:pos + width], "big")
            pos += width
            area = body[pos:pos + length]
            if len(area) < length:
                raise SignatureError("corrupt OpenPGP signature: truncated subpackets")
            found = found or _issuer_in(area, version)
            pos += length
        if found is None:
            raise SignatureError("OpenPGP signature names no issuer")
        return found
    raise SignatureError(f"unsupported OpenPGP signature version {version}")


def _packet_body(packet: bytes) -> bytes:
    """The body of the signature packet (tag 2) at the start of ``packet``."""
    if not packet or not packet[0] & 0x80:
        raise SignatureError("corrupt OpenPGP packet")
    first = packet[0]
    if first & 0x40:  # new format
        tag, pos = first & 0x3F, 1
        if len(packet) < 2:
            raise SignatureError("corrupt OpenPGP packet")
        octet = packet[1]
        if octet < 192:
            length, pos = octet, 2
        elif octet < 224:
            if len(packet) < 3:
                raise SignatureError("corrupt OpenPGP packet")
            length, pos = ((octet - 192) << 8) + packet[2] + 192, 3
        elif octet == 255:
            length, pos = int.from_bytes(packet[2:6], "big"), 6
        else:
            raise SignatureError("OpenPGP signature with partial body lengths")
    else:  # old format
        tag, kind = (first >> 2) & 0x0F, first & 0x03
        if kind == 3:
            length, pos = len(packet) - 1, 1
        else:
            width = 1 << kind
            length, pos = int.from_bytes(packet[1:1 + width], "big"), 1 + width
    if tag != 2:
        raise SignatureError(f"OpenPGP packet of tag {tag}, not a signature")
    body = packet[pos:pos + length]
    if len(body) < length or not body:
        raise SignatureError("corrupt OpenPGP packet: truncated")
    return body


def _issuer_in(area: bytes, version: int) -> str | None:
    """The key id in a subpacket area: Issuer (16), else Issuer Fingerprint (33)."""
    pos, issuer, fingerprint = 0, None, None
    while pos < len(area):
        octet = area[pos]
        if octet < 192:
            length, pos = octet, pos + 1
        elif octet < 255:
            if pos + 1 >= len(area):
                raise SignatureError("corrupt OpenPGP subpacket")
            length, pos = ((octet - 192) << 8) + area[pos + 1] + 192, pos + 2
        else:
            length, pos = int.from_bytes(area[pos + 1:pos + 5], "big"), pos + 5
        sub = area[pos:pos + length]
        if length == 0 or len(sub) < length:
            raise SignatureError("corrupt OpenPGP subpacket")
        kind = sub[0] & 0x7F
        if kind == 16 and len(sub) == 9:
            issuer = sub[1:9].hex()
        elif kind == 33 and len(sub) >= 22:
            fpr = sub[2:]
            # a v4 key id is the fingerprint's last 8 bytes, a v5/v6 key id its first 8
            fingerprint = (fpr[-8:] if sub[1] == 4 else fpr[:8]).hex()
        pos += length
    return issuer or fingerprint


# -- policy ------------------------------------------------------------------------------------


def validate_config(config) -> str | None:
    """Why ``require_signature`` / ``allowed_keys`` are invalid, or None."""
    try:
        config.get_boolean("require_signature")
    except (TypeError, ValueError) as exc:
        return str(exc)
    keys = config.get("allowed_keys")
    if keys is None:
        return None
    if not isinstance(keys, list) or not all(isinstance(k, str) and KEY_ID.match(k)
                                             for k in keys):
        return "allowed_keys must be a list of 8-hex-digit short key ids (e.g. 'fa17bc83')"
    return None


class Policy:
    """The signature rules of one importer config: pulp_rpm 2.x's ``require_signature``
    (unsigned packages are refused) and ``allowed_keys`` (packages signed by other keys are
    refused; an empty list allows every key)."""

    def __init__(self, config):
        self.require = bool(config.get_boolean("require_signature", False))
        self.allowed = {k.lower() for k in config.get("allowed_keys") or ()}

    @property
    def active(self) -> bool:
        return self.require or bool(self.allowed)

    def refusal(self, key: str | None) -> str | None:
        """Why a package signed by ``key`` (None: unsigned) is refused, or None."""
        if key is None:
            return "the package is not signed" if self.require else None
        if self.allowed and key not in self.allowed:
            return (f"the package is signed by key {key}, which is not in allowed_keys "
                    f"({', '.join(sorted(self.allowed))})")
        return None


#: pulp_rpm 2.x's error codes for a refused package.
UNSIGNED_CODE = "RPM1013"
OTHER_KEY_CODE = "RPM1014"


class Screen:
    """Applies a :class:`Policy` to the packages of one sync or copy.

    The key always comes from a package's own header: from the downloaded file during a
    sync, or recorded in the stored unit (read from its header when it was stored); never
    from repository metadata, which anyone serving the feed can write. ``refused`` keeps the
    first 50 refusals (``{name, error, error_code, signing_key}``), ``refused_count`` all."""

    def __init__(self, config):
        self.policy = Policy(config)
        self.refused: list[dict] = []
        self.refused_count = 0

    @property
    def active(self) -> bool:
        return self.policy.active

    def check_file(self, path, unit: dict) -> dict | None:
        """Record the file's key in ``unit["signing_key"]``; return the refusal (also
        recorded) or None. Raises :class:`SignatureError` for an unreadable header."""
        unit["signing_key"] = signing_key(path)
        return self._judge(unit)

    def check_key(self, unit: dict) -> dict | None:
        """Judge a unit whose ``signing_key`` was already read from its file (a delta RPM's,
        by drpm.py); return the refusal (also recorded) or None."""
        return self._judge(unit)

    def check_stored(self, stored: dict, unit: dict, content_path) -> dict | None:
        """As :meth:`check_file` for a stored unit: its recorded key, or the key read from
        its file (``content_path(storage path)``) when it was stored without one."""
        if not self.active:
            return None
        if "signing_key" in stored:
            unit["signing_key"] = stored["signing_key"]
            return self._judge(unit)
        try:
            return self.check_file(content_path(stored["_storage_path"]), unit)
        except (OSError, SignatureError, KeyError) as exc:
            return self._refuse(unit, f"the stored package's header cannot be read: {exc}",
                                UNSIGNED_CODE)

    def _judge(self, unit: dict) -> dict | None:
        why = self.policy.refusal(unit.get("signing_key"))
        if why is None:
            return None
        code = UNSIGNED_CODE if unit.get("signing_key") is None else OTHER_KEY_CODE
        return self._refuse(unit, why, code)

    def _refuse(self, unit: dict, why: str, code: str) -> dict:
        entry = {"name": unit.get("filename") or unit.get("name"), "error": why,
                 "error_code": code, "signing_key": unit.get("signing_key")}
        self.refused_count += 1
        if len(self.refused) < 50:
            self.refused.append(entry)
        return entry


def copy_filter(conduit, config, units: list[dict]) -> list[dict]:
    """The units of a copy the destination's signature policy lets in (all of them when it
    has none). A package's key is the one recorded in its stored unit, read from its header
    when it was stored (or from the stored file for a unit stored without one); refused
    packages are left out of the copy and out of its result."""
    screen = Screen(config)
    if not screen.active:
        return units
    keys = {t.id: t.unit_key for t in UNIT_TYPES if t.id in (RPM, SRPM, DRPM)}
    packages = [u for u in units if u["_content_type_id"] in keys]
    refused: set[str] = set()
    # SecantusDB: long $in lists are slow, so the stored units are read 500 ids at a time
    for start in range(0, len(packages), 500):
        by_type: dict[str, list[dict]] = {}
        for unit in packages[start:start + 500]:
            type_id = unit["_content_type_id"]
            by_type.setdefault(type_id, []).append({f: unit.get(f) for f in keys[type_id]})
        for type_id, wanted in by_type.items():
            stored = conduit.find_units(type_id, wanted, ["_storage_path", "signing_key",
                                                          "filename", "name"])
            for uid, doc in stored.items():
                if screen.check_stored(doc, dict(doc), conduit.storage.path):
                    refused.add(uid)
    return [u for u in units if u["_id"] not in refused]
