"""The embedded database: SecantusDB (a MongoDB wire-protocol server) as a child process.

Used when ``database.url`` is empty, so a fresh machine needs no MongoDB and no broker:
Celery's messages travel through the same server via kombu's MongoDB transport.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pymongo

from pulp2ng.lifecycle import die_with_parent  # noqa: F401  (re-exported for callers)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def secantusd_binary() -> str:
    beside = Path(sys.executable).with_name("secantusd-py")
    found = str(beside) if beside.exists() else shutil.which("secantusd-py")
    if not found:
        raise SystemExit("secantusd-py not found: pip install SecantusDB")
    return found


def mongo_url(port: int, credentials: tuple[str, str] | None = None) -> str:
    # directConnection: SecantusDB advertises a one-node replica set; talk to it directly.
    # retryWrites=false: one local node has no failover to retry across, and SecantusDB's
    # retryable-write bookkeeping costs about a third of every small write (measured here).
    query = "directConnection=true&retryWrites=false"
    if credentials:
        user, password = credentials
        return f"mongodb://{user}:{password}@127.0.0.1:{port}/?{query}&authSource=admin"
    return f"mongodb://127.0.0.1:{port}/?{query}"


def embedded_credentials(state_dir: os.PathLike) -> tuple[str, str]:
    """The embedded database's user, from ``<state_dir>/db-credentials`` (0600), made once.

    Other local users can reach a port on 127.0.0.1: without authentication they could
    read and change every document.
    """
    path = Path(state_dir) / "db-credentials"
    if not path.exists():
        tmp = path.with_name(f".db-credentials.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"pulp2ng:{secrets.token_urlsafe(24)}\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    user, _, password = path.read_text().strip().partition(":")
    return user, password


class EmbeddedDatabase:
    """Start, wait for and stop a SecantusDB server bound to 127.0.0.1."""

    #: In the data directory once the user exists: later starts go straight to ``--auth``.
    PROVISIONED = ".pulp2ng-user"

    def __init__(self, data_dir: os.PathLike, port: int = 0, log_file=None,
                 credentials: tuple[str, str] | None = None, sync_on_commit: bool = False):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.log_file = log_file
        self.credentials = credentials
        # Without it SecantusDB acknowledges a write before its log reaches the kernel, so a
        # killed server loses the last few acknowledged writes (measured: 3 of 500).
        self.sync_on_commit = sync_on_commit
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return mongo_url(self.port, self.credentials)

    @property
    def public_url(self) -> str:
        """The URL without the password, for logs."""
        return mongo_url(self.port, self.credentials and (self.credentials[0], "****"))

    def start(self, timeout: float = 30.0) -> "EmbeddedDatabase":
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.credentials and not (self.data_dir / self.PROVISIONED).exists():
            self._provision(timeout)
        self._spawn(auth=bool(self.credentials))
        self.wait_ready(timeout)
        return self

    def _spawn(self, auth: bool) -> None:
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [secantusd_binary(), "--host", "127.0.0.1", "--port", str(self.port),
             "--storage-path", str(self.data_dir), "--log-level", "WARNING",
             *(["--auth"] if auth else []),
             *(["--sync-on-commit"] if self.sync_on_commit else [])],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=die_with_parent,
        )

    def _provision(self, timeout: float) -> None:
        """SecantusDB's way: create the user without ``--auth``, then restart with it."""
        self._spawn(auth=False)
        try:
            self.wait_ready(timeout, mongo_url(self.port))
            user, password = self.credentials
            client = pymongo.MongoClient(mongo_url(self.port))
            try:
                command = "updateUser" if client.admin.command(
                    "usersInfo", user).get("users") else "createUser"
                client.admin.command(command, user, pwd=password, roles=["root"])
            finally:
                client.close()
        finally:
            self.stop()
        (self.data_dir / self.PROVISIONED).write_text(self.credentials[0] + "\n")

    def wait_ready(self, timeout: float, url: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        client = pymongo.MongoClient(url or self.url, serverSelectionTimeoutMS=500)
        try:
            while True:
                if self.process and self.process.poll() is not None:
                    raise RuntimeError(f"secantusd-py exited with {self.process.returncode}")
                try:
                    client.admin.command("ping")
                    return
                except pymongo.errors.PyMongoError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the embedded database did not start") from None
                    time.sleep(0.1)
        finally:
            client.close()

    def stop(self, timeout: float = 10.0) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def remembered_port(state_dir: Path, configured: int = 0) -> int:
    """The embedded server's port: configured, else the one recorded at an earlier start.

    Every child of ``pulp2ng run`` was given the database URL, so a restarted server must
    come back on the same port; recording it also keeps the URL stable across runs.
    """
    if configured:
        return configured
    try:
        port = int((state_dir / "db.port").read_text().strip())
    except (OSError, ValueError):
        return free_port()
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:  # taken by something else since; nobody holds the old URL yet
            return free_port()
    return port


def remember_port(state_dir: Path, port: int) -> None:
    (state_dir / "db.port").write_text(f"{port}\n")


def start_embedded(settings, log_file=None) -> EmbeddedDatabase:
    """Start the embedded server of ``settings``: ``<state_dir>/db`` on the recorded port,
    with its user unless ``embedded_auth`` is off; the port is recorded for the next start."""
    from pulp2ng.secrets import make_private_dir

    state = make_private_dir(settings.state_dir)
    db = EmbeddedDatabase(
        state / "db", remembered_port(state, settings.getint("database", "embedded_port")),
        log_file=log_file,
        credentials=(embedded_credentials(state)
                     if settings.getboolean("database", "embedded_auth") else None),
        sync_on_commit=settings.getboolean("database", "embedded_sync_on_commit"),
    ).start()
    remember_port(state, db.port)
    return db
