"""The v2 JSON shapes of stored documents, shared by the API and by task results.

Every document a client sees goes through one of these functions: they add ``_href``, ``_ns``
and ``id``, turn datetimes into Pulp's ISO strings and mask secrets.
"""

from __future__ import annotations

import datetime as dt

from pulp2ng.content.download import SECRET_KEYS
from pulp2ng.db import orphan_guard
from pulp2ng.db.store import isoformat
from pulp2ng.secrets import MASK, NOTIFIER_SECRET_KEYS

API = "/pulp/api/v2"

#: Protocol fields of stored units that clients never see.
_HIDDEN_UNIT_FIELDS = (orphan_guard.GUARD,)

_TASK_FIELDS = (
    "task_id", "task_type", "state", "worker_name", "start_time", "finish_time",
    "progress_report", "result", "error", "exception", "traceback", "tags",
)


def jsonable(value):
    """Datetimes → ISO strings, recursively; everything else unchanged."""
    if isinstance(value, dt.datetime):
        return isoformat(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def mask_secrets(config: dict | None) -> dict:
    """A config with every secret value replaced by ``*****``."""
    return {k: (MASK if k in SECRET_KEYS and v else v) for k, v in (config or {}).items()}


def repository(repo: dict, importers=None, distributors=None) -> dict:
    doc = {
        "_href": f"{API}/repositories/{repo['_id']}/",
        "_id": {"$oid": repo.get("oid", repo["_id"])},
        "_ns": "repos",
        "id": repo["_id"],
        "display_name": repo.get("display_name"),
        "description": repo.get("description"),
        "notes": repo.get("notes", {}),
        "scratchpad": repo.get("scratchpad", {}),
        "content_unit_counts": repo.get("content_unit_counts", {}),
        "last_unit_added": repo.get("last_unit_added"),
        "last_unit_removed": repo.get("last_unit_removed"),
    }
    if importers is not None:
        doc["importers"] = [importer(i) for i in importers]
    if distributors is not None:
        doc["distributors"] = [distributor(d) for d in distributors]
    return jsonable(doc)


def importer(imp: dict) -> dict:
    return jsonable({
        "_href": f"{API}/repositories/{imp['repo_id']}/importers/{imp['importer_type_id']}/",
        "_id": {"$oid": imp["_id"]},
        "_ns": "repo_importers",
        "id": imp["importer_type_id"],
        "importer_type_id": imp["importer_type_id"],
        "repo_id": imp["repo_id"],
        "config": mask_secrets(imp.get("config")),
        "scratchpad": imp.get("scratchpad"),
        "last_sync": imp.get("last_sync"),
        "last_updated": imp.get("last_updated"),
        # Never echo stored overrides: they may hold credentials (CVE-2018-1090).
        "last_override_config": {},
    })


def distributor(dist: dict) -> dict:
    return jsonable({
        "_href": f"{API}/repositories/{dist['repo_id']}/distributors/{dist['id']}/",
        "_id": {"$oid": dist["_id"]},
        "_ns": "repo_distributors",
        "id": dist["id"],
        "distributor_type_id": dist["distributor_type_id"],
        "repo_id": dist["repo_id"],
        "config": mask_secrets(dist.get("config")),
        "auto_publish": dist.get("auto_publish", False),
        "last_publish": dist.get("last_publish"),
        "last_updated": dist.get("last_updated"),
        "last_override_config": {},
        "scratchpad": dist.get("scratchpad"),
    })


def only_fields(docs: list[dict], fields: list[str] | None, always: set[str]) -> list[dict]:
    """Trim rendered documents to a criteria's ``fields`` (plus what links them: ``always``)."""
    if not fields:
        return docs
    keep = set(fields) | always
    return [{k: v for k, v in d.items() if k in keep} for d in docs]


def task_link(task_id: str) -> dict:
    return {"_href": f"{API}/tasks/{task_id}/", "task_id": task_id}


def call_report(report) -> dict:
    doc = {
        "result": jsonable(report.result),
        "error": report.error,
        "spawned_tasks": [task_link(t) for t in report.spawned_tasks],
    }
    if getattr(report, "warnings", None):
        doc["warnings"] = list(report.warnings)
    return doc


def task(status: dict, with_queue: bool = False) -> dict:
    doc = {"_href": f"{API}/tasks/{status['_id']}/", "_ns": "task_status",
           "id": status["_id"]}
    doc.update({k: status.get(k) for k in _TASK_FIELDS})
    doc["task_id"] = status["_id"]
    doc["spawned_tasks"] = [task_link(t) for t in status.get("spawned_tasks") or []]
    if with_queue:
        doc["queue"] = status.get("queue")
    return jsonable(doc)


#: The states a task group's summary counts, in Pulp 2's order (pulp2ng never writes
#: ``accepted`` or ``suspended``: they stay 0).
_SUMMARY_STATES = ("waiting", "skipped", "accepted", "running", "suspended", "finished",
                   "error", "canceled")


def task_group_summary(counts: dict[str, int]) -> dict:
    """``task_groups/<id>/state_summary/``: ``total`` and a count for every state."""
    return {"total": sum(counts.values()),
            **{state: counts.get(state, 0) for state in _SUMMARY_STATES}}


def history_entry(doc: dict) -> dict:
    out = {k: v for k, v in doc.items() if k not in ("_id", "override_config")}
    out["id"] = str(doc["_id"])
    out["_id"] = {"$oid": str(doc["_id"])}
    return jsonable(out)


def unit(doc: dict, href: bool = True) -> dict:
    """A unit as the API shows it: stored fields minus protocol ones, plus links."""
    out = {k: v for k, v in doc.items() if k not in _HIDDEN_UNIT_FIELDS}
    if href:
        out["_href"] = f"{API}/content/units/{doc['_content_type_id']}/{doc['_id']}/"
        out["children"] = {}
    return jsonable(out)


def _public_association_id(stored: str) -> str:
    return stored.replace("\x1f", ":")


def association(assoc: dict, unit_doc: dict | None, fields: list | None = None) -> dict:
    """A repository-unit association with its unit as ``metadata``."""
    doc = {
        "_id": {"$oid": _public_association_id(assoc["_id"])},
        "id": _public_association_id(assoc["_id"]),
        "_ns": "repo_content_units",
        "repo_id": assoc["repo_id"],
        "unit_id": assoc["unit_id"],
        "unit_type_id": assoc["unit_type_id"],
        "created": assoc.get("created"),
        "updated": assoc.get("updated"),
    }
    if fields:
        doc = {k: v for k, v in doc.items()
               if k in fields or k in ("_id", "id", "_ns", "repo_id", "unit_id", "unit_type_id")}
    doc["metadata"] = unit(unit_doc, href=False) if unit_doc is not None else None
    return jsonable(doc)


def schedule(doc: dict) -> dict:
    """A sync (per importer), publish (per distributor) or content action (per consumer)
    schedule."""
    kwargs = {"overrides": mask_secrets(doc.get("override_config")),
              "scheduled_call_id": doc["_id"]}
    if doc["kind"] == "content":
        base = f"{API}/consumers/{doc['consumer_id']}/schedules/content/{doc['action']}/"
        task, args = f"pulp2ng.agent.{doc['action']}", [doc["consumer_id"]]
        resource = f"pulp:consumer:{doc['consumer_id']}"
        kwargs = {"units": doc.get("units") or [],
                  "options": mask_secrets(doc.get("options")),
                  "scheduled_call_id": doc["_id"]}
    elif doc["kind"] == "sync":
        base = (f"{API}/repositories/{doc['repo_id']}/importers/"
                f"{doc['importer_type_id']}/schedules/sync/")
        task, args = "pulp2ng.tasks.repository.sync", [doc["repo_id"]]
        resource = f"pulp:importer:{doc['repo_id']}:{doc['importer_type_id']}"
    else:
        base = (f"{API}/repositories/{doc['repo_id']}/distributors/"
                f"{doc['distributor_id']}/schedules/publish/")
        task, args = "pulp2ng.tasks.repository.publish", [doc["repo_id"], doc["distributor_id"]]
        resource = f"pulp:distributor:{doc['repo_id']}:{doc['distributor_id']}"
    return jsonable({
        "_id": doc["_id"], "_href": f"{base}{doc['_id']}/", "schedule": doc["schedule"],
        "task": task, "args": args, "kwargs": kwargs,
        "resource": resource, "enabled": doc["enabled"],
        "failure_threshold": doc.get("failure_threshold"),
        "consecutive_failures": doc.get("consecutive_failures", 0),
        "remaining_runs": doc.get("remaining_runs"), "first_run": doc.get("first_run"),
        "next_run": doc.get("next_run"), "last_run_at": doc.get("last_run_at"),
        "total_run_count": doc.get("total_run_count", 0),
        "last_updated": doc.get("last_updated"),
    })


def user(doc: dict) -> dict:
    """A user; the password hash and certificate token never leave the server."""
    return {
        "_href": f"{API}/users/{doc['_id']}/",
        "_id": {"$oid": doc["_id"]},
        "_ns": "users",
        "id": doc["_id"],
        "login": doc["_id"],
        "name": doc.get("name") or doc["_id"],
        "roles": list(doc.get("roles", [])),
    }


def role(doc: dict, users: list[str], permissions: dict) -> dict:
    return {
        "_href": f"{API}/roles/{doc['_id']}/",
        "_id": {"$oid": doc["_id"]},
        "_ns": "roles",
        "id": doc["_id"],
        "display_name": doc.get("display_name") or doc["_id"],
        "description": doc.get("description"),
        "permissions": permissions,
        "users": users,
    }


def permission(entry: dict) -> dict:
    return {"_id": {"$oid": entry["resource"]}, "_ns": "permissions", "id": entry["resource"],
            **entry}


def event_listener(doc: dict) -> dict:
    """An event listener (§1.12) with its notifier secrets masked and its last delivery."""
    config = {k: (MASK if k in NOTIFIER_SECRET_KEYS and v else v)
              for k, v in (doc.get("notifier_config") or {}).items()}
    return jsonable({
        "_href": f"{API}/events/{doc['_id']}/",
        "_id": {"$oid": doc["_id"]},
        "id": doc["_id"],
        "notifier_type_id": doc["notifier_type_id"],
        "notifier_config": config,
        "event_types": doc["event_types"],
        "last_delivery": doc.get("last_delivery"),
    })


def repo_group(doc: dict) -> dict:
    """A repository group (Pulp 2's ``repo_groups`` collection)."""
    return jsonable({
        "_href": f"{API}/repo_groups/{doc['_id']}/",
        "_id": {"$oid": doc["_id"]},
        "_ns": "repo_groups",
        "id": doc["_id"],
        "display_name": doc.get("display_name"),
        "description": doc.get("description"),
        "repo_ids": list(doc.get("repo_ids") or []),
        "notes": doc.get("notes") or {},
    })


def consumer_group(doc: dict) -> dict:
    """A consumer group (Pulp 2's ``consumer_groups`` collection)."""
    return jsonable({
        "_href": f"{API}/consumer_groups/{doc['_id']}/",
        "_id": {"$oid": doc["_id"]},
        "_ns": "consumer_groups",
        "id": doc["_id"],
        "display_name": doc.get("display_name"),
        "description": doc.get("description"),
        "consumer_ids": list(doc.get("consumer_ids") or []),
        "notes": doc.get("notes") or {},
        "scratchpad": doc.get("scratchpad"),
    })


def group_distributor(dist: dict) -> dict:
    """A group distributor (Pulp 2's ``repo_group_distributors``)."""
    return jsonable({
        "_href": f"{API}/repo_groups/{dist['group_id']}/distributors/{dist['id']}/",
        "_id": {"$oid": dist["_id"]},
        "_ns": "repo_group_distributors",
        "id": dist["id"],
        "distributor_type_id": dist["distributor_type_id"],
        "repo_group_id": dist["group_id"],
        "config": mask_secrets(dist.get("config")),
        "last_publish": dist.get("last_publish"),
        "scratchpad": dist.get("scratchpad"),
    })


def consumer(doc: dict, bindings: list[dict] | None = None) -> dict:
    """A consumer (Pulp 2's ``consumers``); its certificate token never leaves the server."""
    body = {
        "_href": f"{API}/consumers/{doc['_id']}/",
        "_id": {"$oid": doc["_id"]},
        "_ns": "consumers",
        "id": doc["_id"],
        "display_name": doc.get("display_name") or doc["_id"],
        "description": doc.get("description"),
        "notes": doc.get("notes") or {},
        "rsa_pub": doc.get("rsa_pub"),
        "capabilities": doc.get("capabilities") or {},
    }
    if bindings is not None:
        body["bindings"] = [binding(b) for b in bindings]
    return body


def binding(doc: dict, details: dict | None = None) -> dict:
    """A consumer's binding; ``details`` (the distributor's payload) on a single GET."""
    body = jsonable({
        "_href": f"{API}/consumers/{doc['consumer_id']}/bindings/{doc['repo_id']}/"
                 f"{doc['distributor_id']}/",
        "_id": {"$oid": doc["_id"]},
        "_ns": "consumer_bindings",
        "consumer_id": doc["consumer_id"],
        "repo_id": doc["repo_id"],
        "distributor_id": doc["distributor_id"],
        "type_id": doc.get("type_id"),
        "notify_agent": doc.get("notify_agent", True),
        "binding_config": doc.get("binding_config") or {},
        "consumer_actions": doc.get("consumer_actions") or [],
        "deleted": bool(doc.get("deleted")),
    })
    if details is not None:
        body["details"] = details
    return body


def consumer_event(doc: dict) -> dict:
    return jsonable({
        "_id": {"$oid": str(doc["_id"])},
        "id": str(doc["_id"]),
        "consumer_id": doc["consumer_id"],
        "type": doc["type"],
        "details": doc.get("details"),
        "originator": doc.get("originator"),
        "timestamp": doc.get("timestamp"),
    })


def profile(doc: dict) -> dict:
    """A consumer's profile of one content type (Pulp 2's ``consumer_unit_profiles``)."""
    return {
        "_href": f"{API}/consumers/{doc['consumer_id']}/profiles/{doc['content_type']}/",
        "_id": {"$oid": doc["oid"]},
        "_ns": "consumer_unit_profiles",
        "consumer_id": doc["consumer_id"],
        "content_type": doc["content_type"],
        "profile": doc.get("profile"),
        "profile_hash": doc["profile_hash"],
    }
