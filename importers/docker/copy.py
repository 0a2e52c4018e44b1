"""Copy between repositories: tags pull their manifests and blobs along (reference §2.4).

A tag is per repository, so copying one makes a new tag unit in the destination (replacing a
same-name tag there); lists bring their manifests, manifests their blobs.
"""
from __future__ import annotations

from .types import BLOB, MANIFEST, MANIFEST_LIST, SIGNATURE, TAG
from .units import LIST_FIELDS, MANIFEST_FIELDS, TAG_FIELDS, Graph, tag_doc


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
