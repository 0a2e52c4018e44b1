"""What a delta RPM says about itself: the new package, the old one, and who signed the new one.

Why a reader of our own: createrepo_c's Python bindings have no delta RPM reader (its C
library's is not exposed), and the ``deltarpm`` tools print no arch and no signature
(``applydeltarpm -i``), and would have to be on every server host. A *standard* delta RPM
(what ``makedeltarpm`` and ``createrepo_c --deltas`` write) starts with a lead, a signature
header and the new package's main header, so createrepo_c's ``package_from_rpm`` reads the
new package from it; the rest of the file is one compressed stream starting with the delta
header, of which this module reads only the first fields (deltarpm's format, version 3):

    "DLT3"  nevr length, old package's NEVR  seq length, seq  target md5 (16)
    target size  target compression  param length, param  target header length, header
    offset adjustments (count, 2 words each)  lead length, new package's lead + signature header

The new package's signature header is where its signature is (the delta's own signature
header only has a digest of the delta): its key id is read from there with signatures.py.
Only the head of the stream is decompressed (bounded), with the standard library's gzip,
bzip2 and xz/lzma decompressors; zstd-compressed deltas are reported as unsupported.
"rpm-only" deltas (``makedeltarpm -r``: no lead, no headers) are refused: nothing in them
names the new package's arch.
"""

from __future__ import annotations

import bz2
import io
import lzma
import struct
import zlib

from pulp2ng.importers.rpm import signatures

#: Enough for the delta header up to the new package's signature header (rpm bounds those).
MAX_HEAD = 4 * 1024 * 1024
_READ = 64 * 1024


class DeltaError(ValueError):
    """The file is not a standard delta RPM, or its delta header cannot be read."""


def read_delta(path) -> dict:
    """``{old_nevr, sequence, signing_key}`` of the standard delta RPM at ``path``:
    ``old_nevr`` as deltarpm writes it (``name-[epoch:]version-release``), ``sequence`` as
    prestodelta.xml lists it (old NEVR, ``-``, the sequence's hex digits), ``signing_key``
    the new package's short key id or None."""
    with open(path, "rb") as f:
        head = f.read(4)
        if head == b"drpm":
            raise DeltaError("an rpm-only delta RPM (makedeltarpm -r) is not supported")
        try:
            _, _, _, size = signatures._read_index(f, signatures.LEAD_SIZE, "signature header")
            main = signatures.LEAD_SIZE + (size + 7) // 8 * 8
            _, _, _, main_size = signatures._read_index(f, main, "main header")
        except signatures.SignatureError as exc:
            raise DeltaError(f"not a delta RPM: {exc}") from None
        if head != signatures.LEAD_MAGIC:
            raise DeltaError("not a delta RPM (no RPM lead)")
        f.seek(main + main_size)
        data = _head_of_stream(f)
    return _parse(data)


def _head_of_stream(f) -> bytes:
    """Decompress the first bytes of the delta stream (at most MAX_HEAD)."""
    start = f.read(6)
    f.seek(-len(start), io.SEEK_CUR)
    if start[:2] == b"\x1f\x8b":
        dec = zlib.decompressobj(wbits=47)  # gzip (or zlib) header
    elif start[:3] == b"BZh":
        dec = bz2.BZ2Decompressor()
    elif start[:6] == b"\xfd7zXZ\x00":
        dec = lzma.LZMADecompressor(lzma.FORMAT_XZ)
    elif start[:1] == b"\x5d":
        dec = lzma.LZMADecompressor(lzma.FORMAT_ALONE)
    elif start[:4] == b"\x28\xb5\x2f\xfd":
        raise DeltaError("zstd-compressed delta RPMs are not supported")
    else:
        raise DeltaError("the delta stream's compression is not recognised")
    out = bytearray()
    gzip = isinstance(dec, type(zlib.decompressobj()))
    try:
        while len(out) < MAX_HEAD and not getattr(dec, "eof", False):
            if gzip:
                chunk = dec.unconsumed_tail or f.read(_READ)
            else:  # bz2/lzma keep unread input themselves: more only when they need it
                chunk = f.read(_READ) if dec.needs_input else b""
            if not chunk and (gzip or dec.needs_input):
                break
            out += dec.decompress(chunk, MAX_HEAD - len(out))  # bounded output
    except (zlib.error, OSError, lzma.LZMAError, EOFError) as exc:
        raise DeltaError(f"the delta stream cannot be decompressed: {exc}") from None
    return bytes(out)


class _Fields:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise DeltaError("the delta header is truncated or corrupt")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def word(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def blob(self) -> bytes:
        return self.take(self.word())


def _parse(data: bytes) -> dict:
    fields = _Fields(data)
    magic = fields.take(4)
    if magic[:3] != b"DLT" or magic[3:] not in (b"1", b"2", b"3"):
        raise DeltaError("no deltarpm header (DLT1-3) in the delta stream")
    version = int(magic[3:])
    old_nevr = fields.blob().rstrip(b"\x00").decode("utf-8", "replace")
    seq = fields.blob()
    fields.take(16)  # the new package's md5
    if version >= 2:
        fields.word()  # target size
        fields.word()  # target compression
    if version >= 3:
        fields.blob()  # compression parameters
        fields.blob()  # target header (rpm-only deltas only; empty here)
    fields.take(8 * fields.word())  # offset adjustments
    lead = fields.blob()
    if len(lead) < signatures.LEAD_SIZE or lead[:4] != signatures.LEAD_MAGIC:
        raise DeltaError("the delta header holds no lead of the new package")
    try:
        key = _signature_key(io.BytesIO(lead))
    except signatures.SignatureError as exc:
        raise DeltaError(f"the new package's signature header: {exc}") from None
    return {"old_nevr": old_nevr, "sequence": f"{old_nevr}-{seq.hex()}",
            "signing_key": key}


def _signature_key(f) -> str | None:
    """The key id in the signature header that follows the lead in ``f``."""
    index, data_start, data_size, _ = signatures._read_index(
        f, signatures.LEAD_SIZE, "signature header")
    blob = signatures._find_blob(f, index, data_start, data_size,
                                 signatures.SIGNATURE_HEADER_TAGS)
    return None if blob is None else signatures.issuer_key_id(blob)[-8:]


def split_nevr(nevr: str) -> tuple[str, str, str, str]:
    """``name-[epoch:]version-release`` → ``(name, epoch, version, release)``."""
    parts = nevr.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        raise DeltaError(f"the delta names its old package {nevr!r}, not name-version-release")
    name, version, release = parts
    epoch, colon, bare = version.partition(":")
    return (name, epoch, bare, release) if colon else (name, "0", version, release)
