"""Repositories, their importer and distributors: create, update, delete.

Synchronous parts (repository create, distributor add, config validation) run in the API
process; everything the v2 API answers with 202 goes through :func:`dispatch` as a task
reserving ``repository:<id>``.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit, urlunsplit

from pulp2ng import representations as rep
from pulp2ng.controllers import bindings
from pulp2ng.controllers.config_warnings import unknown_keys
from pulp2ng.controllers.plugin_calls import (
    call_config,
    distributor_class,
    importer_class,
    transfer_repo,
)
from pulp2ng.db.common import check_keys
from pulp2ng.db.errors import DuplicateKeyError
from pulp2ng.db.store import key_updates, now
from pulp2ng.errors import (
    DuplicateResource,
    InvalidValue,
    MissingResource,
    PulpError,
)
from pulp2ng.plugin.conduits import ConfigConduit
from pulp2ng.plugin.config import CallConfig
from pulp2ng.secrets import keep_masked
from pulp2ng.tasking import tags
from pulp2ng.tasking.dispatch import CallReport, TaskResult, dispatch
from pulp2ng.tasking.registry import task

REPO_ID = re.compile(r"^[.\-_A-Za-z0-9]+$")
DISTRIBUTOR_ID = re.compile(r"^[\-_A-Za-z0-9]+$")
#: Read-merge-validate-write rounds a config update tries before giving up with a 409.
CAS_ATTEMPTS = 40


def resource(repo_id: str) -> str:
    return f"repository:{repo_id}"


def _merge(stored: dict | None, delta: dict) -> dict:
    """``stored`` with ``delta`` applied: a None value removes the key."""
    merged = dict(stored or {})
    for key, value in delta.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


# -- repositories -------------------------------------------------------------------------


def create_repository(platform, body: dict) -> tuple[dict, list[str]]:
    """Create a repository with its optional importer and distributors, all or nothing.

    Returns the stored repository and warnings about config keys no plugin reads."""
    repo_id = body.get("id")
    if not isinstance(repo_id, str) or not REPO_ID.match(repo_id) or not repo_id.strip("."):
        # ``.`` and ``..`` are path segments: as default publish paths they leave the tree.
        raise InvalidValue(["id"], "id must match ^[.\\-_A-Za-z0-9]+$ and not be only dots")
    notes = body.get("notes") or {}
    if not isinstance(notes, dict):
        raise InvalidValue(["notes"], "notes must be an object")
    check_keys(notes, "notes")
    importer_doc, warnings = None, []
    if body.get("importer_type_id") is not None:
        importer_doc = _new_importer(platform, {"_id": repo_id, "notes": notes},
                                     body["importer_type_id"], body.get("importer_config"))
        warnings += _importer_warnings(platform, importer_doc["importer_type_id"],
                                       importer_doc["config"])
    dist_docs = []
    for i, spec in enumerate(body.get("distributors") or []):
        if not isinstance(spec, dict):
            raise InvalidValue([f"distributors[{i}]"], "each distributor must be an object")
        dist_docs.append(_new_distributor(platform, {"_id": repo_id, "notes": notes}, spec))
        warnings += _distributor_warnings(platform, dist_docs[-1]["distributor_type_id"],
                                          dist_docs[-1]["config"], f"distributors[{i}]")
    ids = [d["id"] for d in dist_docs]
    if len(ids) != len(set(ids)):
        raise InvalidValue(["distributors"], "distributor ids must be unique")
    repo = {
        "_id": repo_id,
        "display_name": body.get("display_name") or repo_id,
        "description": body.get("description"),
        "notes": notes,
        "scratchpad": {},
        "content_unit_counts": {},
        "last_unit_added": None,
        "last_unit_removed": None,
        "created": now(),
    }
    try:
        platform.store.insert_repository(repo)
    except DuplicateKeyError:
        raise DuplicateResource(repo_id) from None
    try:
        if importer_doc:
            _attach_importer(platform, repo, importer_doc)
        for doc in dist_docs:
            _attach_distributor(platform, repo, doc)
    except BaseException:
        _purge_repository_documents(platform, repo_id)
        raise
    return repo, warnings


def update_repository(platform, repo_id: str, body: dict) -> CallReport:
    """Apply ``delta`` and ``importer_config`` now; ``distributor_configs`` become tasks
    (the view answers 202 when the report has spawned tasks)."""
    repo = platform.store.get_repository(repo_id)
    delta = body.get("delta") or {}
    if not isinstance(delta, dict):
        raise InvalidValue(["delta"], "delta must be an object")
    ops: dict = {}
    if "notes" in delta:
        if not isinstance(delta["notes"], dict):
            raise InvalidValue(["delta.notes"], "notes must be an object")
        check_keys(delta["notes"], "delta.notes")
        ops = key_updates("notes", delta["notes"])
    changes = ops.setdefault("$set", {})
    for key in ("display_name", "description", "scratchpad"):
        if key in delta:
            changes[key] = delta[key]
    if not changes:
        del ops["$set"]
    dist_configs = body.get("distributor_configs") or {}
    if not isinstance(dist_configs, dict):
        raise InvalidValue(["distributor_configs"], "distributor_configs must be an object")
    for dist_id in dist_configs:
        platform.store.get_distributor(repo_id, dist_id)
    warnings = []
    if body.get("importer_config") is not None:
        imp = platform.store.get_importer(repo_id)
        update_importer_config(platform, repo, imp, body["importer_config"])
        warnings += _importer_warnings(platform, imp["importer_type_id"],
                                       body["importer_config"])
    if ops:
        # Per-key operators, not a merged dict written back: concurrent PUTs touching
        # different notes all survive.
        if not platform.store.update_repository(repo_id, ops):
            raise MissingResource(repository=repo_id)
    spawned = []
    for dist_id, cfg in dist_configs.items():
        report = queue_update_distributor(platform, repo_id, dist_id,
                                          {"distributor_config": cfg})
        spawned += report.spawned_tasks
        warnings += report.warnings
    report = CallReport(result=rep.repository(platform.store.get_repository(repo_id)),
                        spawned_tasks=spawned, warnings=warnings)
    return report


def queue_delete_repository(platform, repo_id: str) -> CallReport:
    platform.store.get_repository(repo_id)
    task_id = dispatch(
        platform, delete_repository_task, resource=resource(repo_id),
        tags=[tags.repository(repo_id), tags.action("delete")], kwargs={"repo_id": repo_id},
    )
    return CallReport(spawned_tasks=[task_id])


@task("pulp2ng.tasks.repository.delete")
def delete_repository_task(ctx, repo_id: str):
    platform = ctx.platform
    repo = platform.store.find_repository(repo_id)
    if repo is None:
        raise MissingResource(repository=repo_id)
    imp = platform.store.find_importer(repo_id)
    errors = []
    if imp:
        errors += _call_quietly(_remove_importer_hook, platform, repo, imp)
    for dist in platform.store.find_distributors(repo_id):
        errors += _call_quietly(_remove_distributor_hook, platform, repo, dist, ctx)
    _purge_repository_documents(platform, repo_id)
    spawned, unbind_error = bindings.unbind_repository(platform, repo_id)
    error = unbind_error
    if errors:
        error = {"code": "PLP0007", "description": "; ".join(errors), "data": {},
                 "sub_errors": [unbind_error] if unbind_error else []}
    return TaskResult(result=None, error=error, spawned_tasks=spawned)


def _purge_repository_documents(platform, repo_id: str) -> None:
    platform.store.purge_repository(repo_id)


def _call_quietly(fn, *args) -> list[str]:
    try:
        fn(*args)
        return []
    except Exception as exc:  # a plugin hook must not stop the repository's deletion
        return [str(exc) or repr(exc)]


# -- importers ----------------------------------------------------------------------------


def split_feed_credentials(config: dict) -> dict:
    """Move ``user:pass@`` out of a feed URL into the basic-auth keys (as Pulp 2 did)."""
    feed = config.get("feed")
    if isinstance(feed, str) and "@" in feed:
        parts = urlsplit(feed)
        if parts.username is not None:
            host = parts.hostname + (f":{parts.port}" if parts.port else "")
            config = dict(config, feed=urlunsplit(parts._replace(netloc=host)))
            config["basic_auth_username"] = parts.username
            config["basic_auth_password"] = parts.password or ""
    return config


def _importer_warnings(platform, type_id: str, config, field="importer_config") -> list[str]:
    return unknown_keys(platform.plugins.importers[type_id], config, field)


def _distributor_warnings(platform, type_id: str, config, field="distributor_config"
                          ) -> list[str]:
    return unknown_keys(platform.plugins.distributors[type_id], config, field)


def _clean_config(config, field: str) -> dict:
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise InvalidValue([field], f"{field} must be an object")
    return {k: v for k, v in config.items() if v is not None}


def _validate(plugin, repo, config: CallConfig, field: str, *extra) -> None:
    try:
        outcome = plugin.validate_config(transfer_repo(None, repo), config, *extra)
    except PulpError:
        raise
    except Exception as exc:
        raise InvalidValue([field], f"Invalid configuration: {exc}") from None
    ok, message = outcome if isinstance(outcome, tuple) else (outcome, None)
    if not ok:
        raise InvalidValue([field], message or "The plugin rejected the configuration")


def _new_importer(platform, repo, type_id, config) -> dict:
    cls = importer_class(platform, type_id)
    config = split_feed_credentials(_clean_config(config, "importer_config"))
    check_keys(config, "importer_config")
    _validate(cls(), repo, call_config(platform, cls, config), "importer_config")
    return {
        "_id": uuid.uuid4().hex,
        "repo_id": repo["_id"],
        "importer_type_id": type_id,
        "config": config,
        "scratchpad": None,
        "last_sync": None,
        "last_updated": now(),
        "last_override_config": {},
        "revision": 0,
    }


def _attach_importer(platform, repo, doc) -> None:
    cls = platform.plugins.importers[doc["importer_type_id"]]
    platform.store.delete_repository_importers(repo["_id"])
    cls().importer_added(transfer_repo(platform, repo),
                         call_config(platform, cls, doc["config"]))
    platform.store.insert_importer(dict(doc, config=platform.secrets.seal(doc["config"])))


def _remove_importer_hook(platform, repo, imp) -> None:
    cls = platform.plugins.importers.get(imp["importer_type_id"])
    if cls:
        cls().importer_removed(transfer_repo(platform, repo),
                               call_config(platform, cls, imp.get("config")))


def queue_set_importer(platform, repo_id: str, body: dict) -> CallReport:
    """Validate now (a bad config is a 400), attach in a task (202)."""
    repo = platform.store.get_repository(repo_id)
    doc = _new_importer(platform, repo, body.get("importer_type_id"),
                        _keep_masked_importer(platform, repo_id, body.get("importer_config")))
    task_id = dispatch(
        platform, set_importer_task, resource=resource(repo_id),
        tags=[tags.repository(repo_id), tags.repository_importer(doc["importer_type_id"]),
              tags.action("update_importer")],
        kwargs={"repo_id": repo_id, "importer_type_id": doc["importer_type_id"],
                "config": doc["config"]},
    )
    return CallReport(spawned_tasks=[task_id],
                      warnings=_importer_warnings(platform, doc["importer_type_id"],
                                                  doc["config"]))


@task("pulp2ng.tasks.importer.set_importer")
def set_importer_task(ctx, repo_id: str, importer_type_id: str, config: dict):
    platform = ctx.platform
    repo = platform.store.get_repository(repo_id)
    doc = _new_importer(platform, repo, importer_type_id,
                        _keep_masked_importer(platform, repo_id, config))
    existing = platform.store.find_importer(repo_id)
    if existing:
        _remove_importer_hook(platform, repo, existing)
        platform.store.delete_sync_schedules(repo_id)
    _attach_importer(platform, repo, doc)
    return rep.importer(doc)


def _keep_masked_importer(platform, repo_id: str, config):
    """A replacement config sent back with masked secrets keeps the current importer's."""
    if not isinstance(config, dict):
        return config
    existing = platform.store.find_importer(repo_id)
    return keep_masked(config, existing.get("config") if existing else None)


