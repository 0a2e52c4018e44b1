"""Coded sync failures of ``yum_importer``, with pulp_rpm 2.x's error codes."""

from pulp2ng.plugin import SyncError


class YumNoFeedError(SyncError):
    """RPM1005: the importer has no feed (or not an http, https or file URL)."""

    code = "RPM1005"


class YumMetadataError(SyncError):
    """RPM1004: repomd.xml or a metadata file it lists could not be retrieved or verified."""

    code = "RPM1004"


class YumMetadataParseError(SyncError):
    """RPM1006: the repository metadata could not be parsed."""

    code = "RPM1006"


class YumChecksumTypeError(SyncError):
    """RPM1009: a checksum type Pulp 2 did not support."""

    code = "RPM1009"


class YumDownloadError(SyncError):
    """RPM1103 (as ``iso_importer``'s): packages failed to download or validate;
    ``data.error_details`` lists them as ``{name, error}``."""

    code = "RPM1103"
