"""Repository groups (Pulp 2's ``repo_groups``): membership, group distributors, publish.

Groups and their distributors are created, changed and deleted synchronously, as in Pulp 2;
a group publish is a task reserving ``repository_group:<id>``. Group distributor types are
:class:`~pulp2ng.plugin.GroupDistributor` classes loaded from ``pulp2ng.group_distributors``.
"""

from __future__ import annotations

import re
import uuid

from pulp2ng import representations as rep
from pulp2ng.controllers import groups
from pulp2ng.controllers.plugin_calls import transfer_repo
from pulp2ng.db.common import check_keys
from pulp2ng.db.groups import REPO_GROUPS
from pulp2ng.db.store import now
from pulp2ng.errors import (
    InvalidValue,
    MissingResource,
    MissingValue,
    PluginError,
    PublishError,
    PulpError,
    UnknownPluginType,
)
from pulp2ng.plugin.base import PublishReport
from pulp2ng.plugin.conduits import GroupPublishConduit
from pulp2ng.plugin.config import CallConfig
from pulp2ng.tasking import tags
from pulp2ng.tasking.dispatch import CallReport, dispatch
from pulp2ng.tasking.registry import task

GROUP_ID = re.compile(r"^[\-_A-Za-z0-9]+$")
DISTRIBUTOR_ID = GROUP_ID


def resource(group_id: str) -> str:
    return f"repository_group:{group_id}"


# -- groups -----------------------------------------------------------------------------------


def create_group(platform, body: dict) -> dict:
    """Create a group with its members and distributors (Pulp 2: 201, synchronous)."""
    group = groups.new_group(REPO_GROUPS, body, GROUP_ID)
    missing = [r for r in group["repo_ids"] if not platform.store.repository_exists(r)]
    if missing:
        raise MissingResource(repositories=missing)
    specs = body.get("distributors") or []
    if not isinstance(specs, list):
        raise InvalidValue(["distributors"], "distributors must be a list")
    dists = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict):
            raise InvalidValue([f"distributors[{i}]"], "each distributor must be an object")
        dists.append(_new_distributor(platform, group, spec))
    ids = [d["id"] for d in dists]
    if len(ids) != len(set(ids)):
        raise InvalidValue(["distributors"], "distributor ids must be unique")
    groups.insert_group(platform, REPO_GROUPS, group)
    for doc in dists:
        platform.store.save_group_distributor(doc)
    return group


def list_groups(platform):
    return platform.store.list_groups(REPO_GROUPS)


def search_groups(platform, criteria):
    """Groups matching parsed criteria (field names as the API shows them)."""
    return platform.store.search_groups(REPO_GROUPS, criteria.renamed({"id": "_id"}))


def get_group(platform, group_id: str) -> dict:
    return platform.store.get_group(REPO_GROUPS, group_id)


def update_group(platform, group_id: str, body: dict) -> dict:
    """``display_name``, ``description`` replaced; ``notes`` merged (null removes a key)."""
    return groups.update_group(platform, REPO_GROUPS, group_id, body)


def delete_group(platform, group_id: str) -> None:
    """Delete the group and its distributors, taking their published trees down."""
    group = get_group(platform, group_id)
    for dist in platform.store.find_group_distributors(group_id):
        _take_down(platform, group, dist)
    platform.store.delete_group_distributors(group_id)
    platform.store.delete_group(REPO_GROUPS, group_id)


def associate(platform, group_id: str, body: dict) -> list[str]:
    """Add the repositories matching repository ``criteria``; returns the group's members."""
    return groups.change_members(platform, REPO_GROUPS, group_id, body,
                                 platform.store.existing_repository_ids, add=True)


def unassociate(platform, group_id: str, body: dict) -> list[str]:
    """Remove the repositories matching repository ``criteria``; returns the members left."""
    return groups.change_members(platform, REPO_GROUPS, group_id, body,
                                 platform.store.existing_repository_ids, add=False)


# -- group distributors -------------------------------------------------------------------------


def _distributor_class(platform, type_id):
    table = platform.plugins.group_distributors
    if not isinstance(type_id, str) or type_id not in table:
        raise UnknownPluginType(["distributor_type_id"],
                                f"Unknown group distributor type: {type_id}")
    return table[type_id]


def _call_config(platform, cls, stored: dict, override=None) -> CallConfig:
    return CallConfig(cls.default_config, {}, platform.secrets.open(stored or {}),
                      platform.secrets.open(override) if override else override)


def _group_view(group: dict, repositories=None) -> dict:
    return {"id": group["_id"], "display_name": group.get("display_name"),
            "description": group.get("description"), "notes": dict(group.get("notes") or {}),
            "repositories": repositories or []}


def _validate(platform, cls, group: dict, config: dict) -> None:
    try:
        outcome = cls().validate_config(_group_view(group), _call_config(platform, cls, config))
    except PulpError:
        raise
    except Exception as exc:
        raise InvalidValue(["distributor_config"], f"Invalid configuration: {exc}") from None
    ok, message = outcome if isinstance(outcome, tuple) else (outcome, None)
    if not ok:
        raise InvalidValue(["distributor_config"],
                           message or "The plugin rejected the configuration")


def _clean_config(config) -> dict:
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise InvalidValue(["distributor_config"], "distributor_config must be an object")
    check_keys(config, "distributor_config")
    return {k: v for k, v in config.items() if v is not None}


