"""The platform's task types, declared in one place above the controllers that run them.

Importing this module imports every controller module with ``@task`` functions, so that
they register in :mod:`pulp2ng.tasking.registry`, and hands the tasking core the controller
callbacks it calls back; the tasking core never imports a controller. :mod:`pulp2ng.platform`
imports it, so every process that can run or reap a task has the whole table.
"""

from __future__ import annotations

from pulp2ng.controllers import (  # noqa: F401
    applicability,
    events,
    orphans,
    repo_groups,
    repositories,
    schedules,
    sync,
    units,
    uploads,
)
from pulp2ng.tasking import registry

# A sync or publish whose worker died still gets its ``error`` history entry.
registry.on_lost(sync.sync_task.task_name, sync.record_lost)
registry.on_lost(sync.publish_task.task_name, sync.record_lost)
# A schedule counts the consecutive failures of the tasks it fired.
registry.on_scheduled_outcome(schedules.record_outcome)
# Every completed task fires ``task.finish`` (and ``task.error``) to event listeners.
registry.on_task_complete(events.task_completed)