def update_importer_config(platform, repo, imp, delta) -> dict:
    """Merge ``delta`` into the stored config (null removes a key, the mask keeps a secret),
    validate, save with secrets sealed.

    Runs in the API (repository PUT) and in tasks alike, so the save is a compare-and-set:
    what is stored was always validated as a whole."""
    if not isinstance(delta, dict):
        raise InvalidValue(["importer_config"], "importer_config must be an object")
    check_keys(delta, "importer_config")
    delta = split_feed_credentials(delta)
    cls = importer_class(platform, imp["importer_type_id"])

    def build(current: dict) -> dict:
        stored = current.get("config") or {}
        config = split_feed_credentials(_merge(stored, keep_masked(delta, stored)))
        _validate(cls(), repo, call_config(platform, cls, config), "importer_config")
        return {"config": platform.secrets.seal(config), "last_updated": now()}

    return platform.store.cas_update_importer(imp, build, CAS_ATTEMPTS)


def queue_update_importer(platform, repo_id: str, importer_id: str, body: dict) -> CallReport:
    platform.store.get_repository(repo_id)
    imp = platform.store.get_importer(repo_id, importer_id)
    if "importer_config" not in body:
        from pulp2ng.errors import MissingValue

        raise MissingValue(["importer_config"])
    if not isinstance(body["importer_config"], dict):
        raise InvalidValue(["importer_config"], "importer_config must be an object")
    check_keys(body["importer_config"], "importer_config")
    task_id = dispatch(
        platform, update_importer_task, resource=resource(repo_id),
        tags=[tags.repository(repo_id), tags.repository_importer(importer_id),
              tags.action("update_importer")],
        kwargs={"repo_id": repo_id, "importer_id": importer_id,
                "config": body["importer_config"]},
    )
    return CallReport(spawned_tasks=[task_id],
                      warnings=_importer_warnings(platform, imp["importer_type_id"],
                                                  body["importer_config"]))


