"""Consumer profiles (``consumer_unit_profiles``) and stored applicability
(``repo_profile_applicability``), plus the read-only views of the consumer collections
(``consumers``, ``consumer_bindings``) that applicability needs.

Documents:

* ``consumer_unit_profiles``: ``{_id: "<consumer>\\x1f<content_type>", oid, consumer_id,
  content_type, profile, profile_hash}`` (one per consumer and content type, deterministic id);
* ``repo_profile_applicability``: ``{_id: "<profile_hash>\\x1f<content_type>\\x1f<repo_id>",
  profile_hash, content_type, repo_id, repo_revision, applicability: {type_id: [unit ids]},
  computed}``: one computation per distinct profile and repository content revision.

``consumers`` and ``consumer_bindings`` belong to the consumers aggregate
(:mod:`pulp2ng.db.consumers`); only their agreed fields are read here.
"""

from __future__ import annotations

from collections.abc import Iterable

import pymongo

from pulp2ng.db.common import SCAN_BATCH

SEP = "\x1f"


def profile_doc_id(consumer_id: str, content_type: str) -> str:
    return f"{consumer_id}{SEP}{content_type}"


def applicability_doc_id(profile_hash: str, content_type: str, repo_id: str) -> str:
    return f"{profile_hash}{SEP}{content_type}{SEP}{repo_id}"


