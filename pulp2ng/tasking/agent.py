"""Requests to consumer agents: tasks no worker runs.

Pulp 2's agent pseudo-tasks: a task report with ``worker_name: "agent"`` and no Celery
message, created when a consumer must act (bind, unbind, install…). It reads ``waiting``
until the consumer's agent takes it, whether or not the agent is connected now, and can be
canceled like any waiting task. The request itself (``action`` and its ``payload``) is kept
on the task, hidden from task reports.
"""

from __future__ import annotations

from pulp2ng.tasking.dispatch import insert_waiting_task

AGENT = "agent"


def request_agent(platform, consumer_id: str, action: str, payload: dict,
                  tags: list[str], scheduled_call_id: str | None = None) -> str:
    """Queue ``action`` for the consumer's agent; returns the task id. A request fired by a
    consumer schedule names it (``scheduled_call_id``): its outcome counts for the schedule."""
    return insert_waiting_task(
        platform, f"pulp2ng.agent.{action}", tags, worker_name=AGENT,
        agent_request={"consumer_id": consumer_id, "action": action,
                       "payload": platform.secrets.seal(payload)},
        scheduled_call_id=scheduled_call_id)
