"""``pulp2ng run``'s supervisor: keep the database, API, scheduler and workers up.

A child that dies is started again after a back-off (0.5 s, doubling to 30 s while it keeps
dying); a worker's death also fails its tasks at once, since the supervisor knows it is gone
and need not wait ``worker_timeout`` for a reaper. A dead embedded database is restarted on
the same port and data (every child holds that URL), then tasks caught running are failed
and reservations healed. ``run`` gives up, non-zero, only when something will not stay up.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque

from pulp2ng.db.errors import PyMongoError
from pulp2ng.embedded import EmbeddedDatabase, start_embedded
from pulp2ng.lifecycle import die_with_parent

log = logging.getLogger("pulp2ng.supervisor")

BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
#: More than this many deaths of one process within CRASH_WINDOW seconds is a crash loop.
CRASH_LIMIT = 5
CRASH_WINDOW = 60.0
#: Children get this long to stop on SIGTERM, then SIGKILL; the database what remains of
#: STOP_BUDGET, so stopping stays under 10 s even when the database is already gone.
CHILD_STOP_GRACE = 5.0
STOP_BUDGET = 9.0
POLL = 0.25


class GiveUp(RuntimeError):
    """The stack cannot be kept up; ``pulp2ng run`` stops everything and exits non-zero."""


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


class Restarts:
    """Crash bookkeeping for one process: back-off and crash-loop detection."""

    def __init__(self, name: str):
        self.name = name
        self.deaths: deque[float] = deque()

    def next_delay(self) -> float:
        now = time.monotonic()
        self.deaths.append(now)
        while self.deaths and now - self.deaths[0] > CRASH_WINDOW:
            self.deaths.popleft()
        if len(self.deaths) > CRASH_LIMIT:
            raise GiveUp(f"{self.name} died {len(self.deaths)} times in {CRASH_WINDOW:g} s; "
                         f"giving up")
        return min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (len(self.deaths) - 1))


class Child:
    """One ``pulp2ng <command>`` child process and its restart schedule."""

    def __init__(self, name: str, args: list[str], env: dict, worker_name: str | None = None):
        self.name, self.args, self.env, self.worker_name = name, args, env, worker_name
        self.process: subprocess.Popen | None = None
        self.start_at = 0.0
        self.restarts = Restarts(name)

    def start(self) -> None:
        # Its own session: a terminal's Ctrl-C reaches only the supervisor, which stops the
        # children in order; die_with_parent covers a supervisor that is killed outright.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pulp2ng.cli", *self.args], env=self.env,
            start_new_session=True, preexec_fn=die_with_parent)


class Supervisor:
    def __init__(self, settings):
        self.settings = settings
        self.state = settings.state_dir
        self.db: EmbeddedDatabase | None = None
        self.db_restarts = Restarts("the embedded database")
        self.children: list[Child] = []
        self.platform = None
        self.stopping = False

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._request_stop)
        code = 0
        try:
            self.start_database()
            self.start_children()
            while not self.stopping:
                self.check_database()
                self.check_children()
                time.sleep(POLL)
        except GiveUp as exc:
            log.error("%s", exc)
            code = 1
        except RuntimeError as exc:  # the database would not start
            log.error("cannot start the stack: %s", exc)
            code = 1
        finally:
            self.stop_all()
        return code

    def _request_stop(self, *_):
        if not self.stopping:
            log.info("stopping pulp2ng")
        self.stopping = True

    # -- the database ------------------------------------------------------------------------

    def start_database(self) -> None:
        if self.settings.get("database", "url"):
            return
        self.db = start_embedded(self.settings, log_file=self.state / "db.log")
        self.settings = self.settings.with_overrides(database={"url": self.db.url})
        log.info("embedded database at %s (data in %s)", self.db.public_url, self.state / "db")

    def check_database(self) -> None:
        if not self.db or self.db.process.poll() is None:
            return
        how = describe_exit(self.db.process.returncode)
        delay = self.db_restarts.next_delay()
        log.error("the embedded database %s; restarting it on port %d in %.1f s",
                  how, self.db.port, delay)
        self._sleep(delay)
        if self.stopping:
            return
        try:
            self.db.start()
        except RuntimeError as exc:  # dead again at once: counts as another death
            log.error("the embedded database did not come back: %s", exc)
            return
        log.info("embedded database back at %s", self.db.public_url)
        self._after_database_restart()

    def _after_database_restart(self) -> None:
        """Tasks that were running saw the database vanish under them: fail them, then heal."""
        from pulp2ng.tasking import reservations
        from pulp2ng.tasking.workers import fail_running_tasks

        try:
            platform = self._platform()
            failed = fail_running_tasks(platform, "the database restarted")
            reservations.heal(platform)
            log.warning("failed %d task(s) running when the database died; reservations healed",
                        failed)
        except PyMongoError:
            log.exception("could not clean up after the database restart")

    # -- the children ------------------------------------------------------------------------

    def start_children(self) -> None:
        env = {**os.environ, **self.settings.as_environ()}
        host = socket.gethostname()
        self.children = [Child("api", ["api"], env), Child("scheduler", ["scheduler"], env)]
        for i in range(1, self.settings.getint("tasks", "workers") + 1):
            name = f"worker-{i}@{host}"
            self.children.append(Child(name, ["worker", "--name", name], env, worker_name=name))
        for child in self.children:
            child.start()

    def check_children(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.process is None:
                if now >= child.start_at and not self.stopping:
                    child.start()
                    log.info("%s started again (pid %d)", child.name, child.process.pid)
                continue
            code = child.process.poll()
            if code is None:
                continue
            child.process = None
            delay = child.restarts.next_delay()
            child.start_at = now + delay
            log.error("%s %s; restarting it in %.1f s", child.name, describe_exit(code), delay)
            if child.worker_name:
                self._fail_worker(child.worker_name, describe_exit(code))

    def _fail_worker(self, name: str, how: str) -> None:
        """The worker is gone for sure: fail its tasks now rather than after its timeout."""
        from pulp2ng.tasking.workers import fail_worker_tasks

        try:
            fail_worker_tasks(self._platform(), name, f"its process {how}")
        except PyMongoError:  # the restarted worker fails its leftovers when it starts
            log.exception("could not fail the tasks of %s", name)

    def _platform(self):
        if self.platform is None:
            from pulp2ng.platform import Platform

            self.platform = Platform.from_settings(self.settings, worker_name="supervisor")
        return self.platform

    # -- stopping ----------------------------------------------------------------------------

    def stop_all(self) -> None:
        started = time.monotonic()
        running = [c.process for c in self.children if c.process and c.process.poll() is None]
        for proc in running:
            proc.terminate()
        deadline = started + CHILD_STOP_GRACE
        for proc in running:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.db:
            self.db.stop(timeout=max(0.5, STOP_BUDGET - (time.monotonic() - started)))

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
