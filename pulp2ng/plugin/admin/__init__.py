"""Helpers for ``pulp2ng-admin`` sections: the REST client, task following and output.

A content type adds its commands to the admin command line as pulp-admin extensions did: a
``click`` group registered under the entry-point group ``pulp2ng.admin`` (its name is the
section, e.g. ``iso``). Sections run on an admin's laptop, so this package talks to pulp2ng
only over the REST API and imports nothing of the server (no pymongo, Flask or database
layer); tests/unit/test_admin_cli.py checks that for every module here. Sections import the
names below from this package: :mod:`.client` (the REST API), :mod:`.output` (what a command
receives, and printing), :mod:`.options` (shared click options), :mod:`.tasks` (following
tasks), :mod:`.uploads` (resumable uploads) and :mod:`.type_section` (a type's section).
"""

from pulp2ng.plugin.admin.client import AdminError, ApiError, Client, Settings
from pulp2ng.plugin.admin.options import (
    bg_option,
    bool_option,
    criteria,
    criteria_options,
    downloader_options,
    importer_config,
    pop_config,
)
from pulp2ng.plugin.admin.output import Admin, counts, details, pass_admin, print_json, table
from pulp2ng.plugin.admin.tasks import (
    Step,
    follow_tasks,
    progress_steps,
    tag_value,
    task_errors,
    task_summary,
    task_title,
)
from pulp2ng.plugin.admin.type_section import TypeSection
from pulp2ng.plugin.admin.uploads import forget_upload, upload_file

__all__ = [
    "Admin",
    "AdminError",
    "ApiError",
    "Client",
    "Settings",
    "Step",
    "TypeSection",
    "bg_option",
    "bool_option",
    "counts",
    "criteria",
    "criteria_options",
    "details",
    "downloader_options",
    "follow_tasks",
    "forget_upload",
    "importer_config",
    "pass_admin",
    "pop_config",
    "print_json",
    "progress_steps",
    "table",
    "tag_value",
    "task_errors",
    "task_summary",
    "task_title",
    "upload_file",
]