class ProfileQueries:
    """Store methods over profiles and stored applicability."""

    @property
    def profiles(self):
        return self.db["consumer_unit_profiles"]

    @property
    def applicability(self):
        return self.db["repo_profile_applicability"]

    def ensure_profile_indexes(self) -> None:
        self.profiles.create_index([("consumer_id", 1)])
        self.applicability.create_index([("repo_id", 1)])

    # -- consumers (owned by pulp2ng.db.consumers; read only here) ------------------------------

    def consumer_exists(self, consumer_id: str) -> bool:
        return self.consumers.find_one({"_id": consumer_id}, {"_id": 1}) is not None

    def matching_consumer_ids(self, criteria) -> list[str]:
        """Ids of the consumers matching parsed consumer criteria, criteria applied."""
        return [c["_id"] for c in criteria.apply(
            self.consumers.find(criteria.filters, {"_id": 1}))]

    def all_consumer_ids(self) -> set[str]:
        return {c["_id"] for c in self.consumers.find({}, {"_id": 1},
                                                             batch_size=SCAN_BATCH)}

    def bound_repositories(self, consumer_ids: set[str] | None = None,
                           repo_ids: set[str] | None = None) -> dict[str, set[str]]:
        """``{consumer_id: {repo_id, ...}}`` of the live (not ``deleted``) bindings, limited
        to these consumers and/or repositories."""
        # SecantusDB workaround: one projected scan filtered in Python, never a long $in.
        bound: dict[str, set[str]] = {}
        for b in self.bindings.find(
                {}, {"consumer_id": 1, "repo_id": 1, "deleted": 1}, batch_size=SCAN_BATCH):
            if b.get("deleted"):
                continue
            if consumer_ids is not None and b["consumer_id"] not in consumer_ids:
                continue
            if repo_ids is not None and b["repo_id"] not in repo_ids:
                continue
            bound.setdefault(b["consumer_id"], set()).add(b["repo_id"])
        return bound

    # -- profiles -------------------------------------------------------------------------------

    def save_profile(self, doc: dict) -> dict:
        """Insert or replace the consumer's profile of ``doc['content_type']``; keeps the
        ``oid`` of a replaced profile."""
        doc_id = profile_doc_id(doc["consumer_id"], doc["content_type"])
        existing = self.profiles.find_one({"_id": doc_id}, {"oid": 1})
        if existing is not None:
            doc["oid"] = existing["oid"]
        doc["_id"] = doc_id
        self.profiles.replace_one({"_id": doc_id}, doc, upsert=True)
        return doc

    def find_profile(self, consumer_id: str, content_type: str) -> dict | None:
        return self.profiles.find_one({"_id": profile_doc_id(consumer_id, content_type)})

    def consumer_profiles(self, consumer_id: str) -> list[dict]:
        return list(self.profiles.find({"consumer_id": consumer_id}).sort("content_type", 1))

    def delete_profile(self, consumer_id: str, content_type: str) -> bool:
        return self.profiles.delete_one(
            {"_id": profile_doc_id(consumer_id, content_type)}).deleted_count == 1

    def delete_consumer_profiles(self, consumer_id: str) -> int:
        """For consumer deletion: drop every profile of the consumer."""
        return self.profiles.delete_many({"consumer_id": consumer_id}).deleted_count

    def search_profiles(self, criteria) -> list[dict]:
        return list(criteria.apply(self.profiles.find(criteria.filters)))

    def profiles_of(self, consumer_ids: set[str] | None,
                    content_types: Iterable[str] | None = None) -> list[dict]:
        """Profiles (without the profile body) of these consumers (None: all)."""
        # SecantusDB workaround: one projected scan filtered in Python, never a long $in.
        types = set(content_types) if content_types is not None else None
        out = []
        for p in self.profiles.find({}, {"consumer_id": 1, "content_type": 1,
                                         "profile_hash": 1}, batch_size=SCAN_BATCH):
            if consumer_ids is not None and p["consumer_id"] not in consumer_ids:
                continue
            if types is not None and p["content_type"] not in types:
                continue
            out.append(p)
        return out

    def profile_bodies(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], object]:
        """``{(content_type, profile_hash): profile}``: one body per distinct profile."""
        wanted = set(keys)
        bodies: dict[tuple[str, str], object] = {}
        if not wanted:
            return bodies
        for p in self.profiles.find({}, {"content_type": 1, "profile_hash": 1, "profile": 1},
                                    batch_size=SCAN_BATCH):
            key = (p["content_type"], p["profile_hash"])
            if key in wanted and key not in bodies:
                bodies[key] = p.get("profile")
                if len(bodies) == len(wanted):
                    break
        return bodies

    # -- repositories, seen by applicability -----------------------------------------------------

    def repository_revisions(self, repo_ids: set[str] | None = None) -> dict[str, str]:
        """``{repo_id: content revision}``: changes whenever the repository's content does
        (``revision`` is bumped by every association change); the creation time makes a
        deleted-and-recreated repository a new revision."""
        out = {}
        for r in self.repos.find({}, {"revision": 1, "created": 1}, batch_size=SCAN_BATCH):
            if repo_ids is None or r["_id"] in repo_ids:
                created = r.get("created")
                stamp = created.timestamp() if created is not None else 0
                out[r["_id"]] = f"{stamp}:{r.get('revision') or 0}"
        return out

    def repository_units_of_type(self, repo_id: str, type_id: str,
                                 projection: list[str]) -> list[dict]:
        """The units of one type in a repository, projected to ``projection`` (plus ``_id``)."""
        ids = [a["unit_id"] for a in self.associations.find(
            {"repo_id": repo_id, "unit_type_id": type_id}, {"unit_id": 1},
            batch_size=SCAN_BATCH)]
        return list(self.find_units_by_ids(type_id, ids, {f: 1 for f in projection}))

    # -- stored applicability --------------------------------------------------------------------

    def stored_applicability(self, doc_ids: Iterable[str]) -> dict[str, dict]:
        return {d["_id"]: d for d in self.find_by_ids(self.applicability, doc_ids)}

    def save_applicability(self, docs: list[dict]) -> None:
        for start in range(0, len(docs), 500):
            self.applicability.bulk_write(
                [pymongo.ReplaceOne({"_id": d["_id"]}, d, upsert=True)
                 for d in docs[start:start + 500]], ordered=False)

    def count_applicability(self, repo_id: str) -> int:
        return self.applicability.count_documents({"repo_id": repo_id})

    def delete_repository_applicability(self, repo_id: str) -> int:
        return self.applicability.delete_many({"repo_id": repo_id}).deleted_count
