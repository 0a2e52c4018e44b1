"""Content applicability: which units of a consumer's bound repositories would update what its
profiles say is installed. Pulp 2 computed it for RPMs only; pulp2ng computes it for every type
it has, one calculator per profile content type:

* ``python`` (profile ``[{name, version}]``) → ``python_package`` units whose (normalised)
  name is installed and whose version is newer than the installed one (``packaging.version``).
  Only the **newest** applicable version per name is reported (every file of it: wheel and
  sdist), as pulp_rpm reported the newest applicable RPM per name; pre-releases count only
  when the installed version is itself a pre-release (pip's default). Unparsable versions
  are skipped.
* ``ostree`` (profile ``[{ref, commit}]``) → the repository's head ``ostree`` commit unit of
  the ref, when it differs from the deployed commit (heads found through the parent links,
  as the OSTree distributor publishes them).
* ``iso`` (profile ``[{name, checksum, size}]``) → ``iso`` units with an installed file's name
  whose checksum differs from every installed checksum of that name.

Plugins contribute calculators for more profile types through ``pulp2ng.applicability``
(:class:`pulp2ng.plugin.ApplicabilityCalculator`; e.g. ``rpm`` → ``rpm`` and ``erratum``
units, ``modulemd`` → ``modulemd`` units, in ``importers/rpm/applicability.py``).

Results are stored per (profile hash, content type, repository) with the repository's content
revision (``repo_profile_applicability``), so 1 000 consumers with one profile cost one
computation per repository; a repository whose content changed has a new revision, and its
stored results are stale: queries recompute them, regeneration recomputes every pair it covers
(once per distinct pair).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pulp2ng.db.criteria import parse_criteria
from pulp2ng.db.profiles import applicability_doc_id
from pulp2ng.db.store import now
from pulp2ng.errors import InvalidValue, MissingResource, MissingValue
from pulp2ng.tasking import tags
from pulp2ng.tasking.dispatch import CallReport, dispatch
from pulp2ng.tasking.registry import task

#: Pulp 2's one global lock for criteria-wide regenerations.
GLOBAL_RESOURCE = "repository_profile_applicability:RESOURCE_ANY_ID"


def repo_resource(repo_id: str) -> str:
    return f"repository_profile_applicability:{repo_id}"


def consumer_tag(consumer_id: str) -> str:
    return f"pulp:consumer:{consumer_id}"


# -- calculators -------------------------------------------------------------------------------


def _python(profile, units) -> list[str]:
    installed: dict[str, Version] = {}
    for entry in profile or []:
        try:
            installed[canonicalize_name(entry["name"])] = Version(entry["version"])
        except (InvalidVersion, KeyError, TypeError):
            continue
    newest: dict[str, tuple[Version, list[str]]] = {}
    for unit in units:
        name = canonicalize_name(unit.get("name") or "")
        have = installed.get(name)
        if have is None:
            continue
        try:
            version = Version(str(unit.get("version")))
        except InvalidVersion:
            continue
        if version <= have or (version.is_prerelease and not have.is_prerelease):
            continue
        best = newest.get(name)
        if best is None or version > best[0]:
            newest[name] = (version, [unit["_id"]])
        elif version == best[0]:
            best[1].append(unit["_id"])
    return sorted(uid for _, ids in newest.values() for uid in ids)


def _branch_heads(units) -> dict[str, dict]:
    """ref → head commit unit: the commit no other commit of the branch names as parent (the
    newest by timestamp if the branch diverged), as the OSTree distributor publishes it."""
    by_branch: dict[str, dict[str, dict]] = {}
    for unit in units:
        by_branch.setdefault(unit.get("branch"), {})[unit.get("commit")] = unit
    heads = {}
    for branch, commits in by_branch.items():
        parents = {u.get("parent") for u in commits.values()}
        tips = [u for c, u in commits.items() if c not in parents] or list(commits.values())
        heads[branch] = max(tips, key=lambda u: (u.get("timestamp") or 0, u.get("commit")))
    return heads


def _ostree(profile, units) -> list[str]:
    heads = _branch_heads(units)
    out = set()
    for entry in profile or []:
        head = heads.get(entry.get("ref")) if isinstance(entry, dict) else None
        if head is not None and head.get("commit") != entry.get("commit"):
            out.add(head["_id"])
    return sorted(out)


def _iso(profile, units) -> list[str]:
    present: dict[str, set[str]] = {}
    for entry in profile or []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            present.setdefault(entry["name"], set()).add(str(entry.get("checksum")).lower())
    return sorted(u["_id"] for u in units
                  if u.get("name") in present
                  and str(u.get("checksum")).lower() not in present[u["name"]])


@dataclass(frozen=True)
class Calculator:
    """A built-in calculator of one unit type, seen through the plugins' interface
    (:class:`pulp2ng.plugin.ApplicabilityCalculator`: ``unit_fields`` and ``applicable``)."""

    content_type: str  # the profile's content type
    type_id: str  # the unit type it finds applicable units of
    fields: tuple[str, ...]  # the unit fields it reads
    compute: Callable

    @property
    def unit_fields(self) -> dict[str, tuple[str, ...]]:
        return {self.type_id: self.fields}

    def validate_profile(self, profile) -> None:
        return None  # checked by pulp2ng.controllers.profiles.PROFILE_KEYS

    def applicable(self, profile, units: dict[str, list[dict]]) -> dict[str, list[str]]:
        return {self.type_id: self.compute(profile, units[self.type_id])}


@dataclass(frozen=True)
class _Installed:
    """A plugin's calculator narrowed to the unit types the loaded plugins provide."""

    calculator: object
    unit_fields: dict

    @property
    def content_type(self) -> str:
        return self.calculator.content_type

    def validate_profile(self, profile):
        return self.calculator.validate_profile(profile)

    def applicable(self, profile, units):
        found = self.calculator.applicable(profile, units)
        return {t: sorted(ids) for t, ids in (found or {}).items() if t in self.unit_fields}


