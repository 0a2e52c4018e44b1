"""A small GVariant serialisation codec (decoder and encoder), written from the format spec.

OSTree's metadata objects (commit, dirtree, dirmeta, file headers, summary) are serialised
GVariants. There is no maintained pure-Python binary codec, and using GLib's through ``gi`` would
need system GI inside the venv, so this module implements the normal-form serialisation itself.

Rules implemented (GVariant serialisation format, "normal form"):

* fixed-size basic types ``b y n q i u x t h d`` are stored in their natural size and alignment;
* ``s o g`` are UTF-8 plus a trailing NUL; ``v`` is the child value, a NUL, then its type string;
* ``mT`` is empty for Nothing; Just is T's bytes, plus a NUL byte when T is variable-sized;
* ``aT`` of fixed-size T is a plain concatenation; of variable-size T each element is aligned
  and its end offset is stored in a table of *framing offsets* after the elements;
* tuples ``(...)`` and dict entries ``{kv}`` align every member; the end offset of every
  variable-sized member except the last is stored at the end, in reverse order;
* framing offsets are little-endian and 0, 1, 2, 4 or 8 bytes wide, chosen by container size.

Integers: framing offsets are always little-endian, but the *values* of integers are in the
byte order of whoever wrote them. OSTree stores commit/dirmeta/file-header integers big-endian
inside otherwise native (little-endian on x86) variants, while the summary's commit size is
native and its ``ostree.commit.timestamp`` is big-endian. So :func:`decode` and :func:`encode`
take a ``byteorder`` for integer values, and :func:`byteswap_int` converts a raw value.

Python mapping: integers → ``int``, ``b`` → ``bool``, ``d`` → ``float``, ``s o g`` → ``str``,
``ay`` → ``bytes``, ``a{..}`` → ``dict``, other arrays → ``list``, tuples and bare dict entries →
``tuple``, ``m`` → ``None`` or the value, ``v`` → :class:`Variant`.
"""
from __future__ import annotations

import struct
import threading
from dataclasses import dataclass
from typing import Any, NamedTuple

from .errors import OSTreeFormatError

_FIXED_BASIC = {  # code: (size, signed)
    "b": (1, False), "y": (1, False), "n": (2, True), "q": (2, False), "i": (4, True),
    "u": (4, False), "h": (4, True), "x": (8, True), "t": (8, False), "d": (8, False),
}
_STRINGS = "sog"
MAX_SIGNATURE = 255  # longer type strings could only come from hostile input
MAX_VARIANT_DEPTH = 64  # nested "v" inside "v": GLib caps nesting too
_BASIC = set(_FIXED_BASIC) | set(_STRINGS)


class GVariantError(OSTreeFormatError):
    """Malformed type string or serialised data."""


class Variant(NamedTuple):
    """A boxed value of type ``v``: its type string and its Python value."""

    signature: str
    value: Any


@dataclass(frozen=True)
class GType:
    """A parsed type: ``code`` is the first char (``a m ( { v`` or a basic code)."""

    code: str
    children: tuple[GType, ...]
    signature: str
    alignment: int
    fixed_size: int | None


def _align(pos: int, alignment: int) -> int:
    return (pos + alignment - 1) & ~(alignment - 1)


def _container(code: str, children: tuple[GType, ...], sig: str) -> GType:
    """Compute alignment and fixed size of a tuple/dict entry from its members."""
    alignment = max((c.alignment for c in children), default=1)
    if any(c.fixed_size is None for c in children):
        return GType(code, children, sig, alignment, None)
    pos = 0
    for child in children:
        pos = _align(pos, child.alignment) + child.fixed_size
    size = _align(pos, alignment) if children else 1  # "()" is one zero byte
    return GType(code, children, sig, alignment, size)


