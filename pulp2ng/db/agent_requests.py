"""Consumer agents' requests: agent tasks (``worker_name: "agent"``) in ``task_status``, and
what their completion changes: the binding's ``consumer_actions``.

SecantusDB note: the claim is ``find_one`` (the consumer's oldest waiting request, on the
``agent_request.consumer_id``/``state``/``seq`` index) then a compare-and-set
``update_one`` on ``_id`` and ``state: waiting``, not ``find_one_and_update``: SecantusDB's
findAndModify scans the whole collection (see :mod:`pulp2ng.db.tasks`). The compare-and-set
is the atomic part: of two pollers, or a poll and a cancel, one wins.
"""

from __future__ import annotations


_AGENT = {"worker_name": "agent"}


class AgentRequestQueries:
    """Store methods over consumer agents' requests."""

    def ensure_agent_request_indexes(self) -> None:
        self.tasks.create_index([("agent_request.consumer_id", 1), ("state", 1), ("seq", 1)])

    def oldest_agent_request(self, consumer_id: str) -> dict | None:
        """The consumer's oldest waiting request (``_id`` only), or None."""
        return self.tasks.find_one(
            {"agent_request.consumer_id": consumer_id, "state": "waiting", **_AGENT},
            {"_id": 1}, sort=[("seq", 1)])

    def consumers_with_waiting_requests(self) -> set[str]:
        """Consumers that have at least one waiting request (one query for every poller)."""
        cursor = self.tasks.find({**_AGENT, "state": "waiting"},
                                 {"agent_request.consumer_id": 1})
        return {doc["agent_request"]["consumer_id"] for doc in cursor
                if doc.get("agent_request")}

    def claim_agent_request(self, task_id: str, fields: dict) -> dict | None:
        """``waiting`` → ``running`` with ``fields``; the request as claimed, or None when it
        is no longer waiting (canceled meanwhile, or another poll took it)."""
        claimed = self.tasks.update_one({"_id": task_id, "state": "waiting", **_AGENT},
                                        {"$set": {"state": "running", **fields}})
        return self.tasks.find_one({"_id": task_id}) if claimed.modified_count else None

    def find_agent_request(self, consumer_id: str, task_id: str) -> dict | None:
        return self.tasks.find_one({"_id": task_id, "agent_request.consumer_id": consumer_id,
                                    **_AGENT})

    def renew_agent_lease(self, consumer_id: str, task_id: str, until) -> bool:
        """Push a running request's lease to ``until``; False unless it is still running."""
        renewed = self.tasks.update_one(
            {"_id": task_id, "agent_request.consumer_id": consumer_id, "state": "running",
             **_AGENT}, {"$set": {"agent_lease_until": until}})
        return bool(renewed.matched_count)

    def expired_agent_requests(self, moment) -> list[dict]:
        """Running requests whose lease ended before ``moment``."""
        return list(self.tasks.find({**_AGENT, "state": "running",
                                     "agent_lease_until": {"$lt": moment}},
                                    {"_id": 1, "agent_request": 1, "agent_lease_until": 1,
                                     "scheduled_call_id": 1}))

    def finish_agent_request(self, task_id: str, update: dict, lease=None) -> bool:
        """Write a running request's final state; with ``lease``, only if its lease is still
        that one (an expiry must not overwrite a result posted meanwhile). True if written."""
        query = {"_id": task_id, "state": "running", **_AGENT}
        if lease is not None:
            query["agent_lease_until"] = lease
        return bool(self.tasks.update_one(query, {"$set": update}).modified_count)

    # -- what a completed request changes -------------------------------------------------------

    def set_consumer_action_status(self, binding_id: str, task_id: str, status: str) -> None:
        self.bindings.update_one({"_id": binding_id, "consumer_actions.id": task_id},
                                 {"$set": {"consumer_actions.$.status": status}})

    def delete_unbound_binding(self, binding_id: str) -> bool:
        """Delete a binding the agent confirmed unbinding, unless it was bound again since
        (``deleted`` false)."""
        return self.bindings.delete_one({"_id": binding_id, "deleted": True}).deleted_count == 1

