"""The consumer agent runs on hosts without the server: it must not import Flask, pymongo,
Celery or the server's plugin base, not even once the content types' handlers are loaded
(they import ``pulp2ng.plugin``, whose conduits reach the database layer)."""

import os
import subprocess
import sys
from importlib.metadata import entry_points

SERVER_PACKAGES = ("flask", "pymongo", "bson", "celery", "kombu", "waitress", "cheroot")
SERVER_MODULES = ("pulp2ng.db", "pulp2ng.server", "pulp2ng.plugin.conduits")


def _server_parts(code: str, env: dict | None = None) -> str:
    """Run ``code`` in a fresh interpreter, then print the server modules it imported."""
    code += ("; import sys; print(sorted(m for m in sys.modules if m.split('.')[0] in "
             f"{SERVER_PACKAGES!r} or m.startswith({SERVER_MODULES!r})))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env=env).stdout.strip()


def test_the_agent_imports_no_server_parts():
    out = _server_parts("import pulp2ng.agent.cli, pulp2ng.agent.daemon, pulp2ng.agent.handlers")
    assert out == "[]"
    # Without handlers the plugin API itself is not imported at all.
    assert "pulp2ng.plugin" not in subprocess.run(
        [sys.executable, "-c", "import sys, pulp2ng.agent.cli, pulp2ng.agent.daemon; "
         "print(sorted(sys.modules))"], capture_output=True, text=True, check=True).stdout


def _handler_modules() -> list[str]:
    return sorted({ep.module for group in ("pulp2ng.handlers", "pulp2ng.test.handlers")
                   for ep in entry_points(group=group)})


def test_every_registered_handler_imports_no_server_parts():
    modules = _handler_modules()
    assert {"pulp2ng.distributors.python.handler", "pulp2ng.distributors.iso.handler",
            "pulp2ng.distributors.ostree.handler",
            "pulp2ng.distributors.docker.handler"} <= set(modules)
    for module in modules:  # one interpreter each: a culprit is named, not hidden by others
        assert _server_parts(f"import pulp2ng.agent.cli, {module}") == "[]", module


def test_the_agent_loading_its_handlers_imports_no_server_parts(tmp_path):
    env = {**os.environ, "PULP2NG_TEST_PLUGINS": "1"}
    code = ("import pulp2ng.agent.cli; from pulp2ng.agent.handlers import Handlers; "
            f"h = Handlers({str(tmp_path)!r}); assert 'harness_distributor' in h.by_distributor; "
            "assert 'python_distributor' in h.by_distributor")
    assert _server_parts(code, env) == "[]"


def test_the_plugin_api_still_exports_the_conduits():
    """The conduits load on first access; ``from pulp2ng.plugin import X`` works as before."""
    code = ("import sys, pulp2ng.plugin as api; "
            "assert 'pulp2ng.plugin.conduits' not in sys.modules; "
            "from pulp2ng.plugin import SyncConduit, PublishConduit, Handler; "
            "from pulp2ng.plugin.conduits import SyncConduit as direct; "
            "assert SyncConduit is direct and api.UploadConduit.__name__ == 'UploadConduit'; "
            "assert set(api.__all__) <= set(dir(api)); "
            "ns = {}; exec('from pulp2ng.plugin import *', ns); "
            "assert all(name in ns for name in api.__all__); "
            "print('ok')")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "ok"
