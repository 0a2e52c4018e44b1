"""Process lifetime helpers: children that die with their parent, and a bounded shutdown."""

from __future__ import annotations

import logging
import os
import signal
import threading

log = logging.getLogger("pulp2ng.lifecycle")

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """``preexec_fn`` for children: on Linux they get SIGTERM when their parent dies, so a
    killed ``pulp2ng run`` (or test run) leaves no database or worker behind.

    Popen blocks until the child has exec'd, so the parent is alive while this runs and the
    usual "parent died before prctl" race cannot happen here.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def exit_after(seconds: float, why: str) -> threading.Thread:
    """Hard-exit the process ``seconds`` from now unless it has exited by itself.

    A stopping process may wait on a dead database (pymongo's server selection) or, for a
    Celery worker, on a long task: SIGTERM must still end it promptly. ``os._exit`` keeps the
    worker's heartbeat document, so whoever reaps it fails what it was running.
    """
    def expire():
        log.warning("%s: still running %g s after the stop request; exiting now", why, seconds)
        logging.shutdown()
        os._exit(1)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer
