"""filelists.xml and other.xml: every file of a package and its changelog, streamed.

primary.xml lists only a package's "primary" files (``/etc/*``, ``*bin/*``…); filelists.xml
has all of them and other.xml the changelogs. createrepo_c's ``PackageIterator`` reads the
three documents side by side and hands over one complete package at a time (what pulp_rpm 3
uses too), so a unit gets every file and its changelog while memory still holds one package,
not a repository. The two files are fetched and verified against repomd like primary.xml; an
upstream without filelists.xml falls back to primary.xml alone (the caller's parse).
"""

from __future__ import annotations

import createrepo_c as cr

from pulp2ng.importers.rpm.errors import YumMetadataParseError
from pulp2ng.importers.rpm.feeds import fetch_record


def fetch_filelists_other(downloader, feed: str, repomd_path, validate: bool):
    """``(filelists path, other path)`` downloaded and verified; None for a file repomd does
    not list (without filelists, other is not fetched: it is read only alongside it)."""
    records = {r.type: r for r in cr.Repomd(str(repomd_path)).records}
    if "filelists" not in records:
        return None, None
    filelists = fetch_record(downloader, feed, records["filelists"], validate)
    other = fetch_record(downloader, feed, records["other"], validate) \
        if "other" in records else None
    return filelists, other


def iter_packages(primary, filelists, other):
    """Complete packages (primary + every file + changelogs), one at a time."""
    try:
        iterator = cr.PackageIterator(str(primary), str(filelists),
                                      str(other) if other else None)
        yield from iterator
    except (cr.CreaterepoCError, OSError, ValueError) as exc:  # malformed or mismatched XML
        raise YumMetadataParseError(
            f"Could not parse repository metadata: primary/filelists/other.xml: {exc}") \
            from None
