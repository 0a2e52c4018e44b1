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


def repository_rows(platform, may: May) -> list[dict]:
    """Each readable repository with its importer's type, feed and last sync, its unit counts
    and its distributors' last publish: three reads however many repositories there are."""
    store = platform.store
    visible = [r for r in store.list_repositories() if may("READ", repo_resource(r["_id"]))]
    if not visible:
        return []
    importers = {i["repo_id"]: i for i in store.list_importers()}
    distributors = defaultdict(list)
    for dist in store.list_distributors():
        distributors[dist["repo_id"]].append(dist)
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


def _task_row(doc: dict) -> dict:
    row = rep.task(doc)
    for key in ("traceback", "result", "exception"):
        row.pop(key, None)  # the page shows state and error, not what a task returned
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
    """Readable consumers with their (not deleted) bindings: two reads in all."""
    from pulp2ng.db.criteria import parse_criteria

    store = platform.store
    visible = [c for c in store.search_consumers(parse_criteria({}))
               if may("READ", f"/v2/consumers/{c['_id']}/")]
    if not visible:
        return []
    bound = defaultdict(list)
    for binding in store.find_bindings({"deleted": False}):
        bound[binding["consumer_id"]].append(binding)
    return [rep.consumer(c, bound.get(c["_id"], [])) for c in visible]