@task("pulp2ng.tasks.importer.update_importer")
def update_importer_task(ctx, repo_id: str, importer_id: str, config: dict):
    platform = ctx.platform
    repo = platform.store.get_repository(repo_id)
    imp = platform.store.get_importer(repo_id, importer_id)
    return rep.importer(update_importer_config(platform, repo, imp, config))


def queue_delete_importer(platform, repo_id: str, importer_id: str) -> CallReport:
    platform.store.get_repository(repo_id)
    platform.store.get_importer(repo_id, importer_id)
    return _queue_removal(platform, delete_importer_task, repo_id,
                          tags.repository_importer(importer_id), "delete_importer",
                          importer_id=importer_id)


def _queue_removal(platform, task_fn, repo_id: str, plugin_tag: str, action: str,
                   **kwargs) -> CallReport:
    """Queue the task that removes an importer or a distributor (named by ``kwargs``)."""
    task_id = dispatch(
        platform, task_fn, resource=resource(repo_id),
        tags=[tags.repository(repo_id), plugin_tag, tags.action(action)],
        kwargs={"repo_id": repo_id, **kwargs},
    )
    return CallReport(spawned_tasks=[task_id])


@task("pulp2ng.tasks.importer.delete_importer")
def delete_importer_task(ctx, repo_id: str, importer_id: str):
    platform = ctx.platform
    repo = platform.store.get_repository(repo_id)
    imp = platform.store.get_importer(repo_id, importer_id)
    platform.store.delete_sync_schedules(repo_id)
    _remove_importer_hook(platform, repo, imp)
    platform.store.delete_importer(imp["_id"])
    return None


