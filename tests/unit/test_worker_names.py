"""Whether a worker name's holder is provably gone (issue 22, duplicate worker names)."""

import os
import subprocess
import sys

from pulp2ng.tasking.workers import _holder_is_gone, default_worker_name, process_identity


def test_only_an_exited_holder_on_this_machine_is_gone():
    me = process_identity()
    exited = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                            capture_output=True, text=True).stdout.strip()
    assert _holder_is_gone({**me, "pid": int(exited)}, me)
    assert not _holder_is_gone({**me, "pid": os.getppid()}, me)       # still running here
    assert not _holder_is_gone({**me, "pid": int(exited), "host": "elsewhere"}, me)
    assert not _holder_is_gone({**me, "pid": int(exited), "pidns": -1}, me)  # a container
    assert not _holder_is_gone({"last_heartbeat": None}, me)         # nothing to tell by


def test_default_name_is_unique_per_process():
    name = default_worker_name()
    assert name.startswith(f"worker-{os.getpid()}@")
