"""``pulp2ng`` command: run everything on one machine, or each part on its own host.

    pulp2ng run        embedded database (unless database.url is set), API, workers, scheduler
    pulp2ng api        the REST API and published content (waitress; HTTPS: cheroot)
    pulp2ng worker     a Celery worker running pulp2ng tasks
    pulp2ng scheduler  schedules, worker reaping and housekeeping
    pulp2ng db         the embedded database alone, in the foreground
    pulp2ng rotate-key re-encrypt every stored secret under a new key
    pulp2ng health     is a role healthy? (api, worker, scheduler, db; exit 0 when it is)
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import time

from pulp2ng.config import load_settings
from pulp2ng.logconfig import configure as configure_logging

log = logging.getLogger("pulp2ng")


def build_parser() -> argparse.ArgumentParser:
    """The command line, apart from running it (the systemd units' test parses theirs)."""
    parser = argparse.ArgumentParser(prog="pulp2ng", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="configuration file (default: $PULP2NG_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the whole stack on this machine")
    sub.add_parser("api", help="serve the REST API")
    worker = sub.add_parser("worker", help="run a task worker")
    worker.add_argument("--name", help="stable worker name, unique among live workers "
                        "(default worker-<pid>@<host>); a live worker's name is refused")
    sub.add_parser("scheduler", help="run the scheduler")
    db = sub.add_parser("db", help="run the embedded database in the foreground")
    db.add_argument("--host", help="bind address (default [database] embedded_host); beyond "
                    "loopback only with embedded_auth on")
    db.add_argument("--port", type=int, help="port (default [database] embedded_port)")
    sub.add_parser("rotate-key", help="re-encrypt stored secrets under a new key file")
    health = sub.add_parser("health", help="exit 0 when a role is healthy (service managers)")
    health.add_argument("target", choices=["api", "worker", "scheduler", "db", "container"],
                        help="container: the role process --pid runs")
    health.add_argument("--name", help="the worker's (or scheduler's) name")
    health.add_argument("--pid", type=int, default=1, help="for container (default 1)")
    health.add_argument("--url", help="for api: the status URL (default from [server])")
    health.add_argument("--timeout", type=float, default=5.0, help="seconds per check")
    health.add_argument("--wait", type=float, default=0.0,
                        help="keep checking up to this many seconds until healthy")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings(args.config)
    configure_logging(settings.get("logging", "level"))
    return {
        "run": cmd_run, "api": cmd_api, "worker": cmd_worker, "scheduler": cmd_scheduler,
        "db": cmd_db, "rotate-key": cmd_rotate_key, "health": cmd_health,
    }[args.command](settings, args)


def cmd_api(settings, args) -> int:
    from pulp2ng.server.app import create_app
    from pulp2ng.server.wsgi import serve

    app = create_app(settings)
    host, port = settings.get("server", "host"), settings.getint("server", "port")
    if settings.getboolean("server", "https"):
        from pulp2ng.pki import ensure_pki
        from pulp2ng.server.wsgi import serve_https_in_thread

        paths = ensure_pki(settings)
        https_port = settings.getint("server", "https_port")
        serve_https_in_thread(app, host, https_port, paths.server_cert, paths.server_key,
                              paths.client_ca, settings.getint("server", "agent_connections"))
        log.info("pulp2ng API on https://%s:%s/pulp/api/v2/ (CA %s)", host, https_port,
                 paths.ca_cert)
    log.info("pulp2ng API on http://%s:%s/pulp/api/v2/", host, port)
    serve(app, host, port)
    return 0


def cmd_worker(settings, args) -> int:
    from pulp2ng.tasking.worker import run_worker
    from pulp2ng.tasking.workers import default_worker_name

    return run_worker(settings, args.name or default_worker_name())


def cmd_scheduler(settings, args) -> int:
    from pulp2ng.scheduler import run_scheduler

    return run_scheduler(settings, f"scheduler@{socket.gethostname()}")


def cmd_db(settings, args) -> int:
    from pulp2ng.embedded import UnsafeBind, start_embedded

    overrides = {"embedded_host": args.host, "embedded_port": args.port}
    settings = settings.with_overrides(
        database={k: v for k, v in overrides.items() if v is not None})
    try:
        db = start_embedded(settings)
    except UnsafeBind as exc:
        print(f"pulp2ng db: {exc}", file=sys.stderr)
        return 2
    log.info("embedded database on %s:%d%s: %s (password in %s)", db.host, db.port,
             " with TLS" if db.tls else "", db.public_url, settings.state_dir / "db-credentials")
    _wait_for_signal()
    db.stop()
    return 0


def cmd_health(settings, args) -> int:
    from pulp2ng import health

    return health.run(settings, args.target, wait=args.wait, name=args.name, pid=args.pid,
                      timeout=args.timeout, url=args.url, parser=build_parser())


def cmd_run(settings, args) -> int:
    """Start every part as a supervised child process; stop them all on SIGINT/SIGTERM."""
    from pulp2ng.secrets import make_private_dir
    from pulp2ng.statelock import StateDirInUse, StateLock
    from pulp2ng.supervisor import Supervisor

    state = make_private_dir(settings.state_dir)
    try:
        lock = StateLock(state / "run.lock").acquire()
    except StateDirInUse as exc:
        print(f"pulp2ng run: {exc}", file=sys.stderr)
        return 2
    with lock:
        return Supervisor(settings).run()


def cmd_rotate_key(settings, args) -> int:
    """New key first in the file (live processes follow it), re-encrypt, drop the old key.

    The previous key file is kept as ``<key_file>.old``. Without ``database.url`` the
    embedded database is started on the state directory (stop ``pulp2ng run`` first).
    """
    from cryptography.fernet import Fernet

    from pulp2ng.db.sealing import rewrite_secrets
    from pulp2ng.db.store import connect
    from pulp2ng.embedded import start_embedded
    from pulp2ng.secrets import Secrets, key_path, load_keys, write_keys

    from pulp2ng.statelock import StateDirInUse, StateLock

    db = lock = None
    if not settings.get("database", "url"):
        try:  # the embedded database's files belong to one process: refuse beside `run`
            lock = StateLock(settings.state_dir / "run.lock").acquire()
        except StateDirInUse as exc:
            print(f"pulp2ng rotate-key: {exc}; stop it first", file=sys.stderr)
            return 2
        db = start_embedded(settings)
        settings = settings.with_overrides(database={"url": db.url})
    try:
        path = key_path(settings)
        old = load_keys(path)
        write_keys(path.with_name(path.name + ".old"), old)
        new = Fernet.generate_key()
        write_keys(path, [new, *old])
        changed = rewrite_secrets(connect(settings), Secrets(path).reseal)
        write_keys(path, [new])
    finally:
        if db:
            db.stop()
        if lock:
            lock.release()
    log.warning("re-encrypted %d document(s) under the new key in %s (old key: %s.old)",
                changed, path, path.name)
    return 0


def _wait_for_signal() -> None:
    stop = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.append(True))
    while not stop:
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
