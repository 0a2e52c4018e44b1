"""The stamp every completed task gets, whatever ended it: a finish time and an expiry."""

from __future__ import annotations

import datetime as dt

from pulp2ng.db.store import now


def completion_fields(settings) -> dict:
    """``finish_time`` now and ``expire_at`` after ``tasks.task_retention`` (a TTL index)."""
    finished_at = now()
    retention = dt.timedelta(seconds=settings.getint("tasks", "task_retention"))
    return {"finish_time": finished_at, "expire_at": finished_at + retention}
