"""The embedded database: SecantusDB (a MongoDB wire-protocol server) as a child process.

Used when ``database.url`` is empty, so a fresh machine needs no MongoDB and no broker:
Celery's messages travel through the same server via kombu's MongoDB transport.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pymongo


def die_with_parent() -> None:
    """``preexec_fn`` for children: on Linux they get SIGTERM when their parent dies, so a
    killed ``pulp2ng run`` (or test run) leaves no database or worker behind."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


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

    def __init__(self, data_dir: os.PathLike, port: int = 0, log_file=None):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.log_file = log_file
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return mongo_url(self.port)

    def start(self, timeout: float = 30.0) -> "EmbeddedDatabase":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [secantusd_binary(), "--host", "127.0.0.1", "--port", str(self.port),
             "--storage-path", str(self.data_dir), "--log-level", "WARNING"],
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

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
