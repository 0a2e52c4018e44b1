"""Copy and remove (reference §2.4): both cascade along tag → list → manifest → blob.

A tag is per repository, so copying one makes a new tag unit in the destination (replacing a
same-name tag there); lists bring their manifests, manifests their blobs. Removal goes top
down and takes away only what nothing left in the repository still needs.
"""
from __future__ import annotations

from .types import BLOB, MANIFEST, MANIFEST_LIST, SIGNATURE, TAG
from .units import LIST_FIELDS, MANIFEST_FIELDS, TAG_FIELDS, Graph, manifest_blobs, tag_doc


def import_units(conduit, units: list[dict]) -> list[dict]:
    """Associate ``units`` and everything they reference with the destination repository."""
    by_type: dict[str, list[dict]] = {}
    for unit in units:
        by_type.setdefault(unit["_content_type_id"], []).append(unit)
    roots = [u["manifest_digest"] for u in by_type.get(TAG, ())]
    roots += [u["digest"] for t in (MANIFEST, MANIFEST_LIST) for u in by_type.get(t, ())]
    graph = Graph()
    lists = conduit.find_units(MANIFEST_LIST, ({"digest": d} for d in roots), LIST_FIELDS)
    for doc in lists.values():
        graph.add(MANIFEST_LIST, doc)
    wanted = set(roots) | {e["digest"] for d in lists.values() for e in d.get("manifests") or ()}
    manifests = conduit.find_units(MANIFEST, ({"digest": d} for d in wanted), MANIFEST_FIELDS)
    for doc in manifests.values():
        graph.add(MANIFEST, doc)
    closure = graph.closure(roots)
    closure[BLOB] |= {u["digest"] for u in by_type.get(BLOB, ())}
    blobs = conduit.find_units(BLOB, ({"digest": d} for d in closure[BLOB]), ["digest"])
    chosen = [u for u in lists.values() if u["digest"] in closure[MANIFEST_LIST]]
    chosen += [u for u in manifests.values() if u["digest"] in closure[MANIFEST]]
    chosen += list(blobs.values())
    chosen += list(by_type.get(SIGNATURE, ()))  # selected explicitly; tags do not pull them
    conduit.associate_units(chosen)
    tags = replace_tags(conduit, by_type.get(TAG, ()), graph)
    return chosen + tags


def replace_tags(conduit, tags, graph: Graph) -> list[dict]:
    """Save tags (``name``, ``manifest_digest``) of the repository; a same-name tag pointing
    elsewhere is unassociated. Targets come from ``graph``; unknown ones are skipped."""
    new = {}
    for tag in tags:
        digest = tag["manifest_digest"]
        is_list = digest in graph.lists
        target = (graph.lists if is_list else graph.manifests).get(digest)
        if target is not None:
            new[tag["name"]] = tag_doc(tag["name"], conduit.repo_id, target,
                                       MANIFEST_LIST if is_list else MANIFEST)
    ids = conduit.save_units(TAG, list(new.values()))
    stale = [t["_id"] for t in conduit.repo_units(TAG, TAG_FIELDS)
             if t["name"] in new and t["_id"] not in set(ids)]
    conduit.unassociate_units(TAG, stale)
    return [{**doc, "_id": uid, "_content_type_id": TAG} for doc, uid in zip(new.values(), ids)]


def remove_units(conduit, units: list[dict]) -> None:
    """Before ``units`` leave the repository: unassociate the tags pointing at removed
    manifests or lists, the manifests of removed lists that no remaining list holds and no
    remaining tag names, the blobs and signatures only removed manifests referenced."""
    removed = {u["_id"] for u in units}
    lists_gone = {u["digest"] for u in units if u["_content_type_id"] == MANIFEST_LIST}
    manifests_gone = {u["digest"] for u in units if u["_content_type_id"] == MANIFEST}
    targets_gone = lists_gone | manifests_gone
    if not targets_gone:
        return  # tags or blobs alone: nothing hangs below them
    tags = list(conduit.repo_units(TAG, TAG_FIELDS))
    conduit.unassociate_units(TAG, [t["_id"] for t in tags if t["_id"] not in removed
                                    and t["manifest_digest"] in targets_gone])
    tagged = {t["manifest_digest"] for t in tags} - targets_gone
    lists = list(conduit.repo_units(MANIFEST_LIST, LIST_FIELDS))
    listed = {e["digest"] for d in lists if d["digest"] not in lists_gone
              for e in d.get("manifests") or ()}
    children = {e["digest"] for d in lists if d["digest"] in lists_gone
                for e in d.get("manifests") or ()}
    manifests = list(conduit.repo_units(MANIFEST, MANIFEST_FIELDS))
    loose_children = children - listed - tagged
    orphaned = {m["digest"] for m in manifests if m["digest"] in loose_children}
    conduit.unassociate_units(MANIFEST, [m["_id"] for m in manifests
                                         if m["digest"] in orphaned and m["_id"] not in removed])
    gone = manifests_gone | orphaned
    needed = {b for m in manifests if m["digest"] not in gone for b in manifest_blobs(m)}
    loose = {b for m in manifests if m["digest"] in gone for b in manifest_blobs(m)} - needed
    blobs = conduit.repo_units(BLOB, ["digest"])
    conduit.unassociate_units(BLOB, [b["_id"] for b in blobs
                                     if b["digest"] in loose and b["_id"] not in removed])
    signatures = conduit.repo_units(SIGNATURE, ["manifest_digest"])
    conduit.unassociate_units(SIGNATURE, [s["_id"] for s in signatures
                                          if s["manifest_digest"] in gone])
