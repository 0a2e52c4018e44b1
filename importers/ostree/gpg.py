"""Verify OSTree commit signatures with the ``gpg`` binary.

OSTree keeps GPG signatures in the commit's detached metadata (``.commitmeta``, key
``ostree.gpgsigs``: a list of binary detached signatures over the commit object's bytes).
Verifying them needs nothing but ``gpg --verify`` against a throw-away keyring holding the
configured ``gpg_keys``, so no libostree is involved.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from . import archive
from .errors import OSTreeError


class OSTreeSignatureError(OSTreeError):
    """A commit is unsigned, or none of its signatures is valid for the configured keys."""


class Verifier:
    """A temporary GnuPG home with ``keys`` imported; use as a context manager."""

    def __init__(self, keys: list[str]):
        self.keys = keys
        self.home = None

    def __enter__(self):
        gpg = shutil.which("gpg")
        if gpg is None:
            raise OSTreeSignatureError("gpg_verify is set but gpg is not installed")
        self.gpg = gpg
        # In the system's temp directory, not the task's scratch: gpg-agent puts its socket
        # in the home, and a Unix socket path may not exceed 107 bytes.
        self.home = tempfile.mkdtemp(prefix="pulp2ng-gpg-")
        os.chmod(self.home, 0o700)
        for n, key in enumerate(self.keys):
            path = os.path.join(self.home, f"key-{n}.asc")
            with open(path, "w") as fh:
                fh.write(key)
            proc = self._gpg("--import", path)
            if proc.returncode != 0:
                raise OSTreeSignatureError(f"gpg_keys[{n}] could not be imported")
        return self

    def __exit__(self, *exc):
        subprocess.run(["gpgconf", "--homedir", self.home, "--kill", "all"],
                       capture_output=True, check=False)
        shutil.rmtree(self.home, ignore_errors=True)

    def _gpg(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.gpg, "--batch", "--no-tty", "--homedir", self.home,
                               "--status-fd", "1", *args], capture_output=True, timeout=60)

    def verify(self, checksum: str, commit: bytes, commitmeta: bytes | None) -> str:
        """Check that at least one signature of the commit is valid.

        Returns:
            The fingerprint of the first valid signature.

        Raises:
            OSTreeSignatureError: no detached metadata, no signatures, or none verifies.
        """
        sigs = archive.parse_commitmeta(commitmeta).get("ostree.gpgsigs") if commitmeta else None
        if not sigs:
            raise OSTreeSignatureError(f"commit {checksum} is not signed")
        data = os.path.join(self.home, f"{checksum}.commit")
        with open(data, "wb") as fh:
            fh.write(commit)
        try:
            for n, sig in enumerate(sigs):
                sig_path = os.path.join(self.home, f"{checksum}.sig{n}")
                with open(sig_path, "wb") as fh:
                    fh.write(bytes(sig))
                proc = self._gpg("--verify", sig_path, data)
                os.unlink(sig_path)
                for line in proc.stdout.decode("utf-8", "replace").splitlines():
                    if proc.returncode == 0 and line.startswith("[GNUPG:] VALIDSIG "):
                        return line.split()[2]
        finally:
            os.unlink(data)
        raise OSTreeSignatureError(
            f"commit {checksum}: no valid signature from the configured gpg_keys")
