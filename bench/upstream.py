"""The benchmarks' upstream: ``tests/fixtures/serve_static.py`` with HTTP/1.1 keep-alive.

Every client under test (pulp2ng, the raw baselines, ``ostree``, ``pip``) fetches from the
same kind of server, as it would from any production web server: persistent connections,
no TCP set-up per request.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

SERVE_STATIC = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "serve_static.py"


def serve(root: Path, work: Path) -> tuple[str, subprocess.Popen]:
    """Serve ``root`` on a free 127.0.0.1 port; returns its base URL and the process."""
    port_file = work / f"port-{root.name}"
    proc = subprocess.Popen([sys.executable, str(SERVE_STATIC), str(root), "--port", "0",
                             "--port-file", str(port_file), "--keep-alive"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not (port_file.exists() and port_file.read_text().strip()):
        if proc.poll() is not None:
            raise RuntimeError(f"serve_static.py exited with {proc.returncode}")
        time.sleep(0.02)
    return f"http://127.0.0.1:{port_file.read_text().strip()}/", proc
