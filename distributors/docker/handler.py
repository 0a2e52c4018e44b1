"""Consumer handler for ``docker_distributor_web`` bindings: skopeo and an OCI layout.

``bind`` writes ``<root>/containers/registries.conf.d/pulp2ng-<repo>.conf``, a registries.conf
(v2) drop-in naming pulp2ng's registry (``insecure = true`` when the payload says plain HTTP),
and with TLS the CA as ``<root>/containers/certs.d/<host:port>/ca.crt`` (the layout
containers-certs.d(5) reads). Installed on a host with ``root=/etc`` these are the system's
files; elsewhere point clients at them (``--registries-conf`` / ``CONTAINERS_REGISTRIES_CONF``
and ``--cert-dir``), as install does.

Install copies each tag with ``skopeo copy docker://<registry>/<name>:<tag>`` into a temporary
OCI layout, then merges it into the configured layout (config ``layout``, default
``<root>/containers/oci``): blobs first (content-addressed, so a stray one is harmless), then
``index.json`` replaced atomically, so the layout names an image only once all of it is there.
Images are named ``<repository>:<tag>`` in the layout. Uninstall drops the names and the blobs
nothing else references.
"""

from __future__ import annotations

import json
import os

from pulp2ng.plugin import Handler, HandlerError, safe_relative_path

REF_NAME = "org.opencontainers.image.ref.name"


