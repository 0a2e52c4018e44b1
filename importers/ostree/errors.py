"""Exception hierarchy for the OSTree format library; the platform wraps these later."""


class OSTreeError(Exception):
    """Base class for every error raised by this package."""


class OSTreeFormatError(OSTreeError):
    """Bytes or names that do not follow the OSTree/GVariant formats (or a rejected repo mode)."""


class OSTreeChecksumError(OSTreeError):
    """An object's content does not hash to the checksum it is stored or referenced under."""


class OSTreeMissingObject(OSTreeError):
    """An object, ref or file the repository should hold is absent (for example HTTP 404)."""
