"""Consumer handler for ``yum_distributor`` bindings: dnf through written ``.repo`` files.

``bind`` writes ``<root>/etc/yum.repos.d/pulp-<repo>.repo`` from the distributor's consumer
payload (``url``, ``repo_name``, ``gpgkey``; with TLS the server's CA beside it as
``<root>/etc/pki/pulp/<repo>-ca.pem``, named by ``sslcacert``; an ASCII-armoured ``gpgkey``
as ``<root>/etc/pki/rpm-gpg/pulp-<repo>.key``, turning ``gpgcheck`` on); ``unbind`` removes
them. Content actions run ``dnf --installroot=<installroot> --setopt=reposdir=<that
directory>`` (``install``/``upgrade``/``remove``; errata through ``upgrade --advisory``,
groups as ``@<id>``), with ``--refresh`` so a package published since the last action is seen.
The profile lists the installed packages with ``rpm -qa --root <installroot>`` in Pulp 2's rpm
profile shape, ``[{name, epoch, version, release, arch, vendor}]``; each action's report names
what the transaction installed and removed (that profile before and after).

Config: ``installroot`` (default: the agent's root; relative to it, and under it),
``releasever`` (dnf's ``--releasever``; needed for an installroot without a release package),
``dnf`` (the executable), ``dnf_options`` (more arguments for every dnf call).
"""

from __future__ import annotations

import re

from pulp2ng.plugin import Handler, HandlerError, binding_key

REPOS_DIR = ("etc", "yum.repos.d")
QUERY_FORMAT = "%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{VENDOR}\\n"
#: What may reach dnf as a package spec or advisory id (never an option, never two words).
_SPEC = re.compile(r"^[A-Za-z0-9_+][A-Za-z0-9_.:+~^*-]*$")


class RpmHandler(Handler):
    content_type = "rpm"
    distributor_types = ("yum_distributor",)
    unit_types = ("erratum", "package_group")
    default_config = {"installroot": ".", "releasever": None, "dnf": "dnf", "dnf_options": []}

    # -- bindings -------------------------------------------------------------------------

    @property
    def repos_dir(self):
        return self.path(*REPOS_DIR)

    def repo_file(self, repo_id: str):
        binding_key(repo_id, "d")  # refuses ids that are not file-name safe
        return self.path(*REPOS_DIR, f"pulp-{repo_id}.repo")

    def bind(self, binding):
        repo_id, distributor_id = binding["repo_id"], binding["distributor_id"]
        details = binding.get("details") or {}
        url = details.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise HandlerError(f"the binding of {repo_id} names no repository url")
        name = str(details.get("repo_name") or repo_id).replace("\n", " ")
        lines = [f"# pulp2ng binding: {repo_id} {distributor_id}", f"[{repo_id}]",
                 f"name={name}", f"baseurl={url}", "enabled=1"]
        ca_path = self.path("etc", "pki", "pulp", f"{repo_id}-ca.pem")
        if details.get("tls") and details.get("ca_cert"):
            self.write_file(ca_path, details["ca_cert"])
            lines += ["sslverify=1", f"sslcacert={ca_path}"]
        else:
            self.remove(ca_path)
        key_path = self.path("etc", "pki", "rpm-gpg", f"pulp-{repo_id}.key")
        if details.get("gpgkey"):
            self.write_file(key_path, details["gpgkey"])
            lines += ["gpgcheck=1", f"gpgkey=file://{key_path}"]
        else:
            self.remove(key_path)
            lines.append("gpgcheck=0")
        path = self.write_file(self.repo_file(repo_id), "\n".join(lines) + "\n")
        return {"repo_file": str(path), "url": url}

    def unbind(self, repo_id, distributor_id):
        path = self.repo_file(repo_id)
        try:
            first = path.read_text().splitlines()[0]
        except (FileNotFoundError, IndexError):
            return {"removed": False}
        if first != f"# pulp2ng binding: {repo_id} {distributor_id}":
            return {"removed": False}  # written for another distributor of that repository
        self.remove(path)
        for key in (self.path("etc", "pki", "pulp", f"{repo_id}-ca.pem"),
                    self.path("etc", "pki", "rpm-gpg", f"pulp-{repo_id}.key")):
            self.remove(key)
        return {"removed": True}

    # -- content --------------------------------------------------------------------------

    def install(self, units, options):
        packages, groups, errata = _split(units)
        return self._transaction(options, [
            ("install", [*packages, *(f"@{g}" for g in groups)]),
            ("upgrade", [f"--advisory={e}" for e in errata])])

    def update(self, units, options):
        packages, groups, errata = _split(units, pinned=False)
        if not units:
            return self._transaction(options, [("upgrade", [])], always=True)
        return self._transaction(options, [
            ("upgrade", packages), ("group", ["upgrade", *groups] if groups else []),
            ("upgrade", [f"--advisory={e}" for e in errata])])

    def uninstall(self, units, options):
        packages, groups, _ = _split(units, pinned=True)
        return self._transaction(options, [("remove", [*packages, *(f"@{g}" for g in groups)])])

    def profile(self):
        installroot = self._installroot()
        proc = self.run(["rpm", "-qa", "--root", installroot, "--qf", QUERY_FORMAT])
        out = []
        for line in proc.stdout.splitlines():
            parts = line.split("\t")
            if len(parts) != 6 or parts[0] == "gpg-pubkey":
                continue  # imported signing keys are rpmdb entries, not packages
            name, epoch, version, release, arch, vendor = parts
            out.append({"name": name, "epoch": int(epoch) if epoch.isdigit() else 0,
                        "version": version, "release": release, "arch": arch,
                        "vendor": None if vendor == "(none)" else vendor})
        return sorted(out, key=lambda p: (p["name"], p["arch"], p["version"], p["release"]))

    def _installroot(self):
        return self.config_path("installroot", ".")

    def _transaction(self, options: dict, steps: list, always: bool = False) -> dict:
        """Run each ``(dnf command, args)`` that has args (or every one with ``always``);
        report what changed in the rpm database."""
        steps = [(cmd, args) for cmd, args in steps if args or always]
        if not steps:
            raise HandlerError("no rpm, erratum or package_group unit to act on")
        extra = options.get("args") or []
        if not (isinstance(extra, list) and all(isinstance(a, str) for a in extra)):
            raise HandlerError("options args must be a list of strings")
        before = {_nevra(p) for p in self.profile()}
        output = []
        for command, args in steps:
            proc = self.run(self._dnf(command, *args, *extra),
                            timeout=float(options.get("timeout", 600)))
            output.append(proc.stdout)
        after = {_nevra(p) for p in self.profile()}
        return {"changed": before != after, "installed": sorted(after - before),
                "removed": sorted(before - after), "output": "".join(output)[-4000:]}

    def _dnf(self, command: str, *args) -> list:
        options = self.config.get("dnf_options") or []
        if not (isinstance(options, list) and all(isinstance(a, str) for a in options)):
            raise HandlerError("dnf_options must be a list of strings")
        argv = [self.config.get("dnf") or "dnf", f"--installroot={self._installroot()}",
                f"--setopt=reposdir={self.repos_dir}", "--refresh", "-y", *options]
        if self.config.get("releasever"):
            argv.append(f"--releasever={self.config['releasever']}")
        return [*argv, command, *args]