def _parse_one(sig: str, pos: int) -> tuple[GType, int]:
    if pos >= len(sig):
        raise GVariantError(f"truncated type string {sig!r}")
    code = sig[pos]
    if code in _FIXED_BASIC:
        size = _FIXED_BASIC[code][0]
        return GType(code, (), code, size, size), pos + 1
    if code in _STRINGS:
        return GType(code, (), code, 1, None), pos + 1
    if code == "v":
        return GType("v", (), "v", 8, None), pos + 1
    if code in "am":
        child, end = _parse_one(sig, pos + 1)
        return GType(code, (child,), sig[pos:end], child.alignment, None), end
    if code in "({":
        close = ")" if code == "(" else "}"
        children, end = [], pos + 1
        while end < len(sig) and sig[end] != close:
            child, end = _parse_one(sig, end)
            children.append(child)
        if end >= len(sig):
            raise GVariantError(f"unterminated {code!r} in type string {sig!r}")
        if code == "{" and (len(children) != 2 or children[0].code not in _BASIC):
            raise GVariantError(f"dict entry needs a basic key and one value: {sig!r}")
        return _container(code, tuple(children), sig[pos:end + 1]), end + 1
    raise GVariantError(f"unsupported type code {code!r} in {sig!r}")


_TYPE_CACHE: dict[str, GType] = {}


def parse_type(signature: str) -> GType:
    """Parse a single complete GVariant type string.

    Args:
        signature: for example ``"(a{sv}aya(say)sstayay)"``.

    Returns:
        The parsed :class:`GType` (cached per signature).
    """
    cached = _TYPE_CACHE.get(signature)
    if cached is None:
        if not isinstance(signature, str) or not 0 < len(signature) <= MAX_SIGNATURE:
            raise GVariantError(f"type string must be 1-{MAX_SIGNATURE} chars: {signature!r}")
        cached, end = _parse_one(signature, 0)
        if end != len(signature):
            raise GVariantError(f"trailing characters in type string {signature!r}")
        _TYPE_CACHE[signature] = cached
    return cached


def _offset_size(total: int) -> int:
    if total == 0:
        return 0
    for size in (1, 2, 4):
        if total <= (1 << (8 * size)) - 1:
            return size
    return 8


def _read_offset(data: memoryview, pos: int, size: int) -> int:
    return int.from_bytes(data[pos:pos + size], "little")


# ---------------------------------------------------------------------------------------- decode


def decode(signature: str, data: bytes | bytearray | memoryview, byteorder: str = "little") -> Any:
    """Decode serialised GVariant bytes.

    Args:
        signature: the value's type string.
        data: the serialised bytes (exactly one value).
        byteorder: ``"little"`` or ``"big"``, the order of integer *values* (offsets are always
            little-endian).

    Returns:
        The Python value (see the module docstring for the mapping).

    Raises:
        GVariantError: the bytes are not a valid normal-form serialisation of ``signature``.
    """
    if byteorder not in ("little", "big"):
        raise ValueError(f"byteorder must be 'little' or 'big', not {byteorder!r}")
    return _decode(parse_type(signature), memoryview(bytes(data)), byteorder)


def _decode(t: GType, data: memoryview, order: str) -> Any:
    if t.fixed_size is not None and len(data) != t.fixed_size:
        raise GVariantError(f"{t.signature}: expected {t.fixed_size} bytes, got {len(data)}")
    if t.code in _FIXED_BASIC:
        return _decode_basic(t.code, data, order)
    if t.code in _STRINGS:
        return _decode_string(t.code, data)
    if t.code == "v":
        return _decode_variant(data, order)
    if t.code == "m":
        return _decode_maybe(t.children[0], data, order)
    if t.code == "a":
        return _decode_array(t.children[0], data, order)
    return tuple(_decode_members(t, data, order))


def _decode_basic(code: str, data: memoryview, order: str) -> Any:
    if code == "b":
        if data[0] > 1:
            raise GVariantError(f"boolean byte {data[0]} is not 0 or 1")
        return bool(data[0])
    if code == "d":
        return struct.unpack("<d" if order == "little" else ">d", data)[0]
    return int.from_bytes(data, order, signed=_FIXED_BASIC[code][1])


