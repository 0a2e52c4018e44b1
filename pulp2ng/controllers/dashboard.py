"""What the web dashboard (``/pulp/ui/``) shows and does, in few database reads per page.

Every function takes a ``may(operation, resource)`` predicate (the REST API's own permission
check, bound to the logged-in user) and returns only what it allows, so a page never shows a
repository, task or consumer its user could not GET through the API. Actions dispatch the
very tasks the REST API's ``actions/sync/`` and ``actions/publish/`` dispatch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Callable

from pulp2ng import representations as rep
from pulp2ng.controllers import sync, tasks
from pulp2ng.db.store import now
from pulp2ng.errors import InvalidValue
from pulp2ng.tasking import tags
from pulp2ng.tasking.workers import live_workers

May = Callable[[str, str], bool]

#: Completed tasks the task page starts with (newer ones arrive by polling), from at most
#: RECENT_WINDOW back. SecantusDB workaround: its sort + limit on the ``finish_time`` index
#: still reads every task in the range (800 ms for 5 000), so the window bounds the read.
RECENT_TASKS = 50
RECENT_WINDOW = dt.timedelta(minutes=15)
#: Sync and publish history entries a repository page shows.
HISTORY_ENTRIES = 10
#: How far back a poll reaches before the ``since`` it was given: finish times come from the
#: workers' clocks, and a task finishing while a poll reads must turn up in the next one.
POLL_OVERLAP = dt.timedelta(seconds=5)

_REPO_TAG = tags.repository("")


def repo_resource(repo_id: str) -> str:
    """The v2 resource path grants on a repository are keyed by."""
    return f"/v2/repositories/{repo_id}/"


# -- sessions ------------------------------------------------------------------------------


def password_fingerprint(platform, login: str) -> str | None:
    """A digest of the user's stored password hash (None for no such user). A session keeps
    it and is void once it differs: a password change or a deleted user logs the browser
    out, as it revokes the user's login certificates."""
    user = platform.store.find_user_password(login)
    if not user:
        return None
    return hashlib.sha256(user.get("password", "").encode()).hexdigest()[:32]


# -- repositories --------------------------------------------------------------------------


def schedule_summaries(docs: list[dict]) -> list[dict]:
    """Per owner (the importer's sync schedules, each distributor's publish schedules): how
    many schedules, how many enabled, and the earliest next run of an enabled one."""
    owners: dict[tuple[str, str], dict] = {}
    for doc in docs:
        owner = doc.get("importer_type_id") if doc["kind"] == "sync" else doc.get(
            "distributor_id")
        entry = owners.setdefault((doc["kind"], owner), {
            "kind": doc["kind"], "owner": owner, "count": 0, "enabled": 0, "next_run": None})
        entry["count"] += 1
        if doc.get("enabled"):
            entry["enabled"] += 1
            if doc.get("next_run") and (entry["next_run"] is None
                                        or doc["next_run"] < entry["next_run"]):
                entry["next_run"] = doc["next_run"]
    return [dict(e, next_run=rep.jsonable(e["next_run"]))
            for _, e in sorted(owners.items(), key=lambda kv: (kv[0][0] != "sync", kv[0][1]))]


def repository_rows(platform, may: May) -> list[dict]:
    """Each readable repository with its importer's type, feed and last sync, its unit counts,
    its distributors' last publish and its schedules: four reads however many repositories
    there are."""
    store = platform.store
    visible = [r for r in store.list_repositories() if may("READ", repo_resource(r["_id"]))]
    if not visible:
        return []
    importers = {i["repo_id"]: i for i in store.list_importers()}
    distributors = defaultdict(list)
    for dist in store.list_distributors():
        distributors[dist["repo_id"]].append(dist)
    shown = {r["_id"] for r in visible}
    schedules = defaultdict(list)
    for doc in store.repository_schedules():
        if doc.get("repo_id") in shown:
            schedules[doc["repo_id"]].append(doc)
    rows = []
    for repo in visible:
        imp = importers.get(repo["_id"])
        dists = distributors.get(repo["_id"], [])
        published = [d for d in dists if d.get("last_publish")]
        last = max(published, key=lambda d: d["last_publish"]) if published else None
        rows.append({
            "id": repo["_id"],
            "display_name": repo.get("display_name") or repo["_id"],
            "type": imp["importer_type_id"] if imp else (
                dists[0]["distributor_type_id"] if dists else None),
            "feed": ((imp or {}).get("config") or {}).get("feed"),
            "content_unit_counts": repo.get("content_unit_counts") or {},
            "last_sync": rep.jsonable((imp or {}).get("last_sync")),
            "last_sync_result": (imp or {}).get("last_sync_result"),
            "last_publish": rep.jsonable(last["last_publish"]) if last else None,
            "last_publish_result": last.get("last_publish_result") if last else None,
            "schedules": schedule_summaries(schedules.get(repo["_id"], [])),
            "may_sync": imp is not None and may("EXECUTE", repo_resource(repo["_id"])),
        })
    return rows


