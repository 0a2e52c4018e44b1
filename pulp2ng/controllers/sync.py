"""Sync and publish: the engine around importer and distributor plugins.

Counts are computed by the platform from the repository's association set before and after
the plugin ran, never trusted from the plugin. Every content change bumps the repository's
``revision``; a distributor remembers the revision and configuration it last published, so a
publish with nothing new is ``skipped`` (unless ``force_full``) without relying on clocks.
"""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Callable
from contextlib import contextmanager


from pulp2ng import representations as rep
from pulp2ng.controllers import events
from pulp2ng.controllers.plugin_calls import call_config, transfer_repo
from pulp2ng.controllers.repositories import resource, take_down_tree
from pulp2ng.db.repositories import new_history_id
from pulp2ng.db.store import now
from pulp2ng.errors import InvalidValue, MissingResource, PublishError, SyncError, TaskCanceled
from pulp2ng.plugin.base import PublishReport, SyncReport
from pulp2ng.plugin.conduits import PublishConduit, SyncConduit
from pulp2ng.tasking import tags
from pulp2ng.tasking.dispatch import CallReport, TaskResult, dispatch
from pulp2ng.tasking.registry import task

_NOT_COMPARED = ("force_full",)


# -- queueing -----------------------------------------------------------------------------


def queue_sync(platform, repo_id: str, override_config=None,
               scheduled_call_id: str | None = None) -> str:
    platform.store.get_repository(repo_id)
    override_config = _override(override_config)
    return dispatch(
        platform, sync_task, resource=resource(repo_id),
        tags=[tags.repository(repo_id), tags.action("sync")],
        kwargs={"repo_id": repo_id, "override_config": override_config},
        scheduled_call_id=scheduled_call_id,
    )


def queue_publish(platform, repo_id: str, dist_id: str, override_config=None,
                  scheduled_call_id: str | None = None) -> str:
    platform.store.get_repository(repo_id)
    override_config = _override(override_config)
    return dispatch(
        platform, publish_task, resource=resource(repo_id),
        tags=[tags.repository(repo_id), tags.action("publish")],
        kwargs={"repo_id": repo_id, "dist_id": dist_id, "override_config": override_config},
        scheduled_call_id=scheduled_call_id,
    )


def sync_call_report(platform, repo_id: str, body: dict) -> CallReport:
    return CallReport(spawned_tasks=[queue_sync(platform, repo_id, body.get("override_config"))])


def publish_call_report(platform, repo_id: str, body: dict) -> CallReport:
    platform.store.get_repository(repo_id)
    dist_id = body.get("id")
    if not isinstance(dist_id, str) or not dist_id:
        from pulp2ng.errors import MissingValue

        raise MissingValue(["id"])
    return CallReport(spawned_tasks=[
        queue_publish(platform, repo_id, dist_id, body.get("override_config"))
    ])