CALCULATORS = (
    Calculator("python", "python_package", ("name", "version"), _python),
    Calculator("ostree", "ostree", ("branch", "commit", "parent", "timestamp"), _ostree),
    Calculator("iso", "iso", ("name", "checksum"), _iso),
)


def calculators(platform) -> dict:
    """Profile content type → calculator, for the unit types the loaded plugins provide: the
    built-in ones, then those plugins contribute (``pulp2ng.applicability``)."""
    installed = platform.plugins.types
    out = {c.content_type: c for c in CALCULATORS if c.type_id in installed}
    for content_type, calc in platform.plugins.applicability.items():
        fields = {t: tuple(f) for t, f in calc.unit_fields.items() if t in installed}
        if fields:
            out[content_type] = _Installed(calc, fields)
    return out


# -- the engine --------------------------------------------------------------------------------


@dataclass
class Computation:
    bound: dict  # consumer → {repo_id}
    profiles: dict  # consumer → [(content_type, profile_hash)]
    results: dict  # applicability doc id → stored doc
    computed: int  # how many (profile, repository) pairs were computed now


def compute(platform, consumer_ids: set[str] | None = None, repo_ids: set[str] | None = None,
            force: bool = False) -> Computation:
    """Make sure every (profile, bound repository) pair of these consumers (or of the consumers
    bound to these repositories) has a current stored result; ``force`` recomputes each pair
    (once, however many consumers share it)."""
    store = platform.store
    calcs = calculators(platform)
    bound = store.bound_repositories(consumer_ids, repo_ids)
    profiles: dict[str, list[tuple[str, str]]] = {}
    for p in store.profiles_of(set(bound) if consumer_ids is None else consumer_ids,
                               calcs):
        profiles.setdefault(p["consumer_id"], []).append((p["content_type"], p["profile_hash"]))
    # Revisions are read before any unit: a change racing the computation leaves a result
    # under the old revision, which the next query sees as stale.
    revisions = store.repository_revisions({r for rs in bound.values() for r in rs})
    pairs: dict[str, tuple[str, str, str]] = {}
    for consumer, repos in bound.items():
        for content_type, phash in profiles.get(consumer, ()):
            for repo in repos:
                if repo in revisions:
                    pairs[applicability_doc_id(phash, content_type, repo)] = (
                        content_type, phash, repo)
    stored = store.stored_applicability(pairs)
    todo = [doc_id for doc_id, (_, _, repo) in pairs.items()
            if force or doc_id not in stored
            or stored[doc_id].get("repo_revision") != revisions[repo]]
    bodies = store.profile_bodies({pairs[d][:2] for d in todo})
    units: dict[tuple[str, str], list[dict]] = {}
    fresh = []
    stamp = now()
    for doc_id in sorted(todo, key=lambda d: pairs[d][2]):
        content_type, phash, repo = pairs[doc_id]
        if (content_type, phash) not in bodies:
            continue  # the profile changed meanwhile: its new hash is another pair
        calc = calcs[content_type]
        for type_id, fields in calc.unit_fields.items():
            if (repo, type_id) not in units:
                units[(repo, type_id)] = store.repository_units_of_type(repo, type_id,
                                                                        list(fields))
        fresh.append({
            "_id": doc_id, "profile_hash": phash, "content_type": content_type,
            "repo_id": repo, "repo_revision": revisions[repo],
            "applicability": calc.applicable(
                bodies[(content_type, phash)],
                {t: units[(repo, t)] for t in calc.unit_fields}),
            "computed": stamp,
        })
    store.save_applicability(fresh)
    stored.update({d["_id"]: d for d in fresh})
    return Computation(bound, profiles, stored, len(fresh))


