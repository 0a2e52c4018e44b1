"""Units and their associations: search, copy between repositories, removal, user metadata.

Every read is one projected scan per collection joined in Python (SecantusDB evaluates long
``$in`` lists slowly); a search without unit filters or unit sort pages the association cursor
first and reads only that page's units.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from pulp2ng import representations as rep
from pulp2ng.controllers.plugin_calls import call_config, transfer_repo
from pulp2ng.controllers.repositories import resource
from pulp2ng.controllers.sync import note_content_change
from pulp2ng.db.criteria import (
    Criteria,
    UnitAssociationCriteria,
    parse_criteria,
    parse_unit_association_criteria,
)
from pulp2ng.db.store import IN_QUERY_LIMIT, association_id, batched
from pulp2ng.errors import (
    InvalidCriteria,
    InvalidValue,
    MissingResource,
    MissingValue,
    UnsupportedTypes,
)
from pulp2ng.plugin.conduits import ImportConduit, RepoConduit
from pulp2ng.tasking import tags
from pulp2ng.tasking.dispatch import CallReport, dispatch
from pulp2ng.tasking.registry import task

API = rep.API
#: Task results list at most this many unit keys (a task document must stay well under 16 MB).
RESULT_KEYS_LIMIT = 10_000
#: Units removed per round (plugin call and association delete) when the importer streams.
_BATCH = 1000
_ASSOCIATION_DATES = ("created", "updated")


# -- representations (built in pulp2ng.representations) -------------------------------------

unit_doc = rep.unit
association_doc = rep.association


def unit_key(platform, unit: dict) -> dict:
    fields = platform.plugins.types[unit["_content_type_id"]].unit_key
    return {f: unit.get(f) for f in fields}


def require_type(platform, type_id: str, internal_ok: bool = False):
    """The unit type ``type_id``; an internal type is not content of the API (404) unless
    ``internal_ok`` (orphan cleanup)."""
    unit_type = platform.plugins.types.get(type_id)
    if unit_type is None or (unit_type.internal and not internal_ok):
        raise MissingResource(content_type=type_id)
    return unit_type


def public_criteria(platform, crit: UnitAssociationCriteria) -> UnitAssociationCriteria:
    """Limit ``crit`` to the types that are repository content: internal types (a plugin's
    bookkeeping units) are never matched by a search, copy or removal by criteria."""
    internal = platform.plugins.internal_types
    if internal:
        wanted = crit.type_ids if crit.type_ids is not None else sorted(platform.plugins.types)
        crit.type_ids = [t for t in wanted if t not in internal]
    return crit


# -- association matching -------------------------------------------------------------------


def _dates(filters: dict) -> dict:
    """Association ``created``/``updated`` may be given as ISO strings (Pulp stored strings)."""
    def convert(value):
        if isinstance(value, str):
            try:
                parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise InvalidCriteria(["criteria.filters.association"],
                                      f"Invalid date {value!r}") from None
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    return {k: convert(v) if k in _ASSOCIATION_DATES else v for k, v in filters.items()}


def _unit_projection(platform, type_id: str, fields) -> dict | None:
    if fields is None:
        return None
    keep = set(fields) | {"_id", "_content_type_id"}
    return dict.fromkeys(keep, 1)


def match(platform, repo_id: str, crit: UnitAssociationCriteria,
          unit_fields=None) -> Iterator[tuple[dict, dict]]:
    """``(association, unit)`` pairs of ``repo_id`` matching ``crit``, in the asked order.

    ``unit_fields`` (a list, or the criteria's own ``fields.unit``) limits the unit fields read.
    """
    store = platform.store
    query = _association_query(repo_id, crit)
    fields = unit_fields if unit_fields is not None else crit.unit.fields
    if not crit.unit.filters and not crit.unit.sort:
        # The page is known from the associations alone: read only its units.
        cursor = store.association_page(query, crit.association.sort, crit.skip, crit.limit)
        small = crit.limit and crit.limit <= IN_QUERY_LIMIT
        yield from _join(platform, cursor, fields, crit.remove_duplicates,
                         IN_QUERY_LIMIT if small else 50_000)
        return
    units = _filtered_units(platform, crit, fields)
    if len(units) <= IN_QUERY_LIMIT:
        # Few units: look their associations up by the unit_id index, repository in Python.
        query = {k: v for k, v in query.items() if k != "repo_id"}
        query["unit_id"] = {"$in": [uid for _, uid in units]}
    cursor = store.find_associations(query, crit.association.sort)
    pairs, seen = [], set()
    for assoc in cursor:
        ref = (assoc["unit_type_id"], assoc["unit_id"])
        if assoc["repo_id"] != repo_id:
            continue
        if ref in units and not (crit.remove_duplicates and ref in seen):
            seen.add(ref)
            pairs.append((assoc, units[ref]))
    for field_name, direction in reversed(crit.unit.sort):
        pairs.sort(key=lambda p, f=field_name: _sort_key(p[1].get(f)),
                   reverse=direction == -1)
    start = crit.skip or 0
    end = start + crit.limit if crit.limit else None
    yield from pairs[start:end]


def _association_query(repo_id: str, crit: UnitAssociationCriteria) -> dict:
    query = {**_dates(crit.association.filters), "repo_id": repo_id}
    if crit.type_ids is not None:
        query["unit_type_id"] = {"$in": list(crit.type_ids)}
    return query


def stream_units(platform, repo_id: str, crit: UnitAssociationCriteria,
                 unit_fields) -> Iterator[dict]:
    """The units of ``repo_id`` matching ``crit``, each once, for copy and removal.

    Criteria that order or page the result go through :func:`match`. Otherwise memory stays
    small in N: one projected scan of the associations collects the matching unit ids (short
    strings), then one scan per type streams the units, none held after it is yielded.
    """
    if crit.limit or crit.skip or crit.unit.sort or crit.association.sort:
        for _, unit in match(platform, repo_id, crit, unit_fields):
            yield unit
        return
    store = platform.store
    wanted: dict[str, set] = {}
    projection = {"unit_id": 1, "unit_type_id": 1, "_id": 0}
    for assoc in store.scan_associations(_association_query(repo_id, crit), projection):
        wanted.setdefault(assoc["unit_type_id"], set()).add(assoc["unit_id"])
    for type_id in sorted(wanted):
        ids = wanted.pop(type_id)
        query = crit.unit.filters
        if len(ids) <= IN_QUERY_LIMIT:
            by_id = {"_id": {"$in": sorted(ids)}}
            query = {"$and": [query, by_id]} if query else by_id
        projection = _unit_projection(platform, type_id, unit_fields)
        for unit in store.scan_units(type_id, query, projection):
            if unit["_id"] in ids:
                yield unit


def _filtered_units(platform, crit, fields) -> dict:
    """Units matching the unit filters, by ``(type, id)``: one query per type, so a selective
    filter never reads every association."""
    types = set(platform.plugins.types)
    if crit.type_ids is not None:
        types &= set(crit.type_ids)
    found = {}
    for type_id in sorted(types):
        proj = _unit_projection(platform, type_id, fields)
        for doc in platform.store.find_units(type_id, crit.unit.filters, proj):
            found[(type_id, doc["_id"])] = doc
    return found


def _sort_key(value):
    return (value is not None, str(type(value)), value if value is not None else 0)


def _join(platform, cursor, fields, dedupe: bool, size: int):
    """Read associations in batches and attach their units (one read per type per batch)."""
    store = platform.store
    seen: set = set()

    def flush(batch):
        by_type: dict[str, set] = {}
        for a in batch:
            by_type.setdefault(a["unit_type_id"], set()).add(a["unit_id"])
        units = {}
        for type_id, ids in by_type.items():
            proj = _unit_projection(platform, type_id, fields)
            found = store.find_units_by_ids(type_id, ids, proj)
            units.update({(type_id, d["_id"]): d for d in found})
        for a in batch:
            ref = (a["unit_type_id"], a["unit_id"])
            unit = units.get(ref)
            if unit is None or (dedupe and ref in seen):
                continue
            seen.add(ref)
            yield a, unit

    for batch in batched(cursor, size):
        yield from flush(batch)


def search_units(platform, repo_id: str, raw_criteria) -> list[dict]:
    platform.store.get_repository(repo_id)
    crit = public_criteria(platform, parse_unit_association_criteria(raw_criteria))
    return [association_doc(a, u, crit.association.fields) for a, u in match(platform, repo_id,
                                                                             crit)]


# -- units by type --------------------------------------------------------------------------


def list_units(platform, type_id: str) -> list[dict]:
    require_type(platform, type_id)
    return [unit_doc(u) for u in platform.store.list_units(type_id)]


def search_type(platform, type_id: str, raw_criteria, include_repos: bool) -> list[dict]:
    require_type(platform, type_id)
    crit: Criteria = parse_criteria(raw_criteria)
    projection = None
    if crit.fields:
        projection = dict.fromkeys(set(crit.fields) | {"_id", "_content_type_id"}, 1)
    docs = platform.store.search_units(type_id, crit, projection)
    result = [unit_doc(d) for d in docs]
    if include_repos:
        ids = {d["_id"] for d in docs}
        members = platform.store.unit_repositories(type_id, ids, 200)
        for doc in result:
            doc["repository_memberships"] = sorted(members.get(doc["_id"], []))
    return result


def get_unit(platform, type_id: str, uid: str) -> dict:
    require_type(platform, type_id)
    unit = platform.store.find_unit(type_id, uid)
    if unit is None:
        raise MissingResource(unit=uid)
    return unit


def get_user_metadata(platform, type_id: str, uid: str) -> dict:
    return get_unit(platform, type_id, uid).get("pulp_user_metadata") or {}


def set_user_metadata(platform, type_id: str, uid: str, body) -> None:
    if not isinstance(body, dict):
        raise InvalidValue(["pulp_user_metadata"], "pulp_user_metadata must be an object")
    get_unit(platform, type_id, uid)
    platform.store.set_unit_user_metadata(type_id, uid, body)


# -- copy -------------------------------------------------------------------------------------


def _source_types(platform, repo_id: str, crit: UnitAssociationCriteria) -> set:
    present = set((platform.store.get_repository(repo_id).get("content_unit_counts") or {}))
    return present & set(crit.type_ids) if crit.type_ids is not None else present


def _check_types(platform, dest_id: str, types: set):
    imp = platform.store.find_importer(dest_id)
    if imp is None:
        raise UnsupportedTypes(f"Repository {dest_id} has no importer to accept units",
                               repository=dest_id)
    cls = platform.plugins.importers.get(imp["importer_type_id"])
    accepted = set(cls.metadata().get("types", [])) if cls else set()
    unsupported = sorted(types - accepted)
    if unsupported:
        raise UnsupportedTypes(
            f"The importer of {dest_id} does not support the unit types {unsupported}",
            repository=dest_id, unsupported_types=unsupported)
    return imp, cls


def queue_associate(platform, dest_id: str, body: dict) -> CallReport:
    platform.store.get_repository(dest_id)
    source_id = body.get("source_repo_id")
    if not source_id:
        raise MissingValue(["source_repo_id"])
    if not isinstance(source_id, str) or platform.store.find_repository(source_id) is None:
        raise InvalidValue(["source_repo_id"], f"Source repository {source_id} does not exist")
    raw = body.get("criteria")
    crit = parse_unit_association_criteria(raw)
    override = body.get("override_config") or {}
    if not isinstance(override, dict):
        raise InvalidValue(["override_config"], "override_config must be an object")
    _check_types(platform, dest_id, _source_types(platform, source_id, crit))
    task_id = dispatch(
        platform, associate_task, resource=resource(dest_id),
        tags=[tags.repository(source_id), tags.repository(dest_id), tags.action("associate")],
        kwargs={"source_id": source_id, "dest_id": dest_id, "criteria": raw,
                "override_config": override},
    )
    return CallReport(spawned_tasks=[task_id])


@task("pulp2ng.tasks.units.associate")
def associate_task(ctx, source_id: str, dest_id: str, criteria, override_config: dict):
    platform = ctx.platform
    store = platform.store
    source = store.find_repository(source_id)
    if source is None:
        raise InvalidValue(["source_repo_id"], f"Source repository {source_id} does not exist")
    dest = store.get_repository(dest_id)
    crit = public_criteria(platform, parse_unit_association_criteria(criteria))
    imp, cls = _check_types(platform, dest_id, _source_types(platform, source_id, crit))
    units = stream_units(platform, source_id, crit, _key_fields(platform))
    conduit = ImportConduit(platform, ctx, dest_id, imp["importer_type_id"], source_id)
    config = call_config(platform, cls, imp.get("config") or {}, override_config)
    repos = transfer_repo(platform, source), transfer_repo(platform, dest)
    listed = _UnitList(platform)
    try:
        if cls.streams_units:
            cls().import_units(*repos, conduit, config, listed.passing(units))
        else:
            units = list(units)
            copied = cls().import_units(*repos, conduit, config, units)
            listed.extend(units if copied is None else copied)
    finally:
        note_content_change(platform, dest_id, conduit.added_count, conduit.removed_count)
    return listed.result()


def _key_fields(platform) -> list[str]:
    return sorted({f for t in platform.plugins.types.values() for f in t.unit_key})


class _UnitList:
    """A task result's ``units_successful``: the first keys and, past the limit, a count."""

    def __init__(self, platform):
        self.platform = platform
        self.keys: list[dict] = []
        self.total = 0

    def extend(self, units) -> None:
        for unit in units:
            self.total += 1
            if self.total <= RESULT_KEYS_LIMIT:
                self.keys.append({"type_id": unit["_content_type_id"],
                                  "unit_key": unit_key(self.platform, unit)})

    def passing(self, units) -> Iterator[dict]:
        """Yield ``units`` on, listing each."""
        for unit in units:
            self.extend((unit,))
            yield unit

    def result(self) -> dict:
        result = {"units_successful": self.keys}
        if self.total > RESULT_KEYS_LIMIT:
            result.update(units_successful_count=self.total, units_successful_truncated=True)
        return result


# -- removal ---------------------------------------------------------------------------------


def queue_unassociate(platform, repo_id: str, body: dict) -> CallReport:
    """Remove units by criteria. As in Pulp, criteria without ``type_ids`` or filters match
    every unit of the repository; unlike Pulp, ``criteria`` must be given (``{}`` for all), and
    the call report says which scope was queued."""
    platform.store.get_repository(repo_id)
    if "criteria" not in body or body["criteria"] is None:
        raise MissingValue(["criteria"], "criteria is required; {} removes every unit")
    raw = body["criteria"]
    crit = parse_unit_association_criteria(raw)
    everything = (crit.type_ids is None and not crit.unit.filters
                  and not crit.association.filters and not crit.limit)
    task_id = dispatch(
        platform, unassociate_task, resource=resource(repo_id),
        tags=[tags.repository(repo_id), tags.action("unassociate")],
        kwargs={"repo_id": repo_id, "criteria": raw},
    )
    scope = {"repo_id": repo_id, "removes": "all units" if everything else "matching units",
             "type_ids": crit.type_ids}
    return CallReport(result=scope, spawned_tasks=[task_id])


@task("pulp2ng.tasks.units.unassociate")
def unassociate_task(ctx, repo_id: str, criteria):
    platform = ctx.platform
    store = platform.store
    repo = store.get_repository(repo_id)
    crit = public_criteria(platform, parse_unit_association_criteria(criteria))
    units = stream_units(platform, repo_id, crit, _key_fields(platform))
    imp = store.find_importer(repo_id)
    cls = platform.plugins.importers.get(imp["importer_type_id"]) if imp else None
    plugin = conduit = None
    if cls:
        plugin = cls()
        config = call_config(platform, cls, imp.get("config") or {})
        conduit = RepoConduit(platform, ctx, repo_id, imp["importer_type_id"])
    batches = batched(units, _BATCH) if cls is None or cls.streams_units else [list(units)]
    view = transfer_repo(platform, repo)
    listed, removed = _UnitList(platform), 0
    try:
        for batch in batches:
            ctx.check_canceled()
            if plugin and batch:
                plugin.remove_units(view, batch, config, conduit)
            removed += store.delete_associations((
                association_id(repo_id, u["_content_type_id"], u["_id"]) for u in batch))
            listed.extend(batch)
    finally:
        extra = conduit.removed_count if conduit else 0
        if removed + extra:
            note_content_change(platform, repo_id, 0, removed + extra)
    if not listed.total:
        return {}
    result = listed.result()
    # The criteria matched content only; of what the plugin removed along (e.g. an ostree
    # commit's objects), internal types are bookkeeping, not counted (as in sync results).
    hidden = platform.plugins.internal_types
    result["removed_count"] = removed + sum(
        n for type_id, n in (conduit.removed_by_type.items() if conduit else ())
        if type_id not in hidden)
    return result
