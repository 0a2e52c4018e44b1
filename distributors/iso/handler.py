"""Consumer handler for ``iso_distributor`` bindings: files fetched from the published tree.

``bind`` writes ``<root>/iso/<repo>.json`` (the payload's base URL, manifest URL, TLS and CA;
the CA as ``<root>/iso/<repo>.ca.pem``). Install reads the bound repository's PULP_MANIFEST,
downloads each named file into the configured directory (config ``dir``, default
``<root>/iso/files``) through a temporary file, checks its size and sha256 against the
manifest, and renames the files into place only once every one of them verified: an install
lands whole or not at all. The profile lists the files there with their sha256 and size.
"""

from __future__ import annotations

import hashlib
import json
import os

import requests

from pulp2ng.plugin import Handler, HandlerError, safe_relative_path


class IsoHandler(Handler):
    content_type = "iso"
    distributor_types = ("iso_distributor",)
    default_config = {"dir": "iso/files"}

    @property
    def files(self):
        return self.config_path("dir", "iso/files")

    def record(self, repo_id: str):
        return self.path("iso", f"{_component(repo_id)}.json")

    def bind(self, binding):
        d = binding["details"]
        repo_id = binding["repo_id"]
        ca = self.path("iso", f"{_component(repo_id)}.ca.pem")
        if d.get("tls") and d.get("ca_cert"):
            self.write_file(ca, d["ca_cert"])
        else:
            self.remove(ca)
        self.write_json(self.record(repo_id), {
            "repo_id": repo_id, "distributor_id": binding["distributor_id"], "url": d["url"],
            "manifest_url": d["manifest_url"], "tls": bool(d.get("tls")),
            "ca_file": str(ca) if d.get("tls") and d.get("ca_cert") else None})
        return {"binding_file": str(self.record(repo_id)), "url": d["url"]}

    def unbind(self, repo_id, distributor_id):
        record = self.read_json(self.record(repo_id))
        if record is None or record["distributor_id"] != distributor_id:
            return {"removed": False}
        self.remove(self.path("iso", f"{_component(repo_id)}.ca.pem"))
        self.remove(self.record(repo_id))
        return {"removed": True}

    def _bindings(self) -> list[dict]:
        folder = self.path("iso")
        return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] \
            if folder.is_dir() else []

    # -- content --------------------------------------------------------------------------

    def install(self, units, options):
        timeout = float(options.get("timeout", 60))
        plan = []  # (binding, manifest entry, destination)
        manifests: dict[str, dict] = {}
        for unit in units:
            name = _name(unit)
            candidates = [b for b in self._bindings()
                          if options.get("repo_id") in (None, b["repo_id"])]
            for binding in candidates:
                if binding["repo_id"] not in manifests:
                    manifests[binding["repo_id"]] = self._manifest(binding, timeout)
                if name in manifests[binding["repo_id"]]:
                    plan.append((binding, manifests[binding["repo_id"]][name],
                                 self.under_root(self.files / name)))
                    break
            else:
                raise HandlerError(f"no bound repository publishes {name!r}")
        staged = []
        tmp = self.temp_dir("iso")
        try:
            for i, (binding, entry, dest) in enumerate(plan):
                part = tmp / str(i)
                self._download(binding, entry, part, timeout)
                staged.append((part, dest))
            for part, dest in staged:  # every file verified: now place them
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(part, dest)
        finally:
            self.remove(tmp)
        return {"changed": bool(plan), "installed": [e["name"] for _, e, _ in plan]}

    def update(self, units, options):
        """Fetch again the files (all present ones when ``units`` is empty) whose checksum
        differs from their bound repository's manifest."""
        present = {p["name"]: p for p in self.profile()}
        names = [_name(u) for u in units] if units else list(present)
        stale = []
        for binding in self._bindings():
            if options.get("repo_id") not in (None, binding["repo_id"]):
                continue
            manifest = self._manifest(binding, float(options.get("timeout", 60)))
            stale += [n for n in names if n in manifest and n not in stale
                      and present.get(n, {}).get("checksum") != manifest[n]["checksum"]]
        if not stale:
            return {"changed": False, "installed": []}
        return self.install([{"type_id": "iso", "unit_key": {"name": n}} for n in stale],
                            options)

    def uninstall(self, units, options):
        removed = [n for n in (_name(u) for u in units) if self.remove(self.files / n)]
        return {"changed": bool(removed), "removed": removed}

    def profile(self):
        if not self.files.is_dir():
            return []
        out = []
        for path in sorted(self.files.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                digest = hashlib.sha256()
                with path.open("rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        digest.update(block)
                out.append({"name": path.relative_to(self.files).as_posix(),
                            "checksum": digest.hexdigest(), "size": path.stat().st_size})
        return out

    # -- downloads ------------------------------------------------------------------------

    def _verify(self, binding: dict):
        return binding["ca_file"] if binding["tls"] and binding.get("ca_file") else True

    def _manifest(self, binding: dict, timeout: float) -> dict[str, dict]:
        try:
            response = requests.get(binding["manifest_url"], timeout=timeout,
                                    verify=self._verify(binding))
            response.raise_for_status()
        except requests.RequestException as exc:
            raise HandlerError(f"cannot read {binding['manifest_url']}: {exc}")
        entries = {}
        for line in response.text.splitlines():
            parts = line.strip().split(",")
            if len(parts) == 3 and safe_relative_path(parts[0]):
                entries[parts[0]] = {"name": parts[0], "checksum": parts[1].lower(),
                                     "size": int(parts[2])}
        return entries

    def _download(self, binding: dict, entry: dict, part, timeout: float) -> None:
        url = binding["url"] + entry["name"]
        digest, size = hashlib.sha256(), 0
        try:
            with requests.get(url, stream=True, timeout=timeout,
                              verify=self._verify(binding)) as response:
                response.raise_for_status()
                with open(part, "wb") as out:
                    for block in response.iter_content(1 << 20):
                        self.check_canceled()
                        out.write(block)
                        digest.update(block)
                        size += len(block)
                    out.flush()
                    os.fsync(out.fileno())
        except requests.RequestException as exc:
            raise HandlerError(f"cannot download {url}: {exc}")
        if size != entry["size"] or digest.hexdigest() != entry["checksum"]:
            raise HandlerError(f"{entry['name']} does not match the manifest "
                               f"(size {size}, sha256 {digest.hexdigest()})",
                               name=entry["name"])


def _name(unit: dict) -> str:
    name = safe_relative_path((unit.get("unit_key") or {}).get("name") or "")
    if name is None:
        raise HandlerError(f"not a file unit key: {unit.get('unit_key')!r}")
    return name


def _component(name: str) -> str:
    safe = safe_relative_path(str(name))
    if safe is None or "/" in safe:
        raise HandlerError(f"{name!r} cannot name a file")
    return safe
