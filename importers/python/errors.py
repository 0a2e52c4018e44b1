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