def _new_distributor(platform, group: dict, spec: dict) -> dict:
    cls = _distributor_class(platform, spec.get("distributor_type_id"))
    dist_id = spec.get("distributor_id") or str(uuid.uuid4())
    if not isinstance(dist_id, str) or not DISTRIBUTOR_ID.match(dist_id):
        raise InvalidValue(["distributor_id"], "distributor_id must match ^[\\-_A-Za-z0-9]+$")
    config = _clean_config(spec.get("distributor_config"))
    _validate(platform, cls, group, config)
    return {
        "_id": uuid.uuid4().hex,
        "id": dist_id,
        "group_id": group["_id"],
        "distributor_type_id": spec["distributor_type_id"],
        "config": platform.secrets.seal(config),
        "last_publish": None,
        "scratchpad": None,
    }


def list_distributors(platform, group_id: str) -> list[dict]:
    get_group(platform, group_id)
    return platform.store.find_group_distributors(group_id)


def get_distributor(platform, group_id: str, dist_id: str) -> dict:
    get_group(platform, group_id)
    return platform.store.get_group_distributor(group_id, dist_id)


def add_distributor(platform, group_id: str, body: dict) -> dict:
    """Add (or replace the same-id) group distributor; Pulp 2 answers 201."""
    group = get_group(platform, group_id)
    doc = _new_distributor(platform, group, body)
    existing = platform.store.find_group_distributor(group_id, doc["id"])
    if existing:
        doc["_id"] = existing["_id"]
    platform.store.save_group_distributor(doc)
    return doc


def update_distributor(platform, group_id: str, dist_id: str, body: dict) -> dict:
    """Merge ``distributor_config`` (null removes a key), validate, save (200)."""
    group = get_group(platform, group_id)
    dist = platform.store.get_group_distributor(group_id, dist_id)
    delta = body.get("distributor_config")
    if not isinstance(delta, dict):
        raise InvalidValue(["distributor_config"], "distributor_config must be an object")
    check_keys(delta, "distributor_config")
    cls = _distributor_class(platform, dist["distributor_type_id"])
    merged = dict(platform.secrets.open(dist.get("config") or {}))
    for key, value in delta.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    _validate(platform, cls, group, merged)
    platform.store.set_group_distributor_fields(dist["_id"],
                                                {"config": platform.secrets.seal(merged)})
    return platform.store.get_group_distributor(group_id, dist_id)


def delete_distributor(platform, group_id: str, dist_id: str) -> None:
    group = get_group(platform, group_id)
    dist = platform.store.get_group_distributor(group_id, dist_id)
    _take_down(platform, group, dist)
    platform.store.delete_group_distributor(dist["_id"])


def _take_down(platform, group: dict, dist: dict) -> None:
    """Unpublish where the distributor last published."""
    location = dist.get("published_location")
    if location:
        area, path = location
        GroupPublishConduit(platform, None, group["_id"], dist["id"]).unpublish(area, path)


# -- publish ------------------------------------------------------------------------------------


def queue_publish(platform, group_id: str, body: dict) -> CallReport:
    """Publish with one group distributor (``id``), in a task reserving the group."""
    get_group(platform, group_id)
    dist_id = body.get("id")
    if not isinstance(dist_id, str):
        raise MissingValue(["id"])
    override = body.get("override_config") or {}
    if not isinstance(override, dict):
        raise InvalidValue(["override_config"], "override_config must be an object")
    platform.store.get_group_distributor(group_id, dist_id)
    task_id = dispatch(
        platform, publish_group_task, resource=resource(group_id),
        tags=[tags.repository_group(group_id), tags.repository_group_distributor(dist_id),
              tags.action("publish")],
        kwargs={"group_id": group_id, "dist_id": dist_id, "override_config": override},
    )
    return CallReport(spawned_tasks=[task_id])


def _member_view(platform, repo_id: str) -> dict | None:
    repo = platform.store.find_repository(repo_id)
    if repo is None:
        return None
    view = transfer_repo(platform, repo)
    view["distributors"] = [rep.jsonable({
        "id": d["id"], "distributor_type_id": d["distributor_type_id"],
        "last_publish": d.get("last_publish"),
    }) for d in platform.store.find_distributors(repo_id)]
    return rep.jsonable(view)


@task("pulp2ng.tasks.repository_group.publish")
def publish_group_task(ctx, group_id: str, dist_id: str, override_config: dict):
    platform = ctx.platform
    group = get_group(platform, group_id)
    dist = platform.store.get_group_distributor(group_id, dist_id)
    cls = platform.plugins.group_distributors.get(dist["distributor_type_id"])
    if cls is None:
        raise PublishError(f"group distributor type {dist['distributor_type_id']} "
                           "is not installed")
    members = [m for m in (_member_view(platform, r) for r in group.get("repo_ids") or []) if m]
    view = _group_view(group, members)
    config = _call_config(platform, cls, dist.get("config") or {}, override_config)
    plugin = cls()
    started = now()
    conduit = GroupPublishConduit(platform, ctx, group_id, dist_id)
    try:
        report = plugin.publish_group(view, conduit, config)
    except PulpError:
        raise
    except Exception as exc:
        raise PluginError(f"Group distributor {dist_id} failed: {exc}") from exc
    finally:
        platform.storage.drop_working_dir(ctx.task_id)
    if not isinstance(report, PublishReport) or not report.success_flag:
        raise PublishError(f"Group distributor {dist_id} reported a failure: "
                           f"{getattr(report, 'summary', None)}")
    location = plugin.publish_location(view, config)
    location = list(location) if location else None
    old = dist.get("published_location")
    platform.store.set_group_distributor_fields(
        dist["_id"], {"last_publish": started, "published_location": location})
    if old and old != location:
        conduit.unpublish(*old)
    return rep.jsonable({
        "repo_group_id": group_id, "distributor_id": dist_id,
        "distributor_type_id": dist["distributor_type_id"], "result": "success",
        "started": started, "completed": now(),
        "summary": report.summary, "details": report.details,
    })