def repository_page(platform, repo_id: str, may: May) -> dict:
    """One repository as the API shows it (secrets masked by the representations), its
    latest sync and publish history, and whether the user may sync or publish it."""
    store = platform.store
    repo = store.get_repository(repo_id)
    imp = store.find_importer(repo_id)
    dists = store.find_distributors(repo_id)
    args = {"limit": str(HISTORY_ENTRIES)}
    return {
        "repository": rep.repository(repo),
        "importer": rep.importer(imp) if imp else None,
        "last_sync_result": (imp or {}).get("last_sync_result"),
        "distributors": [dict(rep.distributor(d),
                              last_publish_result=d.get("last_publish_result"))
                         for d in dists],
        "schedules": [rep.schedule(d) for d in store.list_schedules({"repo_id": repo_id})],
        "sync_history": sync.sync_history(platform, repo_id, args),
        "publish_history": [dict(entry, distributor_id=d["id"]) for d in dists
                            for entry in sync.publish_history(platform, repo_id, d["id"],
                                                              args)],
        "may_execute": may("EXECUTE", repo_resource(repo_id)),
    }


def sync_repository(platform, repo_id: str, login: str) -> str:
    """Queue a sync as ``POST …/actions/sync/`` does; its requester may follow it."""
    task_id = sync.queue_sync(platform, repo_id)
    tasks.record_requester(platform, [task_id], login)
    return task_id


def publish_repository(platform, repo_id: str, dist_id: str, login: str) -> str:
    """Queue a publish as ``POST …/actions/publish/`` with ``{"id": dist_id}`` does."""
    platform.store.get_distributor(repo_id, dist_id)
    task_id = sync.queue_publish(platform, repo_id, dist_id)
    tasks.record_requester(platform, [task_id], login)
    return task_id


# -- tasks ---------------------------------------------------------------------------------


def _may_see_task(doc: dict, login: str, may: May) -> bool:
    """The REST API's rule for ``GET /v2/tasks/<id>/``, judged from the task document."""
    if doc.get("requested_by") == login or may("READ", f"/v2/tasks/{doc['_id']}/"):
        return True
    return any(may("READ", repo_resource(t[len(_REPO_TAG):]))
               for t in doc.get("tags") or () if t.startswith(_REPO_TAG))


#: Step states (any case) that count a step without counters as done.
_STEP_DONE = {"finished", "complete", "completed", "skipped", "failed", "cancelled",
              "canceled"}


def _counters(node: dict) -> tuple[int, int]:
    """(done, total) of the counters one report object carries: Pulp's step reports
    (``items_total`` with ``num_processed``, or with ``items_left`` as pulp_rpm's sync
    has), ``num_<x>``/``num_<x>_finished`` (ISO) and ``<x>_total``/``<x>_finished``
    (Docker blobs)."""
    def num(key):
        value = node.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    done = total = 0
    if num("items_total") is not None:
        if num("num_processed") is not None:
            done, total = num("num_processed"), num("items_total")
        elif num("items_left") is not None:
            done, total = num("items_total") - num("items_left"), num("items_total")
    for key in node:
        if not isinstance(key, str) or not key.endswith("_finished"):
            continue
        stem = key[:-len("_finished")]
        if stem.endswith("bytes"):
            continue  # bytes would swamp the item counts beside them
        whole = num(f"{stem}_total")
        whole = num(stem) if whole is None else whole
        if whole is not None and num(key) is not None:
            done, total = done + num(key), total + whole
    return done, total


def progress_of(report, finished: bool = False) -> dict | None:
    """``{"done", "total"}`` for a task's progress bar, from whatever ``progress_report``
    shape its plugins use, or None when it says nothing measurable.

    Items counted by any plugin report win (an RPM publish's ``items_total``/
    ``num_processed``, an ISO sync's ``num_isos``/``num_isos_finished``); reports with
    steps but no counts (the ISO, Python and Docker distributors' ``{"state": …}``, the
    OSTree distributor's list of steps) count finished steps instead. A finished task
    is full."""
    items = [0, 0]
    steps = [0, 0]

    def walk(node):
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        done, total = _counters(node)
        items[0] += done
        items[1] += total
        if isinstance(node.get("state"), str):
            steps[1] += 1
            steps[0] += node["state"].lower() in _STEP_DONE
        for value in node.values():
            if isinstance(value, (dict, list)):
                walk(value)

    walk(report)
    done, total = items if items[1] > 0 else steps
    if total <= 0:
        return None
    return {"done": total if finished else max(0, min(done, total)), "total": total}