def _override(value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidValue(["override_config"], "override_config must be an object")
    return value


# -- sync -----------------------------------------------------------------------------------


@task("pulp2ng.tasks.repository.sync")
def sync_task(ctx, repo_id: str, override_config: dict):
    platform = ctx.platform
    store = platform.store
    repo = store.get_repository(repo_id)
    imp = store.find_importer(repo_id)
    if imp is None:
        raise MissingResource(repository=repo_id, importer="")
    cls = platform.plugins.importers.get(imp["importer_type_id"])
    if cls is None:
        raise SyncError(f"importer type {imp['importer_type_id']} is not installed")
    config = call_config(platform, cls, imp.get("config") or {}, override_config)
    conduit = SyncConduit(platform, ctx, repo_id, imp["importer_type_id"])
    before = store.repo_association_ids(repo_id)
    conduit.know_associations(before)
    started = now()
    entry = {
        "_id": new_history_id(), "repo_id": repo_id, "importer_id": imp["importer_type_id"],
        "importer_type_id": imp["importer_type_id"], "started": started,
        "summary": {}, "details": {}, "error_message": None, "exception": None,
        "traceback": None,
    }
    report: SyncReport | None = None
    events.emit(platform, "repo.sync.start", {"repo_id": repo_id}, ctx.task_id)
    with _recorded(entry, lambda: _record_sync(
            platform, ctx, conduit, imp, before, entry, report, override_config)):
        working = platform.storage.working_dir(ctx.task_id)
        report = cls().sync_repo(transfer_repo(platform, repo, working), conduit, config)
        if not isinstance(report, SyncReport):
            report = None
            entry["result"] = "error"
            entry["error_message"] = "The importer did not return a sync report"
        elif report.canceled_flag:
            entry["result"] = "canceled"
        else:
            entry["result"] = "success" if report.success_flag else "failed"
    if entry["result"] != "success":
        raise SyncError(entry.get("error_message") or f"Sync {entry['result']}",
                        summary=entry["summary"])
    spawned = [
        queue_publish(platform, repo_id, d["id"])
        for d in store.find_distributors(repo_id) if d.get("auto_publish")
    ]
    return TaskResult(result=rep.history_entry(entry), spawned_tasks=spawned)


def _record_sync(platform, ctx, conduit, imp, before, entry, report, override_config) -> None:
    """Always runs: counts, timestamps and the history entry, whatever the outcome."""
    store = platform.store
    repo_id = conduit.repo_id
    # A sync that changed no association (a no-op re-sync) needs no second scan.
    associations = store.repo_association_ids(repo_id) if conduit.associations_changed \
        else before
    after = associations.keys()
    hidden = platform.plugins.internal_types  # a plugin's bookkeeping units are not content
    added = sum(1 for uid in after - before.keys() if associations[uid] not in hidden)
    removed = sum(1 for uid in before.keys() - after if before[uid] not in hidden)
    completed = now()
    entry["completed"] = completed
    if report is not None:
        entry["summary"], entry["details"] = report.summary, report.details
    entry["added_count"] = added
    entry["removed_count"] = removed
    entry["updated_count"] = 0
    note_content_change(platform, repo_id, added, removed, associations)
    # Sealed: a per-call override may carry credentials (CVE-2018-1090).
    override = platform.secrets.seal(
        {k: v for k, v in override_config.items() if k not in _NOT_COMPARED})
    # last_sync_result: the dashboard lists every repository's outcome without its history.
    store.set_importer_fields(imp["_id"],
                              {"last_sync": completed, "last_override_config": override,
                               "last_sync_result": entry.get("result")})
    store.insert_sync_result(entry)
    platform.storage.drop_working_dir(ctx.task_id)
    ctx.flush_progress()
    events.emit(platform, "repo.sync.finish", rep.history_entry(entry), ctx.task_id)


def note_content_change(platform, repo_id: str, added: int, removed: int,
                        associations: dict | None = None) -> None:
    """Recount units and bump the revision and timestamps after any content change."""
    platform.store.rebuild_unit_counts(repo_id, associations)
    if not (added or removed):
        return
    changes: dict = {}
    stamp = now()
    if added:
        changes["last_unit_added"] = stamp
    if removed:
        changes["last_unit_removed"] = stamp
    platform.store.note_repository_change(repo_id, changes)


@contextmanager
def _recorded(entry: dict, record: Callable[[], None]):
    """Run a sync or publish: a cancel or an error ends up in its history ``entry``, and
    ``record`` (which writes the entry) runs whatever the outcome."""
    try:
        yield
    except TaskCanceled:
        entry["result"] = "canceled"
        raise
    except Exception as exc:
        entry.update(result="error", error_message=str(exc), exception=repr(exc),
                     traceback=traceback.format_exc().splitlines())
        raise
    finally:
        record()


# -- publish -------------------------------------------------------------------------------


@task("pulp2ng.tasks.repository.publish")
def publish_task(ctx, repo_id: str, dist_id: str, override_config: dict):
    platform = ctx.platform
    store = platform.store
    repo = store.get_repository(repo_id)
    dist = store.get_distributor(repo_id, dist_id)
    cls = platform.plugins.distributors.get(dist["distributor_type_id"])
    if cls is None:
        raise PublishError(f"distributor type {dist['distributor_type_id']} is not installed")
    started = now()
    entry = {
        "_id": new_history_id(), "repo_id": repo_id, "distributor_id": dist_id,
        "distributor_type_id": dist["distributor_type_id"], "started": started,
        "summary": {}, "details": {}, "error_message": None, "exception": None,
        "traceback": None,
    }
    override = {k: v for k, v in override_config.items() if k not in _NOT_COMPARED}
    # Secrets in the stamp are keyed digests: comparable, never readable (CVE-2018-1090).
    stamp = {"revision": repo.get("revision", 0), "config_updated": dist.get("last_updated"),
             "override": platform.secrets.redact(override)}
    reason = _skip_reason(dist, stamp, override_config)
    start_payload = {"repo_id": repo_id, "distributor_id": dist_id}
    events.emit(platform, "repo.publish.start", start_payload, ctx.task_id)
    if reason:
        entry.update(result="skipped", summary=f"Skipped: {reason}",
                     details=f"Skipped: {reason}", completed=now())
        store.insert_publish_result(entry)
        store.set_distributor_fields(dist["_id"], {"last_publish": started,
                                                   "last_publish_result": "skipped"})
        events.emit(platform, "repo.publish.finish", rep.history_entry(entry), ctx.task_id)
        return rep.history_entry(entry)
    conduit = PublishConduit(platform, ctx, repo_id, dist_id)
    config = call_config(platform, cls, dist.get("config") or {}, override_config)
    plugin = cls()

    def record() -> None:
        entry["completed"] = now()
        store.insert_publish_result(entry)
        store.set_distributor_fields(dist["_id"], {"last_publish_result": entry.get("result")})
        platform.storage.drop_working_dir(ctx.task_id)
        events.emit(platform, "repo.publish.finish", rep.history_entry(entry), ctx.task_id)

    with _recorded(entry, record):
        working = platform.storage.working_dir(ctx.task_id)
        view = transfer_repo(platform, repo, working)
        report = plugin.publish_repo(view, conduit, config)
        if not isinstance(report, PublishReport) or not report.success_flag:
            summary = getattr(report, "summary", None)
            raise PublishError(f"Distributor {dist_id} reported a failure: {summary}")
        entry.update(result="success", summary=report.summary, details=report.details)
    location = plugin.publish_location(view, config)
    location = list(location) if location else None
    store.set_distributor_fields(
        dist["_id"],
        {"last_publish": started, "published": stamp,
         "last_override_config": platform.secrets.seal(override),
         "published_location": location},
    )
    if dist.get("published_location") not in (None, location):  # relative_url changed
        take_down_tree(platform, conduit, dist, dist["published_location"])
    return rep.history_entry(entry)


def _skip_reason(dist: dict, stamp: dict, override_config: dict) -> str | None:
    if override_config.get("force_full"):
        return None
    published = dist.get("published")
    if not published:
        return None
    if published == stamp:
        return "Repository content has not changed since last publish."
    return None


# -- history -------------------------------------------------------------------------------


def sync_history(platform, repo_id: str, args) -> list[dict]:
    platform.store.get_repository(repo_id)
    return _history(platform.store.sync_results_page, {"repo_id": repo_id}, args)


def publish_history(platform, repo_id: str, dist_id: str, args) -> list[dict]:
    platform.store.get_repository(repo_id)
    platform.store.get_distributor(repo_id, dist_id)
    return _history(platform.store.publish_results_page,
                    {"repo_id": repo_id, "distributor_id": dist_id}, args)


def _history(page, query: dict, args) -> list[dict]:
    """``limit``, ``sort`` (ascending/descending by start), ``start_date``, ``end_date``."""
    bad = []
    limit = args.get("limit")
    if limit is not None:
        try:
            limit = int(limit)
            if not 1 <= limit < 1 << 63:  # MongoDB limits are signed 64-bit
                raise ValueError
        except ValueError:
            bad.append("limit")
    sort = args.get("sort", "descending")
    if sort not in ("ascending", "descending"):
        bad.append("sort")
    window = {}
    for name, op in (("start_date", "$gte"), ("end_date", "$lt")):
        if args.get(name):
            try:
                value = dt.datetime.fromisoformat(args[name].replace("Z", "+00:00"))
            except ValueError:
                bad.append(name)
                continue
            value = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
            if op == "$lt":
                # Dates are shown to the second: an end date names its whole second.
                value += dt.timedelta(seconds=1) if not value.microsecond else dt.timedelta(0)
            window[op] = value
    if bad:
        raise InvalidValue(bad, f"Invalid history query parameters: {bad}")
    if window:
        query = dict(query, started=window)
    direction = 1 if sort == "ascending" else -1
    return [rep.history_entry(d) for d in page(query, direction, limit)]


def record_lost(platform, task: dict, error: Exception) -> None:
    """The ``error`` history entry of a sync or publish whose worker died mid-task (the task
    itself could not write one). Counts are null, as for any sync that raised; the content
    counts are recounted from what the associations hold now."""
    kind = "sync" if task["task_type"] == sync_task.task_name else "publish"
    store = platform.store
    kwargs = task.get("kwargs") or {}
    repo_id = kwargs.get("repo_id")
    if not repo_id or not store.repository_exists(repo_id):
        return
    started = task.get("start_time") or now()
    entry = {
        "_id": new_history_id(), "repo_id": repo_id, "started": started, "completed": now(),
        "result": "error", "summary": {}, "details": {}, "error_message": str(error),
        "exception": repr(error), "traceback": None,
    }
    if kind == "sync":
        imp = store.find_importer(repo_id)
        if imp is None:
            return
        entry.update(importer_id=imp["importer_type_id"],
                     importer_type_id=imp["importer_type_id"],
                     added_count=None, updated_count=None, removed_count=None)
        store.insert_sync_result(entry)
        store.set_importer_fields(imp["_id"], {"last_sync": entry["completed"],
                                               "last_sync_result": "error"})
        store.rebuild_unit_counts(repo_id)
        events.emit(platform, "repo.sync.finish", rep.history_entry(entry), task["_id"])
    else:
        dist_id = kwargs.get("dist_id")
        dist = store.find_distributor(repo_id, dist_id) if dist_id else None
        if dist is None:
            return
        entry.update(distributor_id=dist_id, distributor_type_id=dist["distributor_type_id"])
        store.insert_publish_result(entry)
        store.set_distributor_fields(dist["_id"], {"last_publish_result": "error"})
        events.emit(platform, "repo.publish.finish", rep.history_entry(entry), task["_id"])