def _nevra(p: dict) -> str:
    epoch = f"{p['epoch']}:" if p.get("epoch") else ""
    return f"{p['name']}-{epoch}{p['version']}-{p['release']}.{p['arch']}"


def _split(units: list, pinned: bool = True) -> tuple[list, list, list]:
    """``(package specs, group ids, advisory ids)`` of ``units`` (``[{type_id, unit_key}]``);
    a package is pinned to the EVR its key names unless ``pinned`` is False."""
    packages, groups, errata = [], [], []
    for unit in units or []:
        key = (unit or {}).get("unit_key") or {}
        type_id = (unit or {}).get("type_id") or "rpm"
        if type_id == "rpm":
            packages.append(_spec(key, pinned))
        elif type_id == "erratum":
            errata.append(_checked(key.get("id"), "erratum id"))
        elif type_id == "package_group":
            groups.append(_checked(key.get("id") or key.get("name"), "group id"))
        else:
            raise HandlerError(f"the rpm handler does not act on {type_id} units")
    return packages, groups, errata


def _spec(key: dict, pinned: bool) -> str:
    """``name[-[epoch:]version[-release]][.arch]``, dnf's NEVRA forms."""
    name = _checked(key.get("name"), "package name")
    spec = name
    if pinned and key.get("version"):
        epoch = str(key.get("epoch") or "0")
        spec += "-" + ("" if epoch == "0" else f"{epoch}:") + str(key["version"])
        if key.get("release"):
            spec += f"-{key['release']}"
    if pinned and key.get("arch") and key.get("version") and key.get("release"):
        spec += f".{key['arch']}"
    return _checked(spec, "package spec")


def _checked(value, what: str) -> str:
    if not isinstance(value, str) or not _SPEC.match(value):
        raise HandlerError(f"not a valid {what}: {value!r}")
    return value
