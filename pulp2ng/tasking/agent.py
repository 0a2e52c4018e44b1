"""Requests to consumer agents: tasks no worker runs.

Pulp 2's agent pseudo-tasks: a task report with ``worker_name: "agent"`` and no Celery
message, created when a consumer must act (bind, unbind, install…). It reads ``waiting``
until the consumer's agent takes it, whether or not the agent is connected now, and can be
canceled like any waiting task. The request itself (``action`` and its ``payload``) is kept
on the task, hidden from task reports.
"""

from __future__ import annotations

import uuid

from pulp2ng.db.store import now
from pulp2ng.tasking.dispatch import WAITING

AGENT = "agent"


def request_agent(platform, consumer_id: str, action: str, payload: dict,
                  tags: list[str]) -> str:
    """Queue ``action`` for the consumer's agent; returns the task id."""
    store = platform.store
    task_id = str(uuid.uuid4())
    store.insert_task({
        "_id": task_id,
        "task_id": task_id,
        "task_type": f"pulp2ng.agent.{action}",
        "state": WAITING,
        "tags": list(tags),
        "resource": None,
        "seq": store.next_sequence("task_seq"),
        "agent_request": {"consumer_id": consumer_id, "action": action,
                          "payload": platform.secrets.seal(payload)},
        "worker_name": AGENT,
        "queue": None,
        "created": now(),
        "start_time": None,
        "finish_time": None,
        "progress_report": {},
        "result": None,
        "error": None,
        "exception": None,
        "traceback": None,
        "spawned_tasks": [],
    })
    return task_id
