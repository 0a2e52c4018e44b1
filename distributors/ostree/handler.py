"""Consumer handler for ``ostree_web_distributor`` bindings: a remote in a local OSTree repo.

``bind`` adds the payload's remote (``remote_name``, ``url``) to the configured repository
(config ``repo``, default ``<root>/ostree/repo``, created with ``repo_mode``, default
``archive``): ``--no-gpg-verify`` unless the payload says ``gpg_verify``, in which case its
``gpg_keys`` are imported for that remote; with TLS the CA is written beside the repository
and named by ``tls-ca-path``. Binding again with another URL replaces the remote. The remote
name is recorded in ``<root>/ostree/bindings/<repo>.json`` so unbind and the content actions
find it. libostree pulls and ref changes are transactional, so a failed pull leaves the refs
as they were.
"""

from __future__ import annotations

import json

from pulp2ng.plugin import Handler, HandlerError, safe_relative_path


class OSTreeHandler(Handler):
    content_type = "ostree"
    distributor_types = ("ostree_web_distributor",)
    default_config = {"ostree": "ostree", "repo": "ostree/repo", "repo_mode": "archive"}

    @property
    def repo(self):
        return self.config_path("repo", "ostree/repo")

    def ostree(self, *args, check=True, **kw):
        return self.run([self.config["ostree"], f"--repo={self.repo}", *args], check=check, **kw)

    def record(self, repo_id: str):
        return self.path("ostree", "bindings", f"{_component(repo_id)}.json")

    def _ensure_repo(self) -> None:
        if not (self.repo / "config").exists():
            self.repo.mkdir(parents=True, exist_ok=True)
            self.ostree("init", f"--mode={self.config['repo_mode']}")

    # -- bindings -------------------------------------------------------------------------

    def bind(self, binding):
        d = binding["details"]
        remote = _component(d["remote_name"])
        self._ensure_repo()
        previous = self.read_json(self.record(binding["repo_id"]))
        if previous and previous["remote"] != remote:
            self.ostree("remote", "delete", "--if-exists", previous["remote"])
        shown = self.ostree("remote", "show-url", remote, check=False)
        if shown.returncode == 0 and shown.stdout.strip() != d["url"]:
            self.ostree("remote", "delete", remote)
        args = ["remote", "add", "--if-not-exists"]
        if d.get("gpg_verify"):
            args += ["--set=gpg-verify=true"]
        else:
            args += ["--no-gpg-verify"]
        ca = self.path("ostree", "ca", f"{remote}.pem")
        if d.get("tls") and d.get("ca_cert"):
            self.write_file(ca, d["ca_cert"])
            args += [f"--set=tls-ca-path={ca}"]
        else:
            self.remove(ca)
        self.ostree(*args, remote, d["url"])
        if d.get("gpg_verify"):
            keys = self.path("ostree", "keys", f"{remote}.asc")
            self.write_file(keys, "\n".join(d.get("gpg_keys") or []))
            self.ostree("remote", "gpg-import", f"--keyring={keys}", remote)
        self.write_json(self.record(binding["repo_id"]), {
            "repo_id": binding["repo_id"], "distributor_id": binding["distributor_id"],
            "remote": remote, "url": d["url"]})
        return {"repo": str(self.repo), "remote": remote, "url": d["url"]}

    def unbind(self, repo_id, distributor_id):
        record = self.read_json(self.record(repo_id))
        if record is None or record["distributor_id"] != distributor_id:
            return {"removed": False}
        if (self.repo / "config").exists():
            self.ostree("remote", "delete", "--if-exists", record["remote"])
        for path in (self.path("ostree", "ca", f"{record['remote']}.pem"),
                     self.path("ostree", "keys", f"{record['remote']}.asc"),
                     self.record(repo_id)):
            self.remove(path)
        return {"removed": True}

    def _bindings(self) -> list[dict]:
        folder = self.path("ostree", "bindings")
        return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] \
            if folder.is_dir() else []

    # -- content --------------------------------------------------------------------------

    def install(self, units, options):
        pulled = []
        by_remote: dict[str, list[str]] = {}
        for unit in units:
            remote, ref = self._target(unit, options)
            by_remote.setdefault(remote, []).append(ref)
        for remote, refs in by_remote.items():
            depth = int(options.get("depth", 0))
            self.ostree("pull", f"--depth={depth}", remote, *refs,
                        timeout=float(options.get("timeout", 1800)))
            pulled += [f"{remote}:{r}" for r in refs]
        return {"changed": bool(pulled), "pulled": pulled}

    def update(self, units, options):
        if not units:
            units = [{"type_id": "ostree", "unit_key": {"branch": p["ref"]}, "remote": p["remote"]}
                     for p in self.profile() if p["remote"]]
            result = {"changed": False, "pulled": []}
            for unit in units:
                done = self.install([unit], {**options, "remote": unit["remote"]})
                result["pulled"] += done["pulled"]
                result["changed"] = result["changed"] or done["changed"]
            return result
        return self.install(units, options)

    def uninstall(self, units, options):
        removed = []
        for unit in units:
            remote, ref = self._target(unit, options)
            if self.ostree("rev-parse", f"{remote}:{ref}", check=False).returncode == 0:
                self.ostree("refs", "--delete", f"{remote}:{ref}")
                removed.append(f"{remote}:{ref}")
        if removed:
            self.ostree("prune", "--refs-only")
        return {"changed": bool(removed), "removed": removed}

    def profile(self):
        if not (self.repo / "config").exists():
            return []
        out = []
        for line in self.ostree("refs").stdout.splitlines():
            name = line.strip()
            if not name:
                continue
            remote, _, ref = name.rpartition(":")
            commit = self.ostree("rev-parse", name).stdout.strip()
            out.append({"remote": remote or None, "ref": ref, "commit": commit})
        return sorted(out, key=lambda p: (p["remote"] or "", p["ref"]))

    def _target(self, unit: dict, options: dict) -> tuple[str, str]:
        """``(remote, ref)``: the remote of the binding named by ``options``/the unit key
        (``repo_id`` or ``remote``), or the only OSTree binding."""
        key = unit.get("unit_key") or {}
        ref = key.get("branch") or key.get("ref")
        if safe_relative_path(ref or "") is None:
            raise HandlerError(f"not an OSTree ref: {key!r}")
        remote = options.get("remote") or unit.get("remote") or key.get("remote")
        if remote is None:
            repo_id = options.get("repo_id") or key.get("repo_id")
            matches = [b for b in self._bindings() if repo_id in (None, b["repo_id"])]
            if len(matches) != 1:
                raise HandlerError(f"{len(matches)} OSTree bindings match {key!r}: name "
                                   "repo_id or remote in the options")
            remote = matches[0]["remote"]
        return _component(remote), ref


def _component(name: str) -> str:
    safe = safe_relative_path(str(name))
    if safe is None or "/" in safe or ":" in safe or safe.startswith("-"):
        raise HandlerError(f"{name!r} cannot name an OSTree remote")
    return safe
