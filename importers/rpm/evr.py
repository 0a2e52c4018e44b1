"""RPM version ordering: ``rpmvercmp`` and epoch:version-release comparison as rpm 4.18 does it.

Applicability and anything else that asks "is this package newer" must order versions exactly
as rpm/dnf will when the client installs (``1.10 > 1.9``, ``1.0~rc1 < 1.0``, ``1.0^git1 >
1.0``, ``1.0a < 1.0.1``); neither createrepo_c nor the PyPI wheels expose rpm's comparison,
so it is restated here and checked against ``rpm``'s own in tests/unit/rpm/test_evr.py.
"""

from __future__ import annotations

import functools


def _alnum(ch: str) -> bool:
    # rpm's risalnum is ASCII-only: any other character is a separator.
    return ch.isascii() and ch.isalnum()


def rpmvercmp(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is older than, equal to or newer than ``b`` (one version or release
    string): alternating numeric and alphabetic segments, separators ignored, ``~`` sorting
    before anything (even the end) and ``^`` after the end but before anything else."""
    a, b = str(a), str(b)
    if a == b:
        return 0
    i, j, la, lb = 0, 0, len(a), len(b)
    while i < la or j < lb:
        while i < la and not _alnum(a[i]) and a[i] not in "~^":
            i += 1
        while j < lb and not _alnum(b[j]) and b[j] not in "~^":
            j += 1
        ca, cb = a[i] if i < la else "", b[j] if j < lb else ""
        if ca == "~" or cb == "~":
            if ca != "~":
                return 1
            if cb != "~":
                return -1
            i, j = i + 1, j + 1
            continue
        if ca == "^" or cb == "^":
            if not ca:
                return -1
            if not cb:
                return 1
            if ca != "^":
                return 1
            if cb != "^":
                return -1
            i, j = i + 1, j + 1
            continue
        if not (ca and cb):
            break
        numeric = ca.isdigit()
        kind = str.isdigit if numeric else (lambda c: c.isascii() and c.isalpha())
        ei, ej = i, j
        while ei < la and kind(a[ei]):
            ei += 1
        while ej < lb and kind(b[ej]):
            ej += 1
        seg_a, seg_b = a[i:ei], b[j:ej]
        if not seg_b:
            # different segment types: a numeric segment is newer than an alphabetic one
            return 1 if numeric else -1
        if numeric:
            seg_a, seg_b = seg_a.lstrip("0"), seg_b.lstrip("0")
            if len(seg_a) != len(seg_b):
                return 1 if len(seg_a) > len(seg_b) else -1
        if seg_a != seg_b:
            return 1 if seg_a > seg_b else -1
        i, j = ei, ej
    if i >= la and j >= lb:
        return 0
    return -1 if i >= la else 1


def epoch_int(epoch) -> int:
    """An epoch as rpm reads it: missing or empty is 0; a non-number is 0 too."""
    try:
        return int(str(epoch).strip() or 0) if epoch is not None else 0
    except ValueError:
        return 0


def compare_evr(a: tuple, b: tuple) -> int:
    """Compare ``(epoch, version, release)`` tuples: epoch numerically, then rpmvercmp."""
    ea, eb = epoch_int(a[0]), epoch_int(b[0])
    if ea != eb:
        return 1 if ea > eb else -1
    return rpmvercmp(a[1] or "", b[1] or "") or rpmvercmp(a[2] or "", b[2] or "")


#: Sort key for EVR tuples: ``sorted(evrs, key=evr_key)`` orders them as rpm does.
evr_key = functools.cmp_to_key(compare_evr)