def _task_row(doc: dict) -> dict:
    """A task as the page shows it: its bar's figures instead of the raw progress report
    (smaller polls), and neither what it returned nor its traceback."""
    row = rep.task(doc)
    for key in ("traceback", "result", "exception", "progress_report"):
        row.pop(key, None)
    row["progress"] = progress_of(doc.get("progress_report"), doc.get("state") == "finished")
    return row


def live_tasks(platform, login: str, may: May, since: str | None = None) -> dict:
    """The waiting and running tasks plus those completed since ``since`` (an ISO time a
    previous answer gave as ``now``; without it, the latest :data:`RECENT_TASKS` of the last
    :data:`RECENT_WINDOW`).

    Two indexed reads whose size is the number of active and just-finished tasks, never the
    task history: a browser polling every second costs the same with 1 000 old tasks.
    """
    moment = now()
    if since:
        try:
            start = dt.datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidValue(["since"], "since must be an ISO 8601 time") from None
        start = (start if start.tzinfo else start.replace(tzinfo=dt.timezone.utc))
        finished = platform.store.tasks_finished_since(start - POLL_OVERLAP, tasks.HIDDEN)
    else:
        finished = platform.store.tasks_finished_since(moment - RECENT_WINDOW, tasks.HIDDEN,
                                                       RECENT_TASKS)
    active = platform.store.incomplete_tasks(tasks.HIDDEN)
    shown = [_task_row(d) for d in active + finished if _may_see_task(d, login, may)]
    return {"now": rep.jsonable(moment), "tasks": shown}


# -- workers and consumers -----------------------------------------------------------------


def workers(platform) -> list[dict]:
    """Live workers and the scheduler with their last heartbeats (public in ``status/``)."""
    return [{"name": w["_id"], "role": w.get("role", "worker"),
             "last_heartbeat": rep.jsonable(w["last_heartbeat"])}
            for w in live_workers(platform)]


def consumers(platform, may: May) -> list[dict]:
    """Readable consumers with their (not deleted) bindings and applicability counts: five
    reads in all, however many consumers (see :func:`applicability_counts`)."""
    from pulp2ng.db.criteria import parse_criteria

    store = platform.store
    visible = [c for c in store.search_consumers(parse_criteria({}))
               if may("READ", f"/v2/consumers/{c['_id']}/")]
    if not visible:
        return []
    bound = defaultdict(list)
    for binding in store.find_bindings({"deleted": False}):
        bound[binding["consumer_id"]].append(binding)
    counts = applicability_counts(
        platform, {c["_id"]: {b["repo_id"] for b in bound.get(c["_id"], [])} for c in visible})
    return [dict(rep.consumer(c, bound.get(c["_id"], [])), applicability=counts[c["_id"]])
            for c in visible]


def applicability_counts(platform, bound: dict[str, set[str]]) -> dict[str, dict]:
    """Per consumer: how many units of each type apply to it over its bound repositories,
    read from the stored applicability (never computed here: a page view must not start a
    computation over every consumer), with its ``status``: ``current``, ``stale`` (some
    repository changed since: the counts are the old ones), ``missing`` (some pair never
    computed) or None (no profile or no binding, so nothing to count).

    Three reads: the profiles' hashes, the repositories' revisions and the stored results
    (each a projected scan or a short ``$in``; no read per consumer)."""
    from pulp2ng.controllers.applicability import calculators
    from pulp2ng.db.profiles import applicability_doc_id

    store = platform.store
    out = {c: {"counts": {}, "status": None} for c in bound}
    with_repos = {c for c, repos in bound.items() if repos}
    if not with_repos:
        return out
    profiles = defaultdict(list)
    for p in store.profiles_of(with_repos, calculators(platform)):
        profiles[p["consumer_id"]].append((p["profile_hash"], p["content_type"]))
    if not profiles:
        return out
    revisions = store.repository_revisions({r for c in profiles for r in bound[c]})
    wanted = {c: [applicability_doc_id(phash, ctype, repo) for phash, ctype in keys
                  for repo in bound[c] if repo in revisions]
              for c, keys in profiles.items()}
    stored = store.stored_applicability({d for ids in wanted.values() for d in ids})
    for consumer, doc_ids in wanted.items():
        found: dict[str, set[str]] = defaultdict(set)
        status = "current"
        for doc_id in doc_ids:
            doc = stored.get(doc_id)
            if doc is None:
                status = "missing"
                continue
            if doc.get("repo_revision") != revisions[doc["repo_id"]] and status == "current":
                status = "stale"
            for type_id, ids in (doc.get("applicability") or {}).items():
                if ids:  # as the API's applicability query, a type with none is left out
                    found[type_id].update(ids)
        out[consumer] = {"counts": {t: len(ids) for t, ids in sorted(found.items())},
                         "status": status if doc_ids else None}
    return out
