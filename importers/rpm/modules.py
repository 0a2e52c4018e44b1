"""``modules.yaml`` ↔ ``modulemd`` and ``modulemd_defaults`` units (read and written with PyYAML).

A ``modules.yaml`` is a stream of YAML documents; pulp2ng keeps the ``modulemd`` (module
streams) and ``modulemd-defaults`` documents, one unit each, and ignores the others
(translations, obsoletes), as pulp_rpm 2.x did. Each unit's file is its own document, re-dumped
as a single-document YAML text, so a publish writes ``modules.yaml`` back by concatenating the
files of the repository's units. The fields a client searches on are copied into the unit:

- ``modulemd``: key ``name, stream, version, context, arch``; ``summary``, ``description``,
  ``profiles`` (profile → package names), ``artifacts`` (``name-epoch:version-release.arch``
  strings), ``dependencies`` (the document's list of ``{buildrequires, requires}``).
- ``modulemd_defaults``: key ``name, repo_id``; ``stream`` (the default stream or None) and
  ``profiles``, a JSON text of stream → default profiles, as Pulp 2 stored it (stream names
  such as ``1.0`` cannot be document keys).
"""

from __future__ import annotations

import hashlib
import json

import yaml

from pulp2ng.importers.rpm.types import MODULEMD, MODULEMD_DEFAULTS

MODULE_KEY = ("name", "stream", "version", "context", "arch")
_LOADER = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


class ModulesParseError(ValueError):
    """A ``modules.yaml`` that is not YAML, or a module document missing what keys it."""


def read_modules(path, repo_id: str):
    """Yield ``(type_id, unit, text)`` for each module or defaults document of ``path``
    (``text``: the document as stored); one document is in memory at a time."""
    with open(path, "rb") as stream:
        try:
            # BaseLoader: every scalar a string, as libmodulemd reads them (an unquoted
            # stream 1.10 stays "1.10", not the float 1.1); numbers are converted below.
            for doc in yaml.load_all(stream, Loader=_LOADER):
                parsed = _unit(doc, repo_id)
                if parsed is not None:
                    yield parsed
        except yaml.YAMLError as exc:
            raise ModulesParseError(f"modules.yaml is not valid YAML: {exc}") from None


def _unit(doc, repo_id: str):
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
        return None
    kind, data = doc.get("document"), doc["data"]
    for holder in (doc, data):  # the document's and the module's versions are integers
        if isinstance(holder.get("version"), str) and holder["version"].isdigit():
            holder["version"] = int(holder["version"])
    text = yaml.safe_dump(doc, explicit_start=True, sort_keys=False, allow_unicode=True)
    checksum = hashlib.sha256(text.encode()).hexdigest()
    if kind == "modulemd":
        if not data.get("name") or data.get("stream") in (None, ""):
            raise ModulesParseError("a modulemd document has no name or stream")
        try:
            version = int(data.get("version") or 0)
        except (TypeError, ValueError):
            raise ModulesParseError(
                f"module {data['name']}: version {data.get('version')!r} is not a number"
            ) from None
        profiles = data.get("profiles") if isinstance(data.get("profiles"), dict) else {}
        artifacts = data.get("artifacts") if isinstance(data.get("artifacts"), dict) else {}
        dependencies = data.get("dependencies")
        return MODULEMD, {
            "name": str(data["name"]),
            "stream": str(data["stream"]),
            "version": version,
            "context": str(data.get("context") or ""),
            "arch": str(data.get("arch") or "noarch"),
            "summary": str(data.get("summary") or ""),
            "description": str(data.get("description") or ""),
            "profiles": {str(name): [str(r) for r in (p or {}).get("rpms") or ()]
                         for name, p in profiles.items() if isinstance(p, (dict, type(None)))},
            "artifacts": [str(a) for a in artifacts.get("rpms") or ()],
            "dependencies": json.loads(json.dumps(dependencies, default=str))
            if isinstance(dependencies, list) else [],
            "checksum": checksum,
        }, text
    if kind == "modulemd-defaults":
        if not data.get("module"):
            raise ModulesParseError("a modulemd-defaults document has no module")
        profiles = data.get("profiles") if isinstance(data.get("profiles"), dict) else {}
        stream = data.get("stream")
        return MODULEMD_DEFAULTS, {
            "name": str(data["module"]),
            "repo_id": repo_id,
            "stream": None if stream is None else str(stream),
            "profiles": json.dumps({str(s): [str(p) for p in names or ()]
                                    for s, names in profiles.items()}, sort_keys=True),
            "checksum": checksum,
        }, text
    return None


def write_modules(out, texts) -> int:
    """Write the documents ``texts`` (stored unit files' contents) as one ``modules.yaml``;
    returns how many were written."""
    count = 0
    for text in texts:
        out.write(text if text.startswith("---") else "---\n" + text)
        count += 1
    if count:
        out.write("...\n")
    return count
