"""The RPM family of unit types, with pulp_rpm 2.x's type ids and unit keys.

Key fields are named as Pulp 2's REST API showed them: its models stored ``errata_id``,
``package_group_id``, ``distribution_id``… but the serializers renamed them ``id``, and clients
only ever saw (and searched on) ``id``. Metadata units of comps, module defaults and repository
metadata files are per repository (``repo_id`` in the key), as in Pulp 2.
"""

from pulp2ng.plugin import UnitType

RPM = "rpm"
SRPM = "srpm"
DRPM = "drpm"
ERRATUM = "erratum"
PACKAGE_GROUP = "package_group"
PACKAGE_CATEGORY = "package_category"
PACKAGE_ENVIRONMENT = "package_environment"
PACKAGE_LANGPACKS = "package_langpacks"
MODULEMD = "modulemd"
MODULEMD_DEFAULTS = "modulemd_defaults"
DISTRIBUTION = "distribution"
YUM_METADATA_FILE = "yum_repo_metadata_file"

#: NEVRA plus the checksum: one package file (Pulp 2 let two builds share a NEVRA).
PACKAGE_KEY = ("name", "epoch", "version", "release", "arch", "checksumtype", "checksum")

UNIT_TYPES = [
    UnitType(RPM, "RPM", PACKAGE_KEY, description="RPM",
             search_indexes=("name", "filename", "checksum", ("name", "arch")),
             referenced_types=(ERRATUM,)),
    UnitType(SRPM, "SRPM", PACKAGE_KEY, description="SRPM",
             search_indexes=("name", "filename", "checksum")),
    UnitType(DRPM, "DRPM", ("epoch", "version", "release", "filename", "checksumtype",
                            "checksum"),
             description="DRPM", search_indexes=("filename",)),
    UnitType(ERRATUM, "Erratum", ("id",), description="Erratum advisory information",
             search_indexes=("type", "severity", "issued", "updated"),
             referenced_types=(RPM,)),
    UnitType(PACKAGE_GROUP, "Package Group", ("id", "repo_id"),
             description="Yum Package group information", search_indexes=("repo_id", "name")),
    UnitType(PACKAGE_CATEGORY, "Package Category", ("id", "repo_id"),
             description="Yum Package category information", search_indexes=("repo_id",)),
    UnitType(PACKAGE_ENVIRONMENT, "Package Environment", ("id", "repo_id"),
             description="Yum Package environment information", search_indexes=("repo_id",)),
    UnitType(PACKAGE_LANGPACKS, "Package Langpacks", ("repo_id",),
             description="Yum Package langpacks information"),
    UnitType(MODULEMD, "Modulemd", ("name", "stream", "version", "context", "arch"),
             description="Modulemd", search_indexes=("name",)),
    UnitType(MODULEMD_DEFAULTS, "ModulemdDefaults", ("name", "repo_id"),
             description="ModulemdDefaults", search_indexes=("repo_id",)),
    UnitType(DISTRIBUTION, "Distribution", ("id", "family", "variant", "version", "arch"),
             description="Kickstart trees and all accompanying files"),
    UnitType(YUM_METADATA_FILE, "YUM Repository Metadata File", ("data_type", "repo_id"),
             description="YUM Repository Metadata File", search_indexes=("repo_id",)),
]
