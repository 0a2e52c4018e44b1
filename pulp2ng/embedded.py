"""The embedded database: SecantusDB (a MongoDB wire-protocol server) as a child process.

Used when ``database.url`` is empty, so a fresh machine needs no MongoDB and no broker:
Celery's messages travel through the same server via kombu's MongoDB transport.
"""

from __future__ import annotations

import os
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


def mongo_url(port: int) -> str:
    # directConnection: SecantusDB advertises a one-node replica set; talk to it directly.
    # retryWrites=false: one local node has no failover to retry across, and SecantusDB's
    # retryable-write bookkeeping costs about a third of every small write (measured here).
    return f"mongodb://127.0.0.1:{port}/?directConnection=true&retryWrites=false"


class EmbeddedDatabase:
    """Start, wait for and stop a SecantusDB server bound to 127.0.0.1."""

    def __init__(self, data_dir: os.PathLike, port: int = 0, log_file=None,
                 sync_on_commit: bool = False):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.log_file = log_file
        # Without it SecantusDB acknowledges a write before its log reaches the kernel, so a
        # killed server loses the last few acknowledged writes (measured: 3 of 500).
        self.sync_on_commit = sync_on_commit
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return mongo_url(self.port)

    def start(self, timeout: float = 30.0) -> "EmbeddedDatabase":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [secantusd_binary(), "--host", "127.0.0.1", "--port", str(self.port),
             "--storage-path", str(self.data_dir), "--log-level", "WARNING",
             *(["--sync-on-commit"] if self.sync_on_commit else [])],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=die_with_parent,
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client = pymongo.MongoClient(self.url, serverSelectionTimeoutMS=500)
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
