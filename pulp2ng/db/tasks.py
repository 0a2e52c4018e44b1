"""Tasks and what runs them: ``task_status``, ``reserved_resources``, ``workers``.

SecantusDB note: compare-and-set transitions use ``update_one`` then ``find_one``, never
``find_one_and_update``: SecantusDB's findAndModify scans the whole collection even for an
``_id`` match, where update_one and find_one use the ``_id`` index.
"""

from __future__ import annotations

from pulp2ng.db.fencing import new_lease


class TaskQueries:
    """Store methods over task statuses, reservations and workers."""

    # -- task statuses ------------------------------------------------------------------------

    def insert_task(self, doc: dict) -> None:
        self.tasks.insert_one(doc)

    def find_task(self, task_id: str, projection=None) -> dict | None:
        return self.tasks.find_one({"_id": task_id}, projection)

    def set_task_requester(self, task_ids: list[str], login: str) -> None:
        self.tasks.update_many({"_id": {"$in": task_ids}}, {"$set": {"requested_by": login}})

    def list_tasks(self, tags: list[str], projection) -> list[dict]:
        """Tasks carrying every tag in ``tags`` (all tasks without tags), in queue order;
        as in Pulp 2, not the tasks of a task group (``task_groups/<id>/`` lists those)."""
        query = {"group_id": None, **({"tags": {"$all": tags}} if tags else {})}
        return list(self.tasks.find(query, projection).sort("seq", 1))

    def group_tasks(self, group_id: str, projection) -> list[dict]:
        """The tasks of a task group (parallel applicability regeneration), in queue order."""
        return list(self.tasks.find({"group_id": group_id}, projection).sort("seq", 1))

    def set_group_requester(self, group_id: str, login: str) -> None:
        self.tasks.update_many({"group_id": group_id}, {"$set": {"requested_by": login}})

    def search_tasks(self, criteria, projection) -> list[dict]:
        """Tasks matching parsed criteria, criteria applied."""
        cursor = self.tasks.find(criteria.filters, projection)
        return list(criteria.apply(cursor))

    def incomplete_tasks(self, projection) -> list[dict]:
        """Waiting and running tasks, in queue order (the ``state`` index: O(active))."""
        return list(self.tasks.find({"state": {"$in": ["waiting", "running"]}},
                                    projection).sort("seq", 1))

    def tasks_finished_since(self, moment, projection, limit: int = 0) -> list[dict]:
        """Tasks completed at or after ``moment``, newest first (the ``finish_time`` index)."""
        cursor = self.tasks.find({"finish_time": {"$gte": moment}}, projection)
        return list(cursor.sort("finish_time", -1).limit(limit))

    def cancel_task(self, task_id: str, fields: dict, states=("waiting", "running")) -> bool:
        """Mark a task in one of ``states`` ``canceled`` with ``fields``; True if it was."""
        result = self.tasks.update_one(
            {"_id": task_id, "state": {"$in": list(states)}},
            {"$set": {"state": "canceled", **fields}},
        )
        return bool(result.modified_count)

    def purge_tasks(self, states: list[str]) -> int:
        return self.tasks.delete_many({"state": {"$in": states}}).deleted_count

    def delete_unsent_task(self, task_id: str) -> bool:
        """Delete a task that failed before any worker took it (``error``, no worker)."""
        deleted = self.tasks.delete_one({"_id": task_id, "state": "error", "worker_name": None})
        return bool(deleted.deleted_count)

    def claim_received_task(self, task_id: str, worker_name: str) -> None:
        """Record which worker received a waiting task's message."""
        self.tasks.update_one(
            {"_id": task_id, "state": "waiting"}, {"$set": {"worker_name": worker_name}}
        )

    def start_task(self, task_id: str, fields: dict) -> dict | None:
        """``waiting`` → ``running`` with ``fields``; the task as started, or None if it
        was not waiting (canceled, or already taken)."""
        started = self.tasks.update_one(
            {"_id": task_id, "state": "waiting"},
            {"$set": {"state": "running", **fields}},
        )
        return self.tasks.find_one({"_id": task_id}) if started.modified_count else None

    def set_task_progress(self, task_id: str, progress: dict) -> None:
        """Running or canceled (a canceled task reports how far it got), never once the
        reaper failed it: a reaped task's late progress must not touch its report."""
        self.tasks.update_one({"_id": task_id, "state": {"$in": ["running", "canceled"]}},
                              {"$set": {"progress_report": progress}})

    def finish_task(self, task_id: str, update: dict) -> None:
        """Write a final state unless the task is no longer running (a cancel sticks)."""
        self.tasks.update_one({"_id": task_id, "state": "running"}, {"$set": update})

    def fail_waiting_task(self, task_id: str, fields: dict) -> None:
        """``waiting`` → ``error`` with ``fields``."""
        self.tasks.update_one(
            {"_id": task_id, "state": "waiting"},
            {"$set": {"state": "error", **fields}},
        )

    def mark_task_running(self, task_id: str) -> None:
        """A waiting task a worker received goes ``running`` (before it is failed)."""
        self.tasks.update_one({"_id": task_id, "state": "waiting"},
                              {"$set": {"state": "running"}})

    def mark_task_resent(self, task_id: str, moment) -> None:
        self.tasks.update_one({"_id": task_id}, {"$set": {"resent_at": moment}})

    def head_waiting_task(self, resource: str) -> dict | None:
        """The oldest waiting task on ``resource`` (``_id`` only), or None."""
        return self.tasks.find_one(
            {"resource": resource, "state": "waiting"}, {"_id": 1}, sort=[("seq", 1)]
        )

    def stale_waiting_tasks(self, cutoff):
        """Waiting tasks created before ``cutoff`` that no worker received (a cursor)."""
        return self.tasks.find(
            {"state": "waiting", "created": {"$lt": cutoff}, "worker_name": None},
            {"resource": 1, "resent_at": 1},
        )

    def incomplete_worker_tasks(self, worker_name: str):
        """The waiting or running tasks a worker took (a cursor)."""
        return self.tasks.find(
            {"worker_name": worker_name, "state": {"$in": ["waiting", "running"]}},
            {"_id": 1, "resource": 1, "state": 1, "task_type": 1, "kwargs": 1, "start_time": 1},
        )

    def busy_worker_names(self) -> list:
        """Names of the workers holding waiting or running tasks (consumer agents' requests,
        ``worker_name: "agent"``, belong to no worker)."""
        return self.tasks.distinct(
            "worker_name", {"state": {"$in": ["waiting", "running"]},
                            "worker_name": {"$nin": [None, "agent"]}})

    def delete_expired_tasks(self, moment) -> None:
        self.tasks.delete_many({"expire_at": {"$lt": moment}})

    def running_task_starts(self):
        """Running tasks with their ``start_time`` only (a cursor)."""
        return self.tasks.find({"state": "running"}, {"start_time": 1})

    # -- reservations -------------------------------------------------------------------------

    def resource_reserved(self, resource: str) -> bool:
        return self.reservations.find_one({"_id": resource}, {"_id": 1}) is not None

    def reserve(self, resource: str, task_id: str, since) -> None:
        """Raises DuplicateKeyError when the resource is already reserved."""
        self.reservations.insert_one({"_id": resource, "task_id": task_id, "since": since,
                                      "lease": new_lease()})

    def hand_over_reservation(self, resource: str, from_task: str, to_task: str, since) -> bool:
        """Pass a reservation held by ``from_task`` to ``to_task`` in one write, with a new
        lease: ``from_task``'s writes are refused from then on (pulp2ng.db.fencing)."""
        handed = self.reservations.update_one(
            {"_id": resource, "task_id": from_task},
            {"$set": {"task_id": to_task, "since": since, "lease": new_lease()}},
        )
        return bool(handed.modified_count)

    def revoke_lease(self, resource: str, task_id: str) -> None:
        """Give ``task_id``'s reservation a lease nobody holds: the task (of a dead worker)
        can no longer write, while the reservation stays its own until released."""
        self.reservations.update_one({"_id": resource, "task_id": task_id},
                                     {"$set": {"lease": new_lease()}})

    def drop_reservation(self, resource: str, task_id: str) -> None:
        self.reservations.delete_one({"_id": resource, "task_id": task_id})

    def reservations_since_before(self, cutoff):
        """Reservations taken before ``cutoff`` (a cursor)."""
        return self.reservations.find({"since": {"$lt": cutoff}})

    # -- workers ------------------------------------------------------------------------------

    def record_heartbeat(self, name: str, role: str, identity: dict | None = None) -> None:
        """Stamp ``name``'s heartbeat with the database's clock, never this host's: every
        judge compares it with :meth:`server_time`, so skewed hosts cannot kill a live one."""
        self.workers.update_one(
            {"_id": name},
            {"$currentDate": {"last_heartbeat": True},
             "$set": {"role": role, **(identity or {})}},
            upsert=True,
        )

    def server_time(self):
        """The database server's clock (``hello``'s ``localTime``): the one clock heartbeat
        ages are measured by, whichever host reads it."""
        reply = self.client.admin.command("hello", codec_options=self.db.codec_options)
        return reply["localTime"]

    def find_worker(self, name: str) -> dict | None:
        return self.workers.find_one({"_id": name})

    def live_worker(self, name: str, cutoff) -> dict | None:
        """The document of ``name`` if it beat at or after ``cutoff``."""
        return self.workers.find_one({"_id": name, "last_heartbeat": {"$gte": cutoff}})

    def take_worker_name(self, name: str, previous: dict | None, fields: dict) -> bool:
        """Write ``fields`` as ``name``'s document unless it changed since ``previous`` was
        read (``None``: there was none); False when another process got there first."""
        from pymongo.errors import DuplicateKeyError

        if previous is None:
            try:
                self.workers.insert_one({"_id": name, **fields})
            except DuplicateKeyError:
                return False
            return True
        taken = self.workers.update_one(
            {"_id": name, "last_heartbeat": previous["last_heartbeat"]}, {"$set": fields})
        return bool(taken.matched_count)

    def workers_seen_since(self, cutoff) -> list[dict]:
        return list(self.workers.find({"last_heartbeat": {"$gte": cutoff}}).sort("_id"))

    def workers_silent_since(self, cutoff):
        """Workers whose last heartbeat is before ``cutoff`` (a cursor)."""
        return self.workers.find({"last_heartbeat": {"$lt": cutoff}})

    def claim_dead_worker(self, doc: dict) -> bool:
        """Delete a silent worker unless it beat meanwhile; True for the one who deleted it."""
        claimed = self.workers.delete_one(
            {"_id": doc["_id"], "last_heartbeat": doc["last_heartbeat"]}
        )
        return bool(claimed.deleted_count)

    def delete_worker(self, name: str) -> None:
        self.workers.delete_one({"_id": name})
