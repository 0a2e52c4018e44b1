"""Exception hierarchy for the OSTree format library; the platform wraps these later."""


class OSTreeError(Exception):
    """Base class for every error raised by this package."""


class OSTreeFormatError(OSTreeError):
    """Bytes or names that do not follow the OSTree/GVariant formats (or a rejected repo mode)."""


class OSTreeChecksumError(OSTreeError):
    """An object's content does not hash to the checksum it is stored or referenced under."""


class OSTreeMissingObject(OSTreeError):
    """An object, ref or file the repository should hold is absent (for example HTTP 404)."""


# -- coded sync failures (task errors; Pulp 2's pulp_ostree used the ``OST`` prefix) ----------

from pulp2ng.plugin import SyncError  # noqa: E402  (the format library above needs no platform)


class OSTreeFeedError(SyncError):
    """OST0004: the importer has no feed, or the feed is not an http, https or file URL
    (checked at sync, as Pulp 2 did)."""

    code = "OST0004"


class OSTreeSyncError(SyncError):
    """OST1101: the upstream repository could not be pulled (unreachable, missing refs or
    objects, bad format, checksum or signature mismatch)."""

    code = "OST1101"
