"""The consumer-side handler API: what a content type contributes to the consumer agent.

A bound consumer's agent receives bindings (``{repo_id, distributor_id, type_id, details,
binding_config}``, ``details`` being the distributor's
:meth:`~pulp2ng.plugin.base.Distributor.create_consumer_payload`) and content actions, and
hands each to the :class:`Handler` registered for the binding's distributor type under the
entry-point group ``pulp2ng.handlers`` (``pulp2ng.loader.load_handlers``).

A handler writes only under its ``root`` (the agent's configurable root; tests use a temporary
directory and point the clients at it), and every file it writes lands atomically (a temporary
file in the same directory, renamed into place), so a killed agent or a failed action leaves
the previous file or none, never half of one. Handlers keep no state in memory: the agent may
make a new instance per call, so whatever a later call needs is on disk under ``root``.

A request canceled on the server while its handler works sets :attr:`Handler.cancel_event`:
:meth:`Handler.run` then kills the client tool it runs, and long loops call
:meth:`Handler.check_canceled`, so the handler stops with :class:`HandlerCanceled` and its
``finally`` blocks clean up what it staged.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from pulp2ng.errors import PluginError


class HandlerError(PluginError):
    """A consumer action failed (a client tool refused, a download did not verify)."""

    code = "PLP0000"


class HandlerCanceled(HandlerError):
    """The request was canceled on the server while the handler worked on it."""


#: How often a running client tool is checked for a cancel, in seconds.
_CANCEL_POLL = 0.2


class Handler:
    """Base handler: applies bindings and content actions for one content type on a consumer.

    Class attributes:
        content_type: the profile type this handler reports (``python``, ``docker``…).
        distributor_types: the distributor type ids whose bindings it applies.
        default_config: defaults for ``config`` (its section of the agent's config).
        unit_types: more unit type ids whose content actions it carries out besides
            ``content_type`` (the rpm handler: ``erratum``, ``package_group``).

    Every method returns a JSON-able report dict (``bind``/``unbind``/actions) or the profile.
    """

    content_type: str = ""
    distributor_types: tuple = ()
    default_config: dict = {}
    unit_types: tuple = ()

    def __init__(self, root: Path, config: dict | None = None):
        self.root = Path(root).resolve()
        self.config = {**self.default_config, **(config or {})}
        #: Set by the agent when the request being handled is canceled on the server.
        self.cancel_event = threading.Event()

    # -- the contract ---------------------------------------------------------------------

    def bind(self, binding: dict) -> dict:
        """Write the client configuration for ``binding`` (idempotent: binding again with a
        new payload replaces what the previous one wrote)."""
        raise NotImplementedError

    def unbind(self, repo_id: str, distributor_id: str) -> dict:
        """Remove what :meth:`bind` wrote for that binding (a no-op when there is none)."""
        raise NotImplementedError

    def install(self, units: list[dict], options: dict) -> dict:
        """Install ``units`` (``[{"type_id", "unit_key"}]``) from the bound repositories."""
        raise NotImplementedError

    def update(self, units: list[dict], options: dict) -> dict:
        """Bring ``units`` (all installed ones when empty) to the newest the bindings offer."""
        raise NotImplementedError

    def uninstall(self, units: list[dict], options: dict) -> dict:
        raise NotImplementedError

    def profile(self) -> list | dict:
        """What is installed, as the consumer's profile of :attr:`content_type`."""
        raise NotImplementedError

    # -- helpers for subclasses -----------------------------------------------------------

    def path(self, *parts) -> Path:
        """``root/parts…``, refusing anything that resolves outside ``root`` (``..``, an
        absolute part, a symlink pointing out)."""
        return self.under_root(self.root.joinpath(*[str(p) for p in parts]))

    def under_root(self, path) -> Path:
        resolved = Path(path).resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise HandlerError(f"{path} is outside the handler root {self.root}")
        return resolved

    def config_path(self, key: str, default: str) -> Path:
        """A path from :attr:`config` (absolute, or relative to ``root``), under ``root``."""
        value = self.config.get(key) or default
        return self.under_root(self.root / value)

    def write_file(self, path, data: bytes | str, mode: int = 0o644) -> Path:
        """Write ``data`` to ``path`` (under ``root``) atomically: temp file, fsync, rename."""
        path = self.under_root(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            data = data.encode()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def write_json(self, path, data) -> Path:
        return self.write_file(path, json.dumps(data, indent=2, sort_keys=True) + "\n")

    def read_json(self, path, default=None):
        try:
            return json.loads(self.under_root(path).read_text())
        except FileNotFoundError:
            return default

    def remove(self, path) -> bool:
        """Delete a file or directory tree under ``root``; False when it was not there."""
        path = self.under_root(path)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
            return True
        try:
            path.unlink()
            return True
        except FileNotFoundError:
            return False

    def temp_dir(self, name: str = "tmp") -> Path:
        """A fresh directory under ``root/.tmp`` (same filesystem, so renames are atomic);
        the caller removes it."""
        base = self.path(".tmp")
        base.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=base, prefix=f"{name}-"))

    def check_canceled(self) -> None:
        """Raise HandlerCanceled if the request was canceled (call it in long loops)."""
        if self.cancel_event.is_set():
            raise HandlerCanceled("the request was canceled")

    def run(self, argv: list, env: dict | None = None, timeout: float = 600,
            check: bool = True) -> subprocess.CompletedProcess:
        """Run a client tool; HandlerError with its stderr when it fails. The tool (and
        whatever it started: its own session) is killed on a cancel or at ``timeout``."""
        argv = [str(a) for a in argv]
        self.check_canceled()
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, text=True, env=env,
                                    start_new_session=True)
        except FileNotFoundError:
            raise HandlerError(f"{argv[0]} is not installed", command=argv[0])
        deadline = time.monotonic() + timeout
        while True:
            try:
                out, err = proc.communicate(timeout=_CANCEL_POLL)
                break
            except subprocess.TimeoutExpired:
                if self.cancel_event.is_set() or time.monotonic() > deadline:
                    _kill_session(proc)
                    self.check_canceled()
                    raise HandlerError(f"{argv[0]} did not finish within {timeout} s",
                                       command=argv[0])
        done = subprocess.CompletedProcess(argv, proc.returncode, out, err)
        if check and done.returncode != 0:
            raise HandlerError(f"{Path(argv[0]).name} failed ({done.returncode}): "
                               f"{(err or out).strip()[-2000:]}",
                               command=argv[0], returncode=done.returncode)
        return done


def _kill_session(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()


def binding_key(repo_id: str, distributor_id: str) -> str:
    """A file-name-safe key for a binding (ids match ``^[.\\-_A-Za-z0-9]+$``)."""
    for value in (repo_id, distributor_id):
        if not isinstance(value, str) or not value.strip(".") or "/" in value or "\0" in value:
            raise HandlerError(f"invalid binding id {value!r}")
    return f"{repo_id}--{distributor_id}"
