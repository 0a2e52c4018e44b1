"""Consumer handler for ``python_distributor`` bindings: pip through a written ``pip.conf``.

``bind`` records the binding in ``<root>/pip/bindings.json`` and regenerates
``<root>/pip/pip.conf`` from every binding: the one bound with the default
``binding_config["pip_index"]`` (``"index"``) becomes ``index-url`` (the newest such binding
when several are), the others ``extra-index-url``; ``trusted-host`` names the plain-HTTP
hosts and ``cert`` a bundle of the CAs of the TLS ones plus certifi's (``<root>/pip/ca.pem``).
Point pip at it with ``PIP_CONFIG_FILE``, as install/update/uninstall do; they also set
``SSL_CERT_FILE`` to the bundle, because pips using truststore (24.2+) ignore ``cert``.

Config: ``pip`` (a pip executable, whose environment is the target), else ``venv`` (default
``<root>/python/venv``, created on the first install with this interpreter).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import certifi

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

from pulp2ng.plugin import Handler, HandlerError, binding_key


class PythonHandler(Handler):
    content_type = "python"
    distributor_types = ("python_distributor",)
    default_config = {"pip": None, "venv": "python/venv"}

    # -- bindings -------------------------------------------------------------------------

    @property
    def conf_file(self):
        return self.path("pip", "pip.conf")

    def bind(self, binding):
        details = binding["details"]
        mode = (binding.get("binding_config") or {}).get("pip_index") or "index"
        if mode not in ("index", "extra"):
            raise HandlerError(f"binding_config pip_index must be 'index' or 'extra', not {mode!r}")
        bindings = self._bindings()
        key = binding_key(binding["repo_id"], binding["distributor_id"])
        bindings.pop(key, None)  # re-inserted last: the newest index binding wins
        bindings[key] = {"repo_id": binding["repo_id"],
                         "distributor_id": binding["distributor_id"], "mode": mode,
                         "index_url": details["index_url"], "host": details.get("host"),
                         "tls": bool(details.get("tls")), "ca_cert": details.get("ca_cert")}
        self._apply(bindings)
        return {"pip_conf": str(self.conf_file), "index_url": details["index_url"], "mode": mode}

    def unbind(self, repo_id, distributor_id):
        bindings = self._bindings()
        removed = bindings.pop(binding_key(repo_id, distributor_id), None) is not None
        self._apply(bindings)
        return {"removed": removed}

    def _bindings(self) -> dict:
        return self.read_json(self.path("pip", "bindings.json"), {})

    def _apply(self, bindings: dict) -> None:
        """Write pip.conf and the CA bundle for ``bindings``, then the record (each atomic);
        with no bindings left, remove all three."""
        if not bindings:
            for name in ("pip.conf", "ca.pem", "bindings.json"):
                self.remove(self.path("pip", name))
            return
        ordered = list(bindings.values())
        primary = [b for b in ordered if b["mode"] == "index"][-1:]
        extras = [b for b in ordered if b not in primary]
        lines = ["[global]"]
        if primary:
            lines.append(f"index-url = {primary[0]['index_url']}")
        if extras:
            lines.append("extra-index-url =")
            lines += [f"    {b['index_url']}" for b in extras]
        plain = sorted({b["host"] for b in ordered if not b["tls"] and b["host"]})
        if plain:
            lines.append("trusted-host =")
            lines += [f"    {h}" for h in plain]
        cas = list(dict.fromkeys(b["ca_cert"].strip() + "\n" for b in ordered
                                 if b["tls"] and b.get("ca_cert")))
        bundle = self.path("pip", "ca.pem")
        if cas:
            # pip's ``cert`` replaces its default bundle: keep the public CAs beside ours so
            # an extra-index-url on a public index still verifies.
            self.write_file(bundle, "".join(cas) + Path(certifi.where()).read_text())
            lines.append(f"cert = {bundle}")
        else:
            self.remove(bundle)
        self.write_file(self.conf_file, "\n".join(lines) + "\n")
        self.write_json(self.path("pip", "bindings.json"), bindings)

    # -- content --------------------------------------------------------------------------

    def install(self, units, options):
        return self._pip("install", [_requirement(u) for u in units], options)

    def update(self, units, options):
        names = [_requirement(u, pinned=False) for u in units] or [
            d["name"] for d in self.profile()]
        if not names:
            return {"changed": False, "output": ""}
        return self._pip("install", ["--upgrade", *names], options)

    def uninstall(self, units, options):
        return self._pip("uninstall", ["-y", *[_requirement(u, pinned=False) for u in units]],
                         options)

    def profile(self):
        pip = self._pip_command(create=False)
        if pip is None:
            return []
        out = self.run([*pip, "list", "--format=json", "--disable-pip-version-check"],
                       env=self._env()).stdout
        return sorted(({"name": d["name"], "version": d["version"]} for d in json.loads(out)),
                      key=lambda d: canonicalize_name(d["name"]))

    def _pip(self, action: str, args: list, options: dict) -> dict:
        if not self.conf_file.exists() and action != "uninstall":
            raise HandlerError("no python binding: bind a repository first")
        extra = options.get("args") or []  # e.g. ["--only-binary", ":all:"]
        if not (isinstance(extra, list) and all(isinstance(a, str) for a in extra)):
            raise HandlerError("options args must be a list of strings")
        proc = self.run([*self._pip_command(create=True), action, *args, *extra,
                         "--disable-pip-version-check"], env=self._env(),
                        timeout=float(options.get("timeout", 600)))
        return {"changed": True, "output": proc.stdout[-4000:]}

    def _pip_command(self, create: bool) -> list | None:
        if self.config.get("pip"):
            return [self.config["pip"]]
        venv = self.config_path("venv", "python/venv")
        python = venv / "bin" / "python"
        if not python.exists():
            if not create:
                return None
            tmp = self.temp_dir("venv")
            try:  # built aside and renamed, so a failed creation leaves no half venv
                self.run([sys.executable, "-m", "venv", tmp / "v"])
                venv.parent.mkdir(parents=True, exist_ok=True)
                os.rename(tmp / "v", venv)
            finally:
                self.remove(tmp)
            # The venv's scripts name their own path: recreate them where it now lives.
            self.run([sys.executable, "-m", "venv", "--upgrade", venv])
        return [str(python), "-m", "pip"]

    def _env(self) -> dict:
        """The caller's environment without ``PIP_*``: the written pip.conf decides."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        env["PIP_CONFIG_FILE"] = str(self.conf_file)
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        bundle = self.path("pip", "ca.pem")
        if bundle.exists():
            # pip >= 24.2 verifies through truststore, which ignores ``cert`` but reads the
            # OpenSSL default file: name the same bundle there.
            env["SSL_CERT_FILE"] = str(bundle)
        return env


def _requirement(unit: dict, pinned: bool = True) -> str:
    """``name==version`` from a unit key with ``name``/``version`` or a ``filename``."""
    key = unit.get("unit_key") or {}
    name, version = key.get("name"), key.get("version")
    if not name and key.get("filename"):
        filename = key["filename"]
        parsed = (parse_wheel_filename(filename)[:2] if filename.endswith(".whl")
                  else parse_sdist_filename(filename))
        name, version = str(parsed[0]), str(parsed[1])
    if not name or any(c in str(name) for c in " ;@<>=!~[],"):
        raise HandlerError(f"not a python unit key: {key!r}")
    return f"{name}=={version}" if pinned and version else str(name)