def _decode_string(code: str, data: memoryview) -> str:
    raw = bytes(data)
    if not raw or raw[-1] != 0 or 0 in raw[:-1]:
        raise GVariantError(f"type {code!r}: string is not NUL-terminated exactly once")
    try:
        return raw[:-1].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GVariantError(f"type {code!r}: invalid UTF-8") from exc


_NESTING = threading.local()


def _decode_variant(data: memoryview, order: str) -> Variant:
    depth = getattr(_NESTING, "depth", 0)
    if depth >= MAX_VARIANT_DEPTH:
        raise GVariantError(f"variants nested deeper than {MAX_VARIANT_DEPTH}")
    _NESTING.depth = depth + 1
    try:
        return _decode_variant_body(data, order)
    finally:
        _NESTING.depth = depth


def _decode_variant_body(data: memoryview, order: str) -> Variant:
    raw = bytes(data)
    sep = raw.rfind(b"\0")
    if sep < 0:
        raise GVariantError("variant has no type string separator")
    sig = raw[sep + 1:].decode("ascii", "replace")
    return Variant(sig, _decode(parse_type(sig), data[:sep], order))


def _decode_maybe(child: GType, data: memoryview, order: str) -> Any:
    if len(data) == 0:
        return None
    if child.fixed_size is not None:
        return _decode(child, data, order)
    if data[-1] != 0:
        raise GVariantError(f"m{child.signature}: missing trailing NUL on Just value")
    return _decode(child, data[:-1], order)


def _decode_array(child: GType, data: memoryview, order: str) -> Any:
    if child.signature == "y":
        return bytes(data)
    items = list(_array_items(child, data, order))
    if child.code == "{":
        return dict(items)
    return items


def _array_items(child: GType, data: memoryview, order: str):
    size = len(data)
    if child.fixed_size is not None:
        if size % child.fixed_size:
            raise GVariantError(f"a{child.signature}: {size} bytes is not a multiple of "
                                f"{child.fixed_size}")
        for pos in range(0, size, child.fixed_size):
            yield _decode(child, data[pos:pos + child.fixed_size], order)
        return
    if size == 0:
        return
    osz = _offset_size(size)
    table = _read_offset(data, size - osz, osz)
    if table > size or (size - table) % osz:
        raise GVariantError(f"a{child.signature}: bad framing offset table")
    start = 0
    for pos in range(table, size, osz):
        end = _read_offset(data, pos, osz)
        start = _align(start, child.alignment)
        if not start <= end <= table:
            raise GVariantError(f"a{child.signature}: element offset out of range")
        yield _decode(child, data[start:end], order)
        start = end


def _decode_members(t: GType, data: memoryview, order: str) -> list[Any]:
    size = len(data)
    osz = 0 if t.fixed_size is not None else _offset_size(size)
    values, pos, used = [], 0, 0
    last = len(t.children) - 1
    for index, child in enumerate(t.children):
        pos = _align(pos, child.alignment)
        if child.fixed_size is not None:
            end = pos + child.fixed_size
        elif index == last:
            end = size - osz * used
        else:
            used += 1
            end = _read_offset(data, size - osz * used, osz)
        if not pos <= end <= size - osz * used:
            raise GVariantError(f"{t.signature}: member {index} out of range")
        values.append(_decode(child, data[pos:end], order))
        pos = end
    return values


# ---------------------------------------------------------------------------------------- encode


def encode(signature: str, value: Any, byteorder: str = "little") -> bytes:
    """Serialise a Python value in GVariant normal form.

    Args:
        signature: the value's type string.
        value: the Python value (see the module docstring; ``v`` needs a :class:`Variant`).
        byteorder: the order integer values are written in (offsets are always little-endian).

    Returns:
        The serialised bytes.
    """
    if byteorder not in ("little", "big"):
        raise ValueError(f"byteorder must be 'little' or 'big', not {byteorder!r}")
    return _encode(parse_type(signature), value, byteorder)


