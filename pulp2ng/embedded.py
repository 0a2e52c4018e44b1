"""The embedded database: SecantusDB (a MongoDB wire-protocol server) as a child process.

Used when ``database.url`` is empty, so a fresh machine needs no MongoDB and no broker:
Celery's messages travel through the same server via kombu's MongoDB transport.
"""

from __future__ import annotations

import ipaddress
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


#: Bind addresses that mean "every interface": clients on this host reach them on loopback.
_ANY_ADDRESS = ("", "0.0.0.0", "::")


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client_host(bind: str) -> str:
    """Where a client on this host reaches a server bound to ``bind``."""
    if bind in _ANY_ADDRESS or is_loopback(bind):
        return "::1" if bind == "::" else "127.0.0.1"
    return bind


def mongo_url(port: int, credentials: tuple[str, str] | None = None,
              host: str = "127.0.0.1", tls: bool = False) -> str:
    # directConnection: SecantusDB advertises a one-node replica set; talk to it directly.
    # retryWrites=false: one local node has no failover to retry across, and SecantusDB's
    # retryable-write bookkeeping costs about a third of every small write (measured here).
    query = "directConnection=true&retryWrites=false"
    if tls:
        # Only for this host's own processes talking to the server it started: the
        # certificate names the public address, not the one dialled here, and may be signed
        # by a CA this host does not hold. Remote clients verify (tls=true&tlsCAFile=...).
        query += "&tls=true&tlsInsecure=true"
    netloc = f"[{host}]" if ":" in host else host
    if credentials:
        user, password = credentials
        return f"mongodb://{user}:{password}@{netloc}:{port}/?{query}&authSource=admin"
    return f"mongodb://{netloc}:{port}/?{query}"


class UnsafeBind(SystemExit):
    """The embedded server would listen beyond loopback without authentication."""


def check_bind(host: str, auth: bool) -> None:
    """Refuse to serve other hosts without a user: anyone who can reach the port could read
    and change every document (and the broker's messages travel through it too)."""
    if not (is_loopback(host) or auth):
        raise UnsafeBind(
            f"refusing to bind the embedded database to {host}: it would accept clients "
            "from other hosts without authentication; set [database] embedded_auth = true "
            "(PULP2NG_DATABASE_EMBEDDED_AUTH) or bind to 127.0.0.1")


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
    """Start, wait for and stop a SecantusDB server (bound to 127.0.0.1 unless ``host``)."""

    #: In the data directory once the user exists: later starts go straight to ``--auth``.
    PROVISIONED = ".pulp2ng-user"

    def __init__(self, data_dir: os.PathLike, port: int = 0, log_file=None,
                 credentials: tuple[str, str] | None = None, sync_on_commit: bool = False,
                 host: str = "127.0.0.1", tls: dict | None = None):
        """``tls``: ``{"cert", "key", "ca"}`` PEM paths (``ca`` optional: client
        certificates offered are then verified against it)."""
        check_bind(host, bool(credentials))
        self.data_dir = Path(data_dir)
        self.host = host
        self.tls = tls if tls and tls.get("cert") and tls.get("key") else None
        self.port = port or free_port()
        self.log_file = log_file
        self.credentials = credentials
        # Without it SecantusDB acknowledges a write before its log reaches the kernel, so a
        # killed server loses the last few acknowledged writes (measured: 3 of 500).
        self.sync_on_commit = sync_on_commit
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return mongo_url(self.port, self.credentials, client_host(self.host), bool(self.tls))

    @property
    def public_url(self) -> str:
        """The URL without the password, for logs."""
        return mongo_url(self.port, self.credentials and (self.credentials[0], "****"),
                         client_host(self.host), bool(self.tls))

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
            [secantusd_binary(), "--host", self.host, "--port", str(self.port),
             "--storage-path", str(self.data_dir), "--log-level", "WARNING",
             *(["--auth"] if auth else []),
             *self._tls_arguments(),
             *(["--sync-on-commit"] if self.sync_on_commit else [])],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=die_with_parent,
        )

    def _tls_arguments(self) -> list[str]:
        if not self.tls:
            return []
        args = ["--tls-cert-file", str(self.tls["cert"]), "--tls-key-file", str(self.tls["key"])]
        return args + (["--tls-ca-file", str(self.tls["ca"])] if self.tls.get("ca") else [])

    def _provision(self, timeout: float) -> None:
        """SecantusDB's way: create the user without ``--auth``, then restart with it.

        Done on loopback whatever ``host`` is: for these seconds the server has no user, and
        nobody else may reach it then."""
        bind, self.host = self.host, "127.0.0.1"
        self._spawn(auth=False)
        try:
            anonymous = mongo_url(self.port, tls=bool(self.tls))
            self.wait_ready(timeout, anonymous)
            user, password = self.credentials
            client = pymongo.MongoClient(anonymous)
            try:
                command = "updateUser" if client.admin.command(
                    "usersInfo", user).get("users") else "createUser"
                client.admin.command(command, user, pwd=password, roles=["root"])
            finally:
                client.close()
        finally:
            self.stop()
            self.host = bind
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


def remembered_port(state_dir: Path, configured: int = 0, host: str = "127.0.0.1") -> int:
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
            sock.bind((client_host(host), port))
        except OSError:  # taken by something else since; nobody holds the old URL yet
            return free_port()
    return port


def remember_port(state_dir: Path, port: int) -> None:
    (state_dir / "db.port").write_text(f"{port}\n")


def start_embedded(settings, log_file=None) -> EmbeddedDatabase:
    """Start the embedded server of ``settings``: ``<state_dir>/db`` on the recorded port and
    ``embedded_host``, with its user unless ``embedded_auth`` is off (refused beyond loopback)
    and TLS when ``embedded_tls_cert``/``_key`` are set; the port is recorded for the next
    start."""
    from pulp2ng.secrets import make_private_dir

    host = settings.get("database", "embedded_host").strip() or "127.0.0.1"
    auth = settings.getboolean("database", "embedded_auth")
    check_bind(host, auth)  # before anything is created on disk
    state = make_private_dir(settings.state_dir)
    db = EmbeddedDatabase(
        state / "db",
        remembered_port(state, settings.getint("database", "embedded_port"), host),
        log_file=log_file,
        credentials=embedded_credentials(state) if auth else None,
        sync_on_commit=settings.getboolean("database", "embedded_sync_on_commit"),
        host=host,
        tls={key: settings.get("database", f"embedded_tls_{key}").strip()
             for key in ("cert", "key", "ca")},
    ).start()
    remember_port(state, db.port)
    return db
