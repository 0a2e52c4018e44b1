"""Settings of ``pulp2ng-admin``: admin.conf, then the environment, then the global flags.

``$XDG_CONFIG_HOME/pulp2ng/admin.conf`` (default ``~/.config``) is an ini file::

    [admin]
    server = https://pulp.example.com:24818
    ca = /etc/pki/pulp2ng/ca.crt
    username = admin
    password = ...

The environment overrides it (``PULP2NG_ADMIN_SERVER``, ``_CA``, ``_USERNAME``,
``_PASSWORD``) and flags override both. ``login`` stores a certificate and key next to it
(mode 0600); they authenticate over HTTPS whenever no password is given.
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path

from pulp2ng.plugin.admin import AdminError, Settings

KEYS = ("server", "ca", "username", "password")
SECTION = "admin"


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "pulp2ng"


def config_file() -> Path:
    return config_dir() / "admin.conf"


def cert_files() -> tuple[Path, Path]:
    """Where ``login`` keeps the certificate and its key."""
    return config_dir() / "login-cert.pem", config_dir() / "login-key.pem"


def _from_file(path: Path) -> dict:
    if not path.exists():
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path)
    except (configparser.Error, OSError, UnicodeDecodeError) as exc:
        raise AdminError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    if not parser.has_section(SECTION):
        return {}
    unknown = set(parser[SECTION]) - set(KEYS)
    if unknown:
        raise AdminError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))} in "
                         f"[{SECTION}] (known: {', '.join(KEYS)})")
    return {k: v for k, v in parser[SECTION].items() if v != ""}


def load(flags: dict) -> Settings:
    """Merge the three sources; ``flags`` holds the global options (None when not given)."""
    values = _from_file(config_file())
    for key in KEYS:
        env = os.environ.get(f"PULP2NG_ADMIN_{key.upper()}")
        if env:
            values[key] = env
    values.update({k: v for k, v in flags.items() if k in KEYS and v is not None})
    settings = Settings(**values)
    if not settings.server.startswith(("http://", "https://")):
        raise AdminError(f"the server {settings.server!r} is not an http:// or https:// URL")
    cert, key = cert_files()
    if cert.exists() and key.exists():
        settings.cert = (str(cert), str(key))
    settings.state_dir = str(config_dir())
    return settings


def store_login(certificate: str, key: str) -> tuple[Path, Path]:
    """Write the login certificate and key, readable by their owner only."""
    paths = cert_files()
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    for path, text in zip(paths, (certificate, key)):
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)  # an existing tmp file keeps its mode through O_CREAT
        os.replace(tmp, path)
    return paths


def remove_login() -> bool:
    removed = False
    for path in cert_files():
        if path.exists():
            path.unlink()
            removed = True
    return removed
