"""Errors raised by the Python content library.

Hierarchy::

    PythonContentError
     +-- IndexFormatError   an index page or JSON document is not what the API promises
     +-- UnsafeLinkError    a link or filename would leave the index or write outside a folder
     +-- MetadataError      a distribution's file name or core metadata cannot be read

Callers (the importer, the upload path) catch ``PythonContentError`` and turn it into a task
error; the subclasses say which input was at fault.
"""

__all__ = ["PythonContentError", "IndexFormatError", "UnsafeLinkError", "MetadataError"]


class PythonContentError(Exception):
    """Base class for every error this library raises on bad upstream content."""


class IndexFormatError(PythonContentError):
    """A PEP 503/691 page or a PyPI JSON API document is malformed."""


class UnsafeLinkError(PythonContentError):
    """A link points outside the index, to a host not allowed, or names an unsafe file."""


class MetadataError(PythonContentError):
    """A distribution's file name or core metadata (METADATA / PKG-INFO) is invalid."""


# -- coded sync failures (task errors with a ``PYP`` code instead of the generic PLP0000) -----

from pulp2ng.plugin import SyncError  # noqa: E402  (the content library above needs no platform)


class PythonConfigError(SyncError):
    """PYP1101: the importer has no feed, or its package selection is invalid."""

    code = "PYP1101"


class PythonIndexError(SyncError):
    """PYP1102: the upstream index (simple pages or JSON API) could not be read or is malformed."""

    code = "PYP1102"


class PythonDownloadError(SyncError):
    """PYP1103: distribution files failed to download or validate, or differ from the stored
    file of the same name."""

    code = "PYP1103"