class DockerHandler(Handler):
    content_type = "docker"
    distributor_types = ("docker_distributor_web",)
    default_config = {"skopeo": "skopeo", "layout": "containers/oci"}

    # -- bindings -------------------------------------------------------------------------

    def dropin(self, repo_id: str):
        return self.path("containers", "registries.conf.d", f"pulp2ng-{_safe(repo_id)}.conf")

    def record(self, repo_id: str):
        return self.path("containers", "bindings", f"{_safe(repo_id)}.json")

    def cert_dir(self, registry: str):
        return self.path("containers", "certs.d", _safe(registry))

    def bind(self, binding):
        d = binding["details"]
        repo_id = binding["repo_id"]
        self.unbind(repo_id, binding["distributor_id"])
        registry = d["registry"]
        conf = (f'# pulp2ng binding of repository {repo_id} ({binding["distributor_id"]})\n'
                "[[registry]]\n"
                f'location = "{registry}"\n'
                f"insecure = {'false' if d['tls'] else 'true'}\n")
        if d["tls"] and d.get("ca_cert"):
            self.write_file(self.cert_dir(registry) / "ca.crt", d["ca_cert"])
        self.write_json(self.record(repo_id), {
            "repo_id": repo_id, "distributor_id": binding["distributor_id"],
            "registry": registry, "repository": d["repository"], "tls": bool(d["tls"])})
        path = self.write_file(self.dropin(repo_id), conf)
        return {"registries_conf": str(path), "pull_spec": d["pull_spec"]}

    def unbind(self, repo_id, distributor_id):
        record = self.read_json(self.record(repo_id))
        if record is None or record["distributor_id"] != distributor_id:
            return {"removed": False}
        self.remove(self.dropin(repo_id))
        others = [b for b in self._bindings() if b["repo_id"] != repo_id]
        if not any(b["registry"] == record["registry"] for b in others):
            self.remove(self.cert_dir(record["registry"]))
        self.remove(self.record(repo_id))
        return {"removed": True}

    def _bindings(self) -> list[dict]:
        folder = self.path("containers", "bindings")
        return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] \
            if folder.is_dir() else []

    # -- content --------------------------------------------------------------------------

    @property
    def layout(self):
        return self.config_path("layout", "containers/oci")

    def skopeo_args(self, binding: dict) -> list[str]:
        """The options that make skopeo use what :meth:`bind` wrote for ``binding``."""
        args = ["--registries-conf", str(self.dropin(binding["repo_id"]))]
        if binding["tls"]:
            args += ["--src-cert-dir", str(self.cert_dir(binding["registry"]))]
        else:
            args += ["--src-tls-verify=false"]
        return args

    def install(self, units, options):
        wanted = [(self._binding_for(u, options), _tag(u)) for u in units]
        tmp = self.temp_dir("oci")
        try:
            for binding, tag in wanted:
                ref = f"{binding['repository']}:{tag}"
                self.run([self.config["skopeo"], "copy", "--quiet",
                          *self.skopeo_args(binding),
                          f"docker://{binding['registry']}/{ref}", f"oci:{tmp / 'layout'}:{ref}"],
                         timeout=float(options.get("timeout", 600)))
            self._merge(tmp / "layout")
        finally:
            self.remove(tmp)
        return {"changed": bool(wanted),
                "installed": [f"{b['repository']}:{t}" for b, t in wanted]}

    def update(self, units, options):
        if not units:  # every installed tag of a bound repository
            bound = {b["repository"] for b in self._bindings()}
            units = [{"type_id": "docker_tag", "unit_key": {"name": t["tag"]},
                      "repository": t["repository"]}
                     for t in self.profile() if t["repository"] in bound]
            if not units:
                return {"changed": False, "installed": []}
            return {"changed": True, "installed": [
                name for u in units for name in self.install(
                    [u], {**options, "repository": u["repository"]})["installed"]]}
        return self.install(units, options)

    def uninstall(self, units, options):
        names = set()
        for unit in units:
            tag = _tag(unit)
            repository = options.get("repository") or (unit.get("unit_key") or {}).get(
                "repository")
            names |= {n for n in self._names() if n.endswith(f":{tag}")
                      and (repository is None or n == f"{repository}:{tag}")}
        index = self._index()
        index["manifests"] = [m for m in index["manifests"]
                              if (m.get("annotations") or {}).get(REF_NAME) not in names]
        if names:
            self.write_json(self.layout / "index.json", index)
            self._collect_garbage(index)
        return {"changed": bool(names), "removed": sorted(names)}

    def profile(self):
        out = []
        for m in self._index()["manifests"]:
            name = (m.get("annotations") or {}).get(REF_NAME, "")
            repository, _, tag = name.rpartition(":")
            out.append({"repository": repository, "tag": tag, "digest": m["digest"]})
        return sorted(out, key=lambda t: (t["repository"], t["tag"]))

    # -- the OCI layout ---------------------------------------------------------------------

    def _binding_for(self, unit: dict, options: dict) -> dict:
        key = unit.get("unit_key") or {}
        wanted = options.get("repository") or key.get("repository")
        wanted_repo = options.get("repo_id") or key.get("repo_id")
        bindings = self._bindings()
        matches = [b for b in bindings
                   if (wanted is None or b["repository"] == wanted)
                   and (wanted_repo is None or b["repo_id"] == wanted_repo)]
        if len(matches) != 1:
            raise HandlerError(
                f"{len(matches)} docker bindings match {key!r}: name one with the unit key's "
                "or options' repo_id or repository" if matches else
                f"no docker binding serves {key!r}")
        return matches[0]

    def _index(self) -> dict:
        return self.read_json(self.layout / "index.json",
                              {"schemaVersion": 2, "manifests": []})

    def _names(self) -> set[str]:
        return {(m.get("annotations") or {}).get(REF_NAME)
                for m in self._index()["manifests"]}

    def _merge(self, source) -> None:
        """Move ``source``'s blobs into the layout, then its names into index.json (last)."""
        layout = self.layout
        (layout / "blobs").mkdir(parents=True, exist_ok=True)
        if not (layout / "oci-layout").exists():
            self.write_file(layout / "oci-layout", '{"imageLayoutVersion": "1.0.0"}')
        for blob in (source / "blobs").rglob("*"):
            if blob.is_file():
                dest = layout / blob.relative_to(source)
                dest.parent.mkdir(parents=True, exist_ok=True)
                if not dest.exists():
                    os.replace(blob, dest)
        added = json.loads((source / "index.json").read_text())["manifests"]
        names = {(m.get("annotations") or {}).get(REF_NAME) for m in added}
        index = self._index()
        index["manifests"] = [m for m in index["manifests"]
                              if (m.get("annotations") or {}).get(REF_NAME) not in names]
        index["manifests"] += added
        self.write_json(layout / "index.json", index)

    def _collect_garbage(self, index: dict) -> None:
        """Delete the blobs no remaining name reaches (manifest → config, layers, children)."""
        blobs = self.layout / "blobs"
        keep, todo = set(), [m["digest"] for m in index["manifests"]]
        while todo:
            digest = todo.pop()
            if digest in keep:
                continue
            keep.add(digest)
            path = blobs / digest.replace(":", "/", 1)
            try:
                doc = json.loads(path.read_bytes()) if path.stat().st_size < 4 << 20 else {}
            except (OSError, ValueError):
                continue
            if not isinstance(doc, dict):
                continue
            todo += [d["digest"] for d in [doc.get("config") or {}, *(doc.get("layers") or []),
                                           *(doc.get("manifests") or [])] if d.get("digest")]
        for blob in blobs.rglob("*"):
            if blob.is_file() and f"{blob.parent.name}:{blob.name}" not in keep:
                blob.unlink()


def _tag(unit: dict) -> str:
    key = unit.get("unit_key") or {}
    tag = key.get("name") or key.get("tag")
    if not isinstance(tag, str) or not tag or ":" in tag or "/" in tag:
        raise HandlerError(f"not a docker tag unit key: {key!r}")
    return tag


def _safe(name: str) -> str:
    """One path component for a repository id or ``host:port``."""
    safe = safe_relative_path(name)
    if safe is None or "/" in safe:
        raise HandlerError(f"{name!r} cannot name a file")
    return safe
