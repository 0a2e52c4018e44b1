"""The state directory lock: one ``pulp2ng run`` per state directory.

Two runs on one directory would start two database servers on the same files. The lock is
an ``fcntl`` lock, so the kernel drops it when its holder dies, however it dies; the file
also names the holder's pid for the refusal message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class StateDirInUse(RuntimeError):
    pass


class StateLock:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.fd: int | None = None

    def acquire(self) -> "StateLock":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StateDirInUse(
                f"{self.path.parent} is in use by another pulp2ng run (pid {holder}, "
                f"lock {self.path})") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
