"""Internal jobs: Celery messages that run a registered function with no task report.

They travel on the workers' queue like tasks but skip the status document and the
reservations, so they never appear in ``tasks/``, never wait behind a repository's tasks and
never fire task events themselves. Whatever they must survive (a lost message, a dead
worker) their own documents record; see :func:`pulp2ng.controllers.events.resend_overdue`.
"""

from __future__ import annotations

import logging

from pulp2ng.tasking import registry

log = logging.getLogger(__name__)
CELERY_NAME = "pulp2ng.internal"


def send_job(platform, name: str, kwargs: dict, countdown: float = 0) -> bool:
    """Queue internal job ``name``; False (logged) when the broker did not take it."""
    try:
        platform.celery.send_task(CELERY_NAME, args=[name, kwargs],
                                  countdown=countdown or None,
                                  confirm_timeout=platform.settings.getfloat("broker", "timeout"))
        return True
    except Exception:
        log.exception("could not queue internal job %s", name)
        return False


def run_job(platform, name: str, kwargs: dict) -> None:
    fn = registry.internal_job(name)
    if fn is None:
        log.error("unknown internal job %s", name)
        return
    fn(platform, **kwargs)
