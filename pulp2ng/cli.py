"""``pulp2ng`` command: run everything on one machine, or each part on its own host.

    pulp2ng run        embedded database (unless database.url is set), API, workers, scheduler
    pulp2ng api        the REST API and published content (waitress)
    pulp2ng worker     a Celery worker running pulp2ng tasks
    pulp2ng scheduler  schedules, worker reaping and housekeeping
    pulp2ng db         the embedded database alone, in the foreground
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import time

from pulp2ng.config import load_settings
from pulp2ng.logconfig import configure as configure_logging

log = logging.getLogger("pulp2ng")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="pulp2ng", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="configuration file (default: $PULP2NG_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the whole stack on this machine")
    sub.add_parser("api", help="serve the REST API")
    worker = sub.add_parser("worker", help="run a task worker")
    worker.add_argument("--name", help="stable worker name (default worker-<pid>@<host>)")
    sub.add_parser("scheduler", help="run the scheduler")
    sub.add_parser("db", help="run the embedded database in the foreground")
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    configure_logging(settings.get("logging", "level"))
    return {
        "run": cmd_run, "api": cmd_api, "worker": cmd_worker, "scheduler": cmd_scheduler,
        "db": cmd_db,
    }[args.command](settings, args)


def cmd_api(settings, args) -> int:
    from pulp2ng.server.app import create_app
    from pulp2ng.server.wsgi import serve

    app = create_app(settings)
    host, port = settings.get("server", "host"), settings.getint("server", "port")
    log.info("pulp2ng API on http://%s:%s/pulp/api/v2/", host, port)
    serve(app, host, port)
    return 0


def cmd_worker(settings, args) -> int:
    from pulp2ng.tasking.worker import run_worker

    name = args.name or f"worker-{os.getpid()}@{socket.gethostname()}"
    return run_worker(settings, name)


def cmd_scheduler(settings, args) -> int:
    from pulp2ng.tasking.scheduler import run_scheduler

    return run_scheduler(settings, f"scheduler@{socket.gethostname()}")


def cmd_db(settings, args) -> int:
    from pulp2ng.embedded import EmbeddedDatabase, remember_port, remembered_port

    state = settings.state_dir
    state.mkdir(parents=True, exist_ok=True)
    db = EmbeddedDatabase(state / "db",
                          remembered_port(state, settings.getint("database", "embedded_port")),
                          sync_on_commit=_on(settings.get("database", "embedded_sync_on_commit")),
                          ).start()
    remember_port(state, db.port)
    log.info("embedded database at %s", db.url)
    _wait_for_signal()
    db.stop()
    return 0


def cmd_run(settings, args) -> int:
    """Start every part as a supervised child process; stop them all on SIGINT/SIGTERM."""
    from pulp2ng.statelock import StateDirInUse, StateLock
    from pulp2ng.supervisor import Supervisor

    state = settings.state_dir
    state.mkdir(parents=True, exist_ok=True)
    try:
        lock = StateLock(state / "run.lock").acquire()
    except StateDirInUse as exc:
        print(f"pulp2ng run: {exc}", file=sys.stderr)
        return 2
    with lock:
        return Supervisor(settings).run()


def _on(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _wait_for_signal() -> None:
    stop = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.append(True))
    while not stop:
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
