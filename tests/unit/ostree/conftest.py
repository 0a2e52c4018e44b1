"""Shared helpers for the OSTree tests: real fixture repos, a static server, the ostree CLI."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import require_tool  # noqa: F401  (re-exported for the tests)

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
MAKE_REPO = FIXTURES / "make_ostree_repo.sh"
SERVE = FIXTURES / "serve_static.py"
REF_X86 = "fixture/x86_64/base"
REF_ARM = "fixture/aarch64/base"




def run(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    """Run a command, capturing text output; show it when the command fails."""
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def ostree(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real ostree CLI against ``repo``."""
    return run(require_tool("ostree"), f"--repo={repo}", *args, check=check)


def make_repo(out: Path, *args: str) -> dict[str, str]:
    """Build an upstream with the shared fixture script; return ref → head commit."""
    require_tool("ostree")
    proc = run("bash", str(MAKE_REPO), str(out), *args)
    return dict(line.split() for line in proc.stdout.splitlines() if line.strip())


@pytest.fixture(scope="session")
def base_upstream(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """One 2-ref, 2-commit fixture repo, built once; copy it before modifying it."""
    out = tmp_path_factory.mktemp("ostree-base") / "up"
    return out, make_repo(out)


@pytest.fixture
def upstream(base_upstream, tmp_path) -> tuple[Path, dict[str, str]]:
    """A private copy of the base fixture repo that a test may damage."""
    src, heads = base_upstream
    dest = tmp_path / "upstream"
    shutil.copytree(src, dest, symlinks=True)
    return dest, dict(heads)


@pytest.fixture
def serve(tmp_path):
    """Start ``serve_static.py DIR`` on 127.0.0.1 with a random port; return its base URL."""
    procs = []

    def start(directory: Path) -> str:
        port_file = tmp_path / f"port-{len(procs)}"
        proc = subprocess.Popen(
            [sys.executable, str(SERVE), str(directory), "--port", "0", "--port-file",
             str(port_file)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        deadline = time.monotonic() + 10
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("serve_static.py did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{port_file.read_text().strip()}/"

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
