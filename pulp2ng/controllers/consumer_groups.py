"""Consumer groups (Pulp 2's ``consumer_groups``): criteria-driven membership, and bindings
and content actions fanned out to the members.

Groups are created, changed and deleted synchronously, as in Pulp 2. A group bind, unbind or
content action is the single-consumer one (:mod:`pulp2ng.controllers.bindings`) applied to
each member, its request checked once before any member is touched; its call report spawns
every member's agent request. Unregistering a consumer takes it out of its groups
(:meth:`pulp2ng.db.consumers.ConsumerQueries.delete_consumer`); deleting a group leaves its
consumers alone.
"""

from __future__ import annotations

import re

from pulp2ng.controllers import bindings, groups
from pulp2ng.db.groups import CONSUMER_GROUPS
from pulp2ng.errors import InvalidValue
from pulp2ng.tasking.dispatch import CallReport

GROUP_ID = re.compile(r"^[.\-_A-Za-z0-9]+$")


def create_group(platform, body: dict) -> dict:
    """Create a group of existing consumers (201); an unknown consumer id is a 400."""
    group = groups.new_group(CONSUMER_GROUPS, body, GROUP_ID)
    members = group["consumer_ids"]
    found = platform.store.existing_consumer_ids(members) if members else set()
    missing = [c for c in members if c not in found]
    if missing:
        raise InvalidValue(["consumer_ids"], f"Unknown consumers: {missing}")
    groups.insert_group(platform, CONSUMER_GROUPS, group)
    return group


def list_groups(platform):
    return platform.store.list_groups(CONSUMER_GROUPS)


def search_groups(platform, criteria):
    """Groups matching parsed criteria (field names as the API shows them)."""
    return platform.store.search_groups(CONSUMER_GROUPS, criteria.renamed({"id": "_id"}))


def get_group(platform, group_id: str) -> dict:
    return platform.store.get_group(CONSUMER_GROUPS, group_id)


def update_group(platform, group_id: str, body: dict) -> dict:
    """``display_name``, ``description`` replaced; ``notes`` merged (null removes a key)."""
    return groups.update_group(platform, CONSUMER_GROUPS, group_id, body)


def delete_group(platform, group_id: str) -> None:
    get_group(platform, group_id)
    platform.store.delete_group(CONSUMER_GROUPS, group_id)


def associate(platform, group_id: str, body: dict) -> list[str]:
    """Add the consumers matching consumer ``criteria``; returns the group's members."""
    return groups.change_members(platform, CONSUMER_GROUPS, group_id, body,
                                 platform.store.matching_consumer_ids, add=True)


def unassociate(platform, group_id: str, body: dict) -> list[str]:
    """Remove the consumers matching consumer ``criteria``; returns the members left."""
    return groups.change_members(platform, CONSUMER_GROUPS, group_id, body,
                                 platform.store.matching_consumer_ids, add=False)


def _members(platform, group_id: str) -> list[str]:
    """The group's consumers that still exist (one unregistered a moment ago is skipped)."""
    members = get_group(platform, group_id).get("consumer_ids") or []
    found = platform.store.existing_consumer_ids(members) if members else set()
    return [c for c in members if c in found]


def bind(platform, group_id: str, body) -> CallReport:
    """Bind every member to a repository's distributor (202)."""
    return bindings.bind_consumers(platform, _members(platform, group_id), body)


def unbind(platform, group_id: str, repo_id: str, distributor_id: str, body) -> CallReport:
    """Unbind every member bound to the distributor."""
    return bindings.unbind_consumers(platform, _members(platform, group_id), repo_id,
                                     distributor_id, body)


def content_action(platform, group_id: str, action: str, body) -> CallReport:
    """Install, update or uninstall units on every member: one agent request each."""
    return bindings.content_action_consumers(platform, _members(platform, group_id), action,
                                             body)
