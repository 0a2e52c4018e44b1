"""The agent's state directory: ``config.json`` (server, CA, consumer id, handler settings)
and ``consumer.pem`` (the consumer's key and certificate), both mode 0600."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

CONFIG, CERT, CA = "config.json", "consumer.pem", "ca.pem"


def default_state_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/pulp2ng-agent")
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "pulp2ng-agent"


class NotRegistered(RuntimeError):
    pass


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


class State:
    def __init__(self, directory: Path):
        self.dir = Path(directory)

    @property
    def cert(self) -> Path:
        return self.dir / CERT

    def load(self) -> dict:
        try:
            return json.loads((self.dir / CONFIG).read_text())
        except FileNotFoundError:
            raise NotRegistered(f"not registered (no {self.dir / CONFIG}); run "
                                f"`pulp2ng-agent register` first") from None

    def save(self, consumer_id: str, server: str, ca: Path, certificate: str) -> dict:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copyfile(ca, self.dir / CA)
        _write_private(self.cert, certificate)
        config = {"id": consumer_id, "server": server.rstrip("/"), "ca": str(self.dir / CA),
                  "cert": str(self.cert), "handlers": {}}
        _write_private(self.dir / CONFIG, json.dumps(config, indent=2) + "\n")
        return config

    def save_handlers(self, handlers: dict) -> dict:
        """Replace the ``handlers`` section (each handler's settings) of config.json."""
        config = self.load()
        config["handlers"] = handlers
        _write_private(self.dir / CONFIG, json.dumps(config, indent=2) + "\n")
        return config

    def forget(self) -> None:
        for name in (CONFIG, CERT, CA):
            (self.dir / name).unlink(missing_ok=True)