def _requested_types(platform, value) -> set[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidValue(["content_types"], "content_types must be a list of type ids")
    # A profile type names its unit type where a calculator has just one (python →
    # python_package); otherwise ids are unit type ids, as in Pulp 2 (rpm, erratum…).
    by_name = {ct: next(iter(c.unit_fields)) for ct, c in calculators(platform).items()
               if len(c.unit_fields) == 1}
    return {by_name.get(v, v) for v in value}


def consumer_applicability(platform, body) -> list[dict]:
    """``POST consumers/content/applicability/``: consumers with identical results grouped."""
    if not isinstance(body, dict) or body.get("criteria") is None:
        raise MissingValue(["criteria"])
    criteria = parse_criteria(body["criteria"]).renamed({"id": "_id"})
    wanted = _requested_types(platform, body.get("content_types"))
    consumer_ids = platform.store.matching_consumer_ids(criteria)
    result = compute(platform, consumer_ids=set(consumer_ids))
    groups: dict[str, tuple[dict, list[str]]] = {}
    for consumer in consumer_ids:
        found: dict[str, set[str]] = {}
        for content_type, phash in result.profiles.get(consumer, ()):
            for repo in result.bound.get(consumer, ()):
                doc = result.results.get(applicability_doc_id(phash, content_type, repo))
                for type_id, ids in ((doc or {}).get("applicability") or {}).items():
                    if ids and (wanted is None or type_id in wanted):
                        found.setdefault(type_id, set()).update(ids)
        applicability = {t: sorted(ids) for t, ids in sorted(found.items())}
        key = repr(sorted(applicability.items()))
        groups.setdefault(key, (applicability, []))[1].append(consumer)
    return [{"consumers": sorted(members), "applicability": applicability}
            for applicability, members in sorted(groups.values(), key=lambda g: sorted(g[1]))]


# -- regeneration tasks ------------------------------------------------------------------------


@task("pulp.server.managers.consumer.applicability.regenerate_applicability_for_consumers")
def regenerate_for_consumers_task(ctx, consumer_criteria: dict):
    criteria = parse_criteria(consumer_criteria, "consumer_criteria").renamed({"id": "_id"})
    ids = set(ctx.platform.store.matching_consumer_ids(criteria))
    compute(ctx.platform, consumer_ids=ids, force=True)
    return None


@task("pulp.server.managers.consumer.applicability.regenerate_applicability_for_repos")
def regenerate_for_repos_task(ctx, repo_ids: list[str]):
    compute(ctx.platform, repo_ids=set(repo_ids), force=True)
    return None


def queue_consumers(platform, body) -> CallReport:
    """``POST consumers/actions/content/regenerate_applicability/``."""
    if not isinstance(body, dict) or body.get("consumer_criteria") is None:
        raise MissingValue(["consumer_criteria"])
    parse_criteria(body["consumer_criteria"], "consumer_criteria")
    task_id = dispatch(platform, regenerate_for_consumers_task, resource=GLOBAL_RESOURCE,
                       tags=[tags.action("content_applicability_regeneration")],
                       kwargs={"consumer_criteria": body["consumer_criteria"]})
    return CallReport(spawned_tasks=[task_id])


def queue_consumer(platform, consumer_id: str) -> CallReport:
    """``POST consumers/<id>/actions/content/regenerate_applicability/``."""
    if not platform.store.consumer_exists(consumer_id):
        raise MissingResource(consumer=consumer_id)
    task_id = dispatch(platform, regenerate_for_consumers_task,
                       resource=f"consumer:{consumer_id}",
                       tags=[consumer_tag(consumer_id),
                             tags.action("consumer_content_applicability_regeneration")],
                       kwargs={"consumer_criteria": {"filters": {"id": consumer_id}}})
    return CallReport(spawned_tasks=[task_id])


def queue_repositories(platform, body) -> CallReport | dict:
    """``POST repositories/actions/content/regenerate_applicability/``: one task for every
    matching repository (a call report), or with ``parallel`` one task per repository in a
    task group (a group call report ``{_href, group_id}``)."""
    if not isinstance(body, dict) or body.get("repo_criteria") is None:
        raise MissingValue(["repo_criteria"])
    parallel = body.get("parallel", False)
    if not isinstance(parallel, bool):
        raise InvalidValue(["parallel"], "parallel must be a boolean")
    criteria = parse_criteria(body["repo_criteria"], "repo_criteria").renamed({"id": "_id"})
    repo_ids = platform.store.existing_repository_ids(criteria)
    action = tags.action("content_applicability_regeneration")
    if not parallel:
        task_id = dispatch(platform, regenerate_for_repos_task, resource=GLOBAL_RESOURCE,
                           tags=[action], kwargs={"repo_ids": sorted(repo_ids)})
        return CallReport(spawned_tasks=[task_id])
    group_id = str(uuid.uuid4())
    for repo_id in sorted(repo_ids):
        dispatch(platform, regenerate_for_repos_task, resource=repo_resource(repo_id),
                 tags=[tags.repository(repo_id), action], kwargs={"repo_ids": [repo_id]},
                 group_id=group_id)
    return {"_href": f"/pulp/api/v2/task_groups/{group_id}/", "group_id": group_id}
