"""Settings: the one place configuration is read.

Layers, later wins: the packaged ``etc/pulp2ng/server.conf`` defaults, the file named by
``PULP2NG_CONFIG`` (or the ``path`` argument), then ``PULP2NG_<SECTION>_<KEY>`` environment
variables. The result is a frozen mapping that every process builds once and passes down.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

DEFAULTS_FILE = Path(__file__).resolve().parent / "server.conf"
_SOURCE_TREE_DEFAULTS = Path(__file__).resolve().parent.parent / "etc" / "pulp2ng" / "server.conf"

DEFAULT_ADMIN_PASSWORD = "admin"


@dataclass(frozen=True)
class Settings:
    """Read-only view of the merged configuration: ``settings.get("tasks", "workers")``."""

    values: MappingProxyType

    def get(self, section: str, key: str) -> str:
        return self.values[section][key]

    def getint(self, section: str, key: str) -> int:
        return int(self.get(section, key))

    def getfloat(self, section: str, key: str) -> float:
        return float(self.get(section, key))

    def getboolean(self, section: str, key: str) -> bool:
        return self.get(section, key).strip().lower() in ("1", "true", "yes", "on")

    def with_overrides(self, **overrides: dict) -> "Settings":
        """Return a copy with whole sections updated, e.g. ``database={"url": ...}``."""
        merged = {s: dict(v) for s, v in self.values.items()}
        for section, keys in overrides.items():
            merged.setdefault(section, {}).update({k: str(v) for k, v in keys.items()})
        return _freeze(merged)

    def as_environ(self) -> dict[str, str]:
        """Environment variables that reproduce these settings in a child process."""
        return {
            f"PULP2NG_{s.upper()}_{k.upper()}": v
            for s, keys in self.values.items()
            for k, v in keys.items()
        }

    # Frequently used values, named for readability at call sites.
    @property
    def storage_dir(self) -> Path:
        return Path(self.get("storage", "dir")).resolve()

    @property
    def state_dir(self) -> Path:
        return Path(self.get("storage", "state_dir")).resolve()

    @property
    def max_json_body_size(self) -> int:
        """Bytes a non-upload request body may have (``[server] max_json_body_size``)."""
        return self.getint("server", "max_json_body_size")


def load_settings(path: str | os.PathLike | None = None, environ=None) -> Settings:
    """Merge defaults, the config file and environment overrides into Settings."""
    environ = os.environ if environ is None else environ
    parser = configparser.ConfigParser(interpolation=None)
    # A source checkout reads etc/ directly; an installed wheel carries a copy in the package.
    defaults = _SOURCE_TREE_DEFAULTS if _SOURCE_TREE_DEFAULTS.is_file() else DEFAULTS_FILE
    with open(defaults, encoding="utf-8") as fh:
        parser.read_file(fh)
    path = path or environ.get("PULP2NG_CONFIG")
    if path:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    merged = {s: dict(parser[s]) for s in parser.sections()}
    for section, keys in merged.items():
        for key in keys:
            env = environ.get(f"PULP2NG_{section.upper()}_{key.upper()}")
            if env is not None:
                keys[key] = env
    return _freeze(merged)


def _freeze(merged: dict) -> Settings:
    return Settings(MappingProxyType({s: MappingProxyType(dict(v)) for s, v in merged.items()}))
