"""PULP_MANIFEST: a headerless CSV of ``name,sha256,size`` rows, parsed as a stream."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pulp2ng.plugin import ContentValidationError, safe_relative_path

MANIFEST = "PULP_MANIFEST"
_HEX = frozenset("0123456789abcdef")
MAX_LINE = 8192


@dataclass(frozen=True)
class Entry:
    name: str
    checksum: str
    size: int

    @property
    def key(self) -> dict:
        return {"name": self.name, "checksum": self.checksum, "size": self.size}


def check_name(name: str, manifest_name: str = MANIFEST) -> str:
    """A unit name must be a safe relative path and not the manifest itself."""
    safe = safe_relative_path(name)
    if safe is None:
        raise ContentValidationError(f"Unsafe file name {name!r}: names must be relative "
                                     "paths without '..'", name=name)
    if safe in (MANIFEST, manifest_name):
        raise ContentValidationError(f"A file may not be named {safe}", name=name)
    return safe


def parse_line(line: str, lineno: int, manifest_name: str = MANIFEST) -> Entry:
    parts = line.rsplit(",", 2)
    if len(parts) != 3:
        raise ContentValidationError(
            f"Malformed manifest line {lineno}: expected name,sha256,size", line=lineno)
    name, checksum, size = parts[0].strip(), parts[1].strip().lower(), parts[2].strip()
    if len(checksum) != 64 or not set(checksum) <= _HEX:
        raise ContentValidationError(
            f"Malformed manifest line {lineno}: {checksum!r} is not a sha256", line=lineno)
    if not size.isdigit():
        raise ContentValidationError(
            f"Malformed manifest line {lineno}: size {size!r} is not a number", line=lineno)
    return Entry(check_name(name, manifest_name), checksum, int(size))


def iter_manifest(stream, manifest_name: str = MANIFEST) -> Iterator[Entry]:
    """Entries from a binary stream, one line at a time (never the whole file in memory).

    Raises ContentValidationError for a malformed line, an unsafe name or a name listed twice.
    """
    seen: set[str] = set()
    text = io.TextIOWrapper(io.BufferedReader(_Buffered(stream)), encoding="utf-8", errors="strict", newline="")
    try:
        for lineno, line in enumerate(_bounded_lines(text), 1):
            line = line.strip("\r\n")
            if not line.strip():
                continue
            entry = parse_line(line, lineno, manifest_name)
            if entry.name in seen:
                raise ContentValidationError(
                    f"Manifest line {lineno} lists {entry.name!r} twice", line=lineno)
            seen.add(entry.name)
            yield entry
    except UnicodeDecodeError:
        raise ContentValidationError("The manifest is not valid UTF-8") from None


def write_manifest(path, entries: Iterable[Entry]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for e in entries:
            out.write(f"{e.name},{e.checksum},{e.size}\n")


def _bounded_lines(text) -> Iterator[str]:
    while True:
        line = text.readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) > MAX_LINE and not line.endswith("\n"):
            raise ContentValidationError(f"Manifest line longer than {MAX_LINE} characters")
        yield line


class _Buffered(io.RawIOBase):
    """Adapts any object with ``read(n)`` to what TextIOWrapper expects."""

    def __init__(self, stream):
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