# -- distributors -------------------------------------------------------------------------


def _new_distributor(platform, repo, spec: dict) -> dict:
    type_id = spec.get("distributor_type_id")
    cls = distributor_class(platform, type_id)
    dist_id = spec.get("distributor_id") or uuid.uuid4().hex
    if not isinstance(dist_id, str) or not DISTRIBUTOR_ID.match(dist_id):
        raise InvalidValue(["distributor_id"], "distributor_id must match ^[\\-_A-Za-z0-9]+$")
    auto_publish = spec.get("auto_publish", False)
    if not isinstance(auto_publish, bool):
        raise InvalidValue(["auto_publish"], "auto_publish must be a boolean")
    config = _clean_config(spec.get("distributor_config"), "distributor_config")
    check_keys(config, "distributor_config")
    _validate(cls(), repo, call_config(platform, cls, config), "distributor_config",
              ConfigConduit(platform, type_id))
    return {
        "_id": uuid.uuid4().hex,
        "id": dist_id,
        "repo_id": repo["_id"],
        "distributor_type_id": type_id,
        "config": config,
        "auto_publish": auto_publish,
        "last_publish": None,
        "last_updated": now(),
        "last_override_config": {},
        "scratchpad": None,
        "revision": 0,
    }


def _attach_distributor(platform, repo, doc) -> None:
    cls = platform.plugins.distributors[doc["distributor_type_id"]]
    cls().distributor_added(transfer_repo(platform, repo),
                            call_config(platform, cls, doc["config"]))
    platform.store.save_distributor(dict(doc, config=platform.secrets.seal(doc["config"])))


