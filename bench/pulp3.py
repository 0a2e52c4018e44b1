"""Run Pulp 3 (the ``../shared/peers/pulp3`` scripts) for a side-by-side figure.

The peer is installed and started by its ``setup.sh`` (PostgreSQL on this machine), measured
by its own ``bench.py --json`` and stopped again, after pulp2ng's own run so the two never
share the CPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path


def run_peer(peer: Path, *bench_args: str) -> dict:
    """Start Pulp 3, run its benchmark with ``bench_args`` and return its JSON results."""
    peer = peer.resolve()
    env = dict(os.environ)
    venv = Path(env.get("VENV", Path(env.get("PULP3_HOME", "/tmp/pulp3")) / "venv"))
    subprocess.run(["bash", str(peer / "setup.sh")], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "pulp3.json"
            subprocess.run([str(venv / "bin/python"), str(peer / "bench.py"), *bench_args,
                            "--latency-samples", "1", "--burst", "0", "--json", str(out)],
                           check=True, env=env, stdout=subprocess.DEVNULL)
            return json.loads(out.read_text())
    finally:
        subprocess.run(["bash", str(peer / "stop.sh"), "--pg"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
