"""Build a servable archive-z2 repository from stored, already verified objects.

The result is what Pulp 2's ``ostree_web_distributor`` produced: ``config``, ``objects/…``
(hard links into the object store where the filesystem allows, copies otherwise),
``refs/heads/…`` and a ``summary``, plus the empty ``state``/``tmp``/``extensions``/``refs``
directories that ``ostree init`` creates, so local ``ostree`` commands (fsck, summary, deltas)
work on the result too. The summary is written last, because clients follow the
summary rather than ``refs/heads`` and must never see refs whose objects are not there yet.

Static deltas (``compute_delta``) go from each head's published parent to the head, as Pulp 3's
``compute_delta`` does (Pulp 2 made none): that is the update clients download most, and a
from-scratch delta would store every head's tree a second time. A head published without its
parent gets no delta. They are generated after all objects and refs, and listed in the summary.

History trimming: each head's history is published up to ``depth`` parents. The oldest
published commit then names a parent that the repository does not hold. ``ostree pull``
(``--depth=N`` and ``--depth=-1`` alike) treats a parent commit that 404s as the end of the
history, so a trimmed repository pulls and fscks fine; the tests pull one with ``--depth=-1``.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from collections.abc import Callable

from pulp2ng.importers.ostree import archive
from pulp2ng.importers.ostree.archive import (
    COMMIT, COMMITMETA, DIRMETA, DIRTREE, FILEZ, object_path,
)
from pulp2ng.importers.ostree.errors import OSTreeMissingObject

from . import deltas

REPO_DIRS = ("objects", "refs/heads", "refs/mirrors", "refs/remotes", "state", "tmp",
             "extensions")
ObjectSource = Callable[[str, str], "str | None"]


@dataclass
class PublishResult:
    """What was published: per-ref commit chains (head first) and the object count."""

    history: dict[str, list[str]] = field(default_factory=dict)
    objects: int = 0
    deltas: list[str] = field(default_factory=list)
    linked: int = 0
    copied: int = 0


class _Publisher:
    """Copies one object closure at a time into ``dest_dir``, each object at most once."""

    def __init__(self, dest_dir: str, object_source: ObjectSource):
        self.dest_dir = dest_dir
        self.object_source = object_source
        self.done: set[tuple[str, str]] = set()
        self.result = PublishResult()

    def source(self, checksum: str, objtype: str, required: bool = True) -> str | None:
        path = self.object_source(checksum, objtype)
        if path is None or not os.path.exists(path):
            if required:
                raise OSTreeMissingObject(
                    f"cannot publish: {object_path(checksum, objtype)} is not in the store")
            return None
        return path

    def put(self, checksum: str, objtype: str, src: str) -> None:
        """Hard-link (else copy) one object into the repository."""
        if (checksum, objtype) in self.done:
            return
        dest = os.path.join(self.dest_dir, object_path(checksum, objtype))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if not os.path.exists(dest):
            try:
                os.link(src, dest)
                self.result.linked += 1
            except OSError:  # another filesystem, or links not permitted
                shutil.copyfile(src, dest)
                self.result.copied += 1
        self.done.add((checksum, objtype))
        self.result.objects += 1

    def read(self, checksum: str, objtype: str) -> bytes:
        with open(self.source(checksum, objtype), "rb") as fh:
            return fh.read()

    def tree(self, root_tree: str, root_meta: str) -> None:
        """Publish a dirtree, its dirmeta and everything below (iteratively)."""
        stack = [(root_tree, root_meta)]
        while stack:
            tree_csum, meta_csum = stack.pop()
            self.put(meta_csum, DIRMETA, self.source(meta_csum, DIRMETA))
            if (tree_csum, DIRTREE) in self.done:
                continue
            src = self.source(tree_csum, DIRTREE)
            with open(src, "rb") as fh:
                tree = archive.parse_dirtree(fh.read())
            self.put(tree_csum, DIRTREE, src)
            for file_csum in tree.files.values():
                self.put(file_csum, FILEZ, self.source(file_csum, FILEZ))
            stack.extend(tree.dirs.values())

    def history(self, head: str, depth: int) -> list[str]:
        """Publish ``head`` and up to ``depth`` stored parents (-1: all); return the chain."""
        chain, current = [], head
        while current and (depth < 0 or len(chain) <= depth):
            src = self.source(current, COMMIT, required=not chain)
            if src is None:  # parent not in the store: the stored history ends here
                break
            with open(src, "rb") as fh:
                commit = archive.parse_commit(fh.read())
            self.tree(commit.root_dirtree, commit.root_dirmeta)
            meta = self.source(current, COMMITMETA, required=False)
            if meta:
                self.put(current, COMMITMETA, meta)
            self.put(current, COMMIT, src)  # after its tree: a commit is never dangling
            chain.append(current)
            current = commit.parent
        return chain


def write_archive_repo(dest_dir: str, refs: dict[str, str], object_source: ObjectSource,
                       depth: int = 0, last_modified: int | None = None,
                       compute_delta: bool = False) -> PublishResult:
    """Write a complete archive-z2 repository that ``ostree pull`` can consume over HTTP.

    Args:
        dest_dir: an empty or missing directory (publish into a fresh working directory and
            swap it in atomically; this function does not replace existing repositories).
        refs: ref → head commit checksum.
        object_source: ``(checksum, objtype) -> path`` of a stored, verified object, or None
            when it is not stored (allowed for ``commitmeta`` and for parents).
        depth: parents to publish per head: 0 = head only, N = up to N parents, -1 = all that
            are stored.
        last_modified: ``ostree.summary.last-modified`` (seconds); now when omitted.
        compute_delta: also write a static delta from each head's published parent.

    Returns:
        A :class:`PublishResult`.

    Raises:
        OSTreeMissingObject: a head, or an object of a published commit, is not stored.
        FileExistsError: ``dest_dir`` is not empty.
        deltas.OSTreeDeltaError: ``compute_delta`` is set and ``ostree`` failed or is missing.
    """
    for ref, head in refs.items():
        archive.validate_ref(ref)
        archive.validate_checksum(head)
    if os.path.isdir(dest_dir) and os.listdir(dest_dir):
        raise FileExistsError(f"publish directory {dest_dir} is not empty")
    os.makedirs(dest_dir, exist_ok=True)
    archive.write_atomic(os.path.join(dest_dir, "config"), archive.CONFIG_TEXT.encode("ascii"))
    for sub in REPO_DIRS:  # what `ostree init` creates; local ostree commands need them
        os.makedirs(os.path.join(dest_dir, sub), exist_ok=True)
    publisher = _Publisher(dest_dir, object_source)
    summary_refs = {}
    for ref, head in sorted(refs.items()):
        publisher.result.history[ref] = publisher.history(head, depth)
        data = publisher.read(head, COMMIT)
        summary_refs[ref] = (head, len(data), archive.parse_commit(data))
    for ref, head in refs.items():
        archive.write_ref(dest_dir, ref, head)
    delta_digests = {}
    if compute_delta:
        pairs = {(chain[1], chain[0]) for chain in publisher.result.history.values()
                 if len(chain) > 1}
        delta_digests = deltas.generate(dest_dir, pairs)
        publisher.result.deltas = sorted(delta_digests)
    summary = archive.build_summary(summary_refs, last_modified, delta_digests)
    archive.write_atomic(os.path.join(dest_dir, "summary"), summary)  # last: clients follow it
    return publisher.result