def _encode(t: GType, value: Any, order: str) -> bytes:
    try:
        if t.code in _FIXED_BASIC:
            return _encode_basic(t.code, value, order)
        if t.code in _STRINGS:
            raw = value.encode("utf-8")
            if b"\0" in raw:
                raise GVariantError("strings may not contain NUL")
            return raw + b"\0"
        if t.code == "v":
            sig = parse_type(value.signature).signature
            return _encode(parse_type(sig), value.value, order) + b"\0" + sig.encode("ascii")
        if t.code == "m":
            return _encode_maybe(t.children[0], value, order)
        if t.code == "a":
            return _encode_array(t.children[0], value, order)
        return _encode_members(t, tuple(value), order)
    except (TypeError, AttributeError, OverflowError, struct.error) as exc:
        raise GVariantError(f"cannot encode {value!r} as {t.signature}: {exc}") from exc


def _encode_basic(code: str, value: Any, order: str) -> bytes:
    if code == "b":
        return b"\1" if value else b"\0"
    if code == "d":
        return struct.pack("<d" if order == "little" else ">d", value)
    size, signed = _FIXED_BASIC[code]
    if not isinstance(value, int):
        raise TypeError(f"expected int, got {type(value).__name__}")
    return value.to_bytes(size, order, signed=signed)


def _encode_maybe(child: GType, value: Any, order: str) -> bytes:
    if value is None:
        return b""
    body = _encode(child, value, order)
    return body if child.fixed_size is not None else body + b"\0"


def _frame(body: bytearray, ends: list[int]) -> bytes:
    """Append little-endian framing offsets, sized for the whole container."""
    if not ends:
        return bytes(body)
    osz = 1
    while len(body) + len(ends) * osz > (1 << (8 * osz)) - 1 and osz < 8:
        osz *= 2
    for end in ends:
        body += end.to_bytes(osz, "little")
    return bytes(body)


def _encode_array(child: GType, value: Any, order: str) -> bytes:
    if child.signature == "y":
        return bytes(value)
    items = list(value.items()) if child.code == "{" and isinstance(value, dict) else list(value)
    body = bytearray()
    if child.fixed_size is not None:
        for item in items:
            body += _encode(child, item, order)
        return bytes(body)
    ends = []
    for item in items:
        body += b"\0" * (_align(len(body), child.alignment) - len(body))
        body += _encode(child, item, order)
        ends.append(len(body))
    return _frame(body, ends)


def _encode_members(t: GType, value: tuple, order: str) -> bytes:
    if len(value) != len(t.children):
        raise GVariantError(f"{t.signature}: expected {len(t.children)} members, got {len(value)}")
    if not t.children:
        return b"\0"
    body, ends = bytearray(), []
    last = len(t.children) - 1
    for index, (child, item) in enumerate(zip(t.children, value, strict=True)):
        body += b"\0" * (_align(len(body), child.alignment) - len(body))
        body += _encode(child, item, order)
        if child.fixed_size is None and index != last:
            ends.append(len(body))
    if t.fixed_size is not None:
        body += b"\0" * (t.fixed_size - len(body))
        return bytes(body)
    return _frame(body, ends[::-1])


# --------------------------------------------------------------------------------------- helpers


def byteswap_int(value: int, code: str) -> int:
    """Reinterpret an integer decoded in one byte order as the other.

    Args:
        value: the integer as decoded.
        code: its type code (``n q i u h x t``).

    Returns:
        The value with its bytes reversed (for example an OSTree big-endian timestamp that was
        decoded little-endian).
    """
    size, signed = _FIXED_BASIC[code]
    return int.from_bytes(value.to_bytes(size, "little", signed=signed), "big", signed=signed)


def unbox(value: Any) -> Any:
    """Strip :class:`Variant` wrappers recursively, for display and simple comparisons.

    Args:
        value: a decoded value.

    Returns:
        The same structure with every ``Variant`` replaced by its inner value.
    """
    if isinstance(value, Variant):
        return unbox(value.value)
    if isinstance(value, dict):
        return {k: unbox(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unbox(v) for v in value]
    if isinstance(value, tuple):
        return tuple(unbox(v) for v in value)
    return value
