"""The test plugin's consumer handler for ``harness_distributor`` (``pulp2ng.test.handlers``).

A :class:`pulp2ng.plugin.handlers.Handler`, as every content type's handler is; kept apart
from the test plugin's server half (:mod:`pulp2ng_testplugin`) as handlers are from their
distributors.

Everything is written under ``root``, atomically (a temporary file renamed into place): a
binding is ``etc/harness/<repo>--<distributor>.json``, an installed unit
``var/harness/<name>``. The ``slow`` option (seconds) sleeps before an install writes
anything, so a test can kill the agent or cancel the request mid-action; ``fail`` makes an action raise.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pulp2ng.plugin.handlers import Handler


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class HarnessHandler(Handler):
    content_type = "harness_unit"
    distributor_types = ("harness_distributor",)

    def __init__(self, root: Path, config: dict | None = None):
        super().__init__(root, config)
        self.bindings = self.root / "etc" / "harness"
        self.installed = self.root / "var" / "harness"

    def _binding_file(self, repo_id: str, distributor_id: str) -> Path:
        return self.bindings / f"{repo_id}--{distributor_id}.json"

    def bind(self, binding: dict) -> dict:
        path = self._binding_file(binding["repo_id"], binding["distributor_id"])
        _write(path, json.dumps(binding, sort_keys=True))
        return {"written": str(path.relative_to(self.root))}

    def unbind(self, repo_id: str, distributor_id: str) -> dict:
        path = self._binding_file(repo_id, distributor_id)
        path.unlink(missing_ok=True)
        return {"removed": str(path.relative_to(self.root))}

    def install(self, units: list, options: dict) -> dict:
        if options.get("fail"):
            raise RuntimeError("the harness handler was told to fail")
        # Sleeps like a slow client tool, and stops like one when the request is canceled.
        self.cancel_event.wait(float(options.get("slow", 0)))
        self.check_canceled()
        names = [u["unit_key"]["name"] for u in units]
        for name in names:
            _write(self.installed / name, f"{name}\n")
        return {"installed": names}

    update = install

    def uninstall(self, units: list, options: dict) -> dict:
        names = [u["unit_key"]["name"] for u in units]
        for name in names:
            (self.installed / name).unlink(missing_ok=True)
        return {"uninstalled": names}

    def profile(self) -> list:
        if not self.installed.is_dir():
            return []
        return sorted(p.name for p in self.installed.iterdir() if not p.name.startswith("."))
