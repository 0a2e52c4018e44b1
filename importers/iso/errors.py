"""Coded sync failures of ``iso_importer`` (the ``RPM`` prefix: Pulp 2's ISO plugin lived in
pulp_rpm). Each is a task error with its own code instead of the generic PLP0000."""

from pulp2ng.plugin import SyncError


class IsoFeedError(SyncError):
    """RPM1101: the importer has no feed, or the feed is not an http, https or file URL."""

    code = "RPM1101"


class IsoManifestError(SyncError):
    """RPM1102: PULP_MANIFEST could not be downloaded or is malformed (``manifest_failed``)."""

    code = "RPM1102"


class IsoDownloadError(SyncError):
    """RPM1103: one or more files failed to download or validate (``isos_failed``);
    ``data.iso_error_messages`` lists them as ``{name, error: {response_code, response_msg}}``."""

    code = "RPM1103"