def add_distributor(platform, repo_id: str, body: dict) -> tuple[dict, list[str]]:
    """Synchronous in Pulp 2 (201): validate, replace a same-id distributor, save.

    Returns the stored distributor and warnings about config keys it does not read."""
    repo = platform.store.get_repository(repo_id)
    doc = _new_distributor(platform, repo, body)
    existing = platform.store.find_distributor(repo_id, doc["id"])
    if existing:
        # Same _id, so keep counting: an update that read the old document must not match.
        doc["_id"] = existing["_id"]
        doc["revision"] = existing.get("revision", 0) + 1
    _attach_distributor(platform, repo, doc)
    return doc, _distributor_warnings(platform, doc["distributor_type_id"], doc["config"])


def queue_update_distributor(platform, repo_id: str, dist_id: str, body: dict) -> CallReport:
    """Check the request now, apply it in a task; the report names config keys the
    distributor ignores."""
    dist = platform.store.get_distributor(repo_id, dist_id)
    config = body.get("distributor_config") or {}
    delta = body.get("delta") or {}
    if not isinstance(config, dict):
        raise InvalidValue(["distributor_config"], "distributor_config must be an object")
    check_keys(config, "distributor_config")
    if not isinstance(delta, dict):
        raise InvalidValue(["delta"], "delta must be an object")
    if "auto_publish" in delta and not isinstance(delta["auto_publish"], bool):
        raise InvalidValue(["delta.auto_publish"], "auto_publish must be a boolean")
    task_id = dispatch(
        platform, update_distributor_task, resource=resource(repo_id),
        tags=[tags.repository(repo_id), tags.repository_distributor(dist_id),
              tags.action("update_distributor")],
        kwargs={"repo_id": repo_id, "dist_id": dist_id, "config": config, "delta": delta},
    )
    return CallReport(spawned_tasks=[task_id],
                      warnings=_distributor_warnings(platform, dist["distributor_type_id"],
                                                     config))


