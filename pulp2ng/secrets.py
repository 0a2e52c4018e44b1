"""Secrets at rest: importer and distributor credentials are stored Fernet-encrypted.

The key lives outside the database, in ``secrets.key_file`` (default ``<state_dir>/secret.key``,
mode 0600, created on first start), so a database dump or backup alone discloses nothing.
Every process (API, workers, scheduler) reads the same file; on several hosts, copy it.

A sealed value is a string ``enc:v1:<Fernet token of the JSON value>``: recognisable, valid as
a document value, and sealing it again is a no-op. Only keys named in ``SECRET_KEYS`` are
sealed, at any depth (configs, overrides, task arguments, schedules); event listeners' notifier
configs seal ``NOTIFIER_SECRET_KEYS`` the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from pulp2ng.content.download import SECRET_KEYS

PREFIX = "enc:v1:"
#: What the API shows instead of a secret; sent back unchanged it means "keep the stored one".
MASK = "*****"
#: The secrets of an event listener's ``notifier_config`` (the http notifier's basic auth).
NOTIFIER_SECRET_KEYS = ("password",)


def key_path(settings) -> Path:
    configured = settings.values.get("secrets", {}).get("key_file", "")
    return Path(configured).resolve() if configured else settings.state_dir / "secret.key"


def session_key_path(settings) -> Path:
    """The key that signs the dashboard's session cookies: ``[server] session_key_file``,
    else ``<state_dir>/session.key``. Every API process of a deployment shares it."""
    configured = settings.values.get("server", {}).get("session_key_file", "")
    return Path(configured).resolve() if configured else settings.state_dir / "session.key"


def session_secret(settings) -> bytes:
    """The session signing key, created (mode 0600, race-free) on first use."""
    return load_keys(session_key_path(settings))[0]


def is_sealed(value) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def _is_secret(key, value, keys=SECRET_KEYS) -> bool:
    return key in keys and value is not None and value != ""


class Secrets:
    """Seal and open secret values with the keys in the key file.

    The file is re-read when it changes, so running processes follow ``pulp2ng rotate-key``:
    the first key seals, every key in the file opens.
    """

    def __init__(self, path: Path):
        self.path = path
        self._stamp = None
        self._reload()

    @classmethod
    def from_settings(cls, settings) -> "Secrets":
        return cls(key_path(settings))

    def _reload(self) -> None:
        keys = load_keys(self.path)
        self._stamp = _stamp(self.path)
        self._keys = keys
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def _current(self) -> MultiFernet:
        if _stamp(self.path) != self._stamp:
            self._reload()
        return self._fernet

    # -- single values -------------------------------------------------------------------

    def seal_value(self, value):
        if is_sealed(value):
            return value
        return PREFIX + self._current().encrypt(json.dumps(value).encode()).decode()

    def open_value(self, value):
        if not is_sealed(value):
            return value
        try:
            return json.loads(self._current().decrypt(value[len(PREFIX):].encode()))
        except InvalidToken:
            raise RuntimeError("a stored secret does not open with the key file "
                               "(wrong secrets.key_file?)") from None

    def fingerprint(self, value) -> str:
        """A stable keyed digest, for comparing secrets without keeping them."""
        self._current()
        digest = hmac.new(self._keys[0], json.dumps(self.open_value(value)).encode(),
                          hashlib.sha256).hexdigest()
        return f"hmac:{digest}"

    # -- trees: configs, overrides, task kwargs ------------------------------------------

    def seal(self, tree, keys=SECRET_KEYS):
        """A copy of ``tree`` with every secret value (a value under one of ``keys``) sealed."""
        return _walk(tree, lambda k, v: self.seal_value(v) if _is_secret(k, v, keys) else v)

    def open(self, tree):
        """A copy of ``tree`` with every sealed value in clear (for the plugin only)."""
        return _walk(tree, lambda k, v: self.open_value(v))

    def redact(self, tree):
        """A copy with secrets replaced by fingerprints (stored stamps to compare against)."""
        return _walk(tree, lambda k, v: self.fingerprint(v) if _is_secret(k, v) else v)

    def reseal(self, tree, keys=SECRET_KEYS):
        """Every secret opened and sealed again under the first key (key rotation)."""
        return self.seal(self.open(tree), keys)


def keep_masked(new: dict, stored: dict | None, keys=SECRET_KEYS) -> dict:
    """``new`` with secrets sent back as the mask replaced by the ``stored`` values."""
    stored = stored or {}
    out = {}
    for key, value in new.items():
        if key in keys and value == MASK:
            if stored.get(key) not in (None, ""):
                out[key] = stored[key]
            continue
        out[key] = value
    return out


def _walk(tree, fn):
    if isinstance(tree, dict):
        return {k: (_walk(v, fn) if isinstance(v, (dict, list)) else fn(k, v))
                for k, v in tree.items()}
    if isinstance(tree, list):
        return [_walk(v, fn) for v in tree]
    return tree


# -- the key file ------------------------------------------------------------------------


def load_keys(path: Path) -> list[bytes]:
    """The keys in ``path`` (newest first), creating the file with a new key if missing.

    Creation is race-free across processes starting together: the key is written to a
    private temporary file and hard-linked into place, so a reader never sees half a key.
    """
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    make_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _write_private(tmp, [Fernet.generate_key()])
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process won the race: use its key
    finally:
        tmp.unlink(missing_ok=True)
    return _read(path)


def write_keys(path: Path, keys: list[bytes]) -> None:
    """Replace the key file atomically (mode 0600)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _write_private(tmp, keys)
    os.replace(tmp, path)


def _stamp(path: Path):
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _read(path: Path) -> list[bytes]:
    keys = [line.strip().encode() for line in path.read_text().splitlines() if line.strip()]
    if not keys:
        raise RuntimeError(f"{path} holds no key")
    return keys


def _write_private(path: Path, keys: list[bytes]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(b"".join(k + b"\n" for k in keys))
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, 0o600)


def make_private_dir(path: Path, mode: int = 0o700) -> Path:
    """Create ``path`` (and parents) and give it ``mode`` if this call created it or it is
    more open than ``mode``: state never becomes readable by other users."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=mode)
    current = path.stat().st_mode & 0o777
    if current & ~mode:
        os.chmod(path, current & mode)
    return path
