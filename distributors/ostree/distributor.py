"""``ostree_web_distributor``: publish a repository's branches as an OSTree archive repository.

Served at ``/pulp/ostree/web/<relative_path>/`` (``relative_path`` defaults to the repository
id). Each branch's head is found through the parent links of the branch's commit units (the
commit no other commit of the branch names as parent; the newest wins if a branch diverged).
Objects are hard links to content storage; ``summary`` is regenerated and written last, and
the tree is swapped in atomically.

``compute_delta`` (default false, so by default we serve what Pulp 2 served: objects only) adds
a static delta from each head's published parent, so an up-to-date client fetches one update
instead of every changed object. libostree writes the deltas, so the ``ostree`` command must be
installed; validation refuses the key without it rather than failing every publish later.
"""

from __future__ import annotations

from pulp2ng.importers.ostree.errors import OSTreeError
from pulp2ng.importers.ostree.types import COMMIT_TYPE, OBJECT_TYPE
from pulp2ng.plugin import (
    Distributor,
    PublishError,
    PublishReport,
    check_publish_path,
    consumer_payload_base,
)

from . import deltas, publish

AREA = "ostree"


def relative_path(repo, config) -> str:
    return str(config.get("relative_path") or repo["id"]).strip("/")


def publish_options(config) -> tuple[int, bool]:
    """``(depth, compute_delta)``; ValueError or TypeError when either has the wrong type."""
    return config.get_int("depth", 0), config.get_boolean("compute_delta", False)


def branch_heads(units) -> dict[str, str]:
    """ref → head commit, from commit units with ``branch``, ``commit``, ``parent``,
    ``timestamp``."""
    by_branch: dict[str, dict[str, dict]] = {}
    for unit in units:
        by_branch.setdefault(unit["branch"], {})[unit["commit"]] = unit
    heads = {}
    for branch, commits in by_branch.items():
        parents = {u.get("parent") for u in commits.values()}
        tips = [u for c, u in commits.items() if c not in parents] or list(commits.values())
        heads[branch] = max(tips, key=lambda u: (u.get("timestamp") or 0, u["commit"]))["commit"]
    return heads


class OSTreeDistributor(Distributor):
    web_areas = {"/pulp/ostree/web/": AREA}
    default_config = {"depth": 0, "compute_delta": False}
    config_keys = ("relative_path",)

    @classmethod
    def metadata(cls):
        return {"id": "ostree_web_distributor", "display_name": "OSTree Web Distributor",
                "types": [COMMIT_TYPE, OBJECT_TYPE]}

    def validate_config(self, repo, config, config_conduit):
        ok, why = check_publish_path(repo, config, config_conduit, "relative_path")
        if not ok:
            return ok, why
        try:
            depth, compute_delta = publish_options(config)
        except (TypeError, ValueError) as exc:
            return False, str(exc)
        if depth < -1:
            return False, "depth must be -1 (all), 0 (head only) or a positive number"
        if compute_delta and deltas.ostree_command() is None:
            return False, ("compute_delta needs the ostree command (libostree) on the server, "
                           "and it is not installed")
        return True, None

    def create_consumer_payload(self, repo, config, binding_config, server):
        """``url`` (the published archive repository), ``remote_name`` (a suggestion:
        ``binding_config["remote_name"]`` or the repository id), ``gpg_verify`` and
        ``gpg_keys``. Publishing keeps the commits' signatures (commitmeta objects), so when
        the importer verified them (``gpg_verify`` with ``gpg_keys``) the consumer can too,
        with the same keys; ``binding_config["gpg_verify"]`` overrides the choice."""
        rel = relative_path(repo, config)
        payload = consumer_payload_base(server, binding_config, rel)
        importer = (repo.get("importer") or {}).get("config") or {}
        keys = importer.get("gpg_keys") or []
        keys = [keys] if isinstance(keys, str) else list(keys)
        verify = _truthy(importer.get("gpg_verify")) and bool(keys)
        if (binding_config or {}).get("gpg_verify") is not None:
            verify = _truthy(binding_config["gpg_verify"])
        remote = str((binding_config or {}).get("remote_name") or repo["id"])
        return {**payload, "url": f"{payload['server_url']}/pulp/ostree/web/{rel}/",
                "remote_name": remote, "gpg_verify": verify, "gpg_keys": keys}

    def publish_location(self, repo, config):
        return AREA, relative_path(repo, config)

    def publish_repo(self, repo, conduit, config):
        progress = [{"step_type": "ostree_publish_main", "description": "Publish Trees",
                     "state": "IN_PROGRESS"},
                    {"step_type": "ostree_publish_over_http",
                     "description": "Making files available via web.", "state": "NOT_STARTED"}]
        try:
            depth, compute_delta = publish_options(config)
        except (TypeError, ValueError) as exc:  # an override_config is not validated
            raise PublishError(f"Invalid publish configuration: {exc}") from None
        conduit.set_progress(progress, force=True)
        heads = branch_heads(conduit.repo_units(
            COMMIT_TYPE, ["branch", "commit", "parent", "timestamp"]))
        paths = {(u["checksum"], u["objtype"]): u["_storage_path"] for u in
                 conduit.repo_units(OBJECT_TYPE, ["checksum", "objtype", "_storage_path"])}

        def source(checksum: str, objtype: str):
            rel = paths.get((checksum, objtype))
            return str(conduit.content_path(rel)) if rel else None

        conduit.check_canceled()
        try:
            with conduit.publish_dir(AREA, relative_path(repo, config)) as tree:
                result = publish.write_archive_repo(str(tree), heads, source, depth,
                                                    compute_delta=compute_delta)
                progress[0]["state"], progress[1]["state"] = "FINISHED", "IN_PROGRESS"
                conduit.set_progress(progress, force=True)
        except OSTreeError as exc:
            progress[0]["state"] = "FAILED"
            conduit.set_progress(progress, force=True)
            raise PublishError(f"OSTree publish failed: {exc}") from None
        progress[1]["state"] = "FINISHED"
        conduit.set_progress(progress, force=True)
        return PublishReport(True, summary={s["step_type"]: s["state"] for s in progress},
                             details={"refs": result.history, "objects": result.objects,
                                      "deltas": result.deltas})


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)