@task("pulp2ng.tasks.distributor.update")
def update_distributor_task(ctx, repo_id: str, dist_id: str, config: dict, delta: dict):
    platform = ctx.platform
    repo = platform.store.get_repository(repo_id)
    dist = platform.store.get_distributor(repo_id, dist_id)
    cls = distributor_class(platform, dist["distributor_type_id"])

    def build(current: dict) -> dict:
        stored = current.get("config") or {}
        merged = _merge(stored, keep_masked(config, stored))
        _validate(cls(), repo, call_config(platform, cls, merged),
                  "distributor_config", ConfigConduit(platform, dist["distributor_type_id"]))
        changes = {"config": platform.secrets.seal(merged), "last_updated": now()}
        if "auto_publish" in delta:
            changes["auto_publish"] = delta["auto_publish"]
        return changes

    updated = rep.distributor(platform.store.cas_update_distributor(dist, build, CAS_ATTEMPTS))
    spawned, error = bindings.rebind_distributor(platform, repo_id, dist_id)
    return TaskResult(result=updated, error=error, spawned_tasks=spawned) if (
        spawned or error) else updated


def queue_delete_distributor(platform, repo_id: str, dist_id: str) -> CallReport:
    platform.store.get_distributor(repo_id, dist_id)
    return _queue_removal(platform, delete_distributor_task, repo_id,
                          tags.repository_distributor(dist_id), "remove_distributor",
                          dist_id=dist_id)


@task("pulp2ng.tasks.distributor.delete")
def delete_distributor_task(ctx, repo_id: str, dist_id: str):
    platform = ctx.platform
    repo = platform.store.get_repository(repo_id)
    dist = platform.store.get_distributor(repo_id, dist_id)
    _remove_distributor_hook(platform, repo, dist, ctx)
    platform.store.delete_publish_schedules(repo_id, dist_id)
    platform.store.delete_distributor(dist["_id"])
    spawned, error = bindings.unbind_repository(platform, repo_id, dist_id)
    return TaskResult(error=error, spawned_tasks=spawned) if (spawned or error) else None


def _remove_distributor_hook(platform, repo, dist, ctx) -> None:
    from pulp2ng.plugin.conduits import PublishConduit

    cls = platform.plugins.distributors.get(dist["distributor_type_id"])
    if cls:
        conduit = PublishConduit(platform, ctx, repo["_id"], dist["id"])
        plugin, view = cls(), transfer_repo(platform, repo)
        config = call_config(platform, cls, dist.get("config"))
        plugin.distributor_removed(view, config, conduit)
        # What is online is where it was last published, which a later config change
        # (not yet published) does not move.
        location = dist.get("published_location") or plugin.publish_location(view, config)
        take_down_tree(platform, conduit, dist, location)


def take_down_tree(platform, conduit, dist: dict, location) -> None:
    """Unpublish ``location`` unless another distributor has published there since."""
    if not location:
        return
    area, path = location
    holder = platform.store.other_publisher_at([area, path], dist["_id"])
    if holder is None:
        conduit.unpublish(area, path)


# -- reads for the API ------------------------------------------------------------------------


def list_repositories(platform):
    """Every repository, by id."""
    return platform.store.list_repositories()


def search_repositories(platform, criteria):
    """Repositories matching parsed criteria whose field names are the stored ones."""
    return platform.store.search_repositories(criteria)


def search_distributors(platform, criteria):
    """Distributors of every repository matching parsed criteria."""
    return platform.store.search_distributors(criteria)


def get_repository(platform, repo_id: str) -> dict:
    return platform.store.get_repository(repo_id)


def find_importer(platform, repo_id: str) -> dict | None:
    return platform.store.find_importer(repo_id)


def get_importer(platform, repo_id: str, importer_type_id: str | None = None) -> dict:
    return platform.store.get_importer(repo_id, importer_type_id)


def find_distributors(platform, repo_id: str) -> list[dict]:
    return platform.store.find_distributors(repo_id)


def get_distributor(platform, repo_id: str, distributor_id: str) -> dict:
    return platform.store.get_distributor(repo_id, distributor_id)
