"""``pulp2ng health``: is a pulp2ng process doing its job? For service managers.

    pulp2ng health api                    the status endpoint answers and sees the database
    pulp2ng health worker --name NAME     that worker beat within ``worker_timeout``
    pulp2ng health scheduler [--name N]   the scheduler (default ``scheduler@<host>``) beat
    pulp2ng health db                     the database answers a ping
    pulp2ng health container [--pid 1]    whichever of those the process ``--pid`` runs

Exit status 0 when healthy, 1 when not (the reason on stderr). ``--wait S`` keeps trying for
up to S seconds (systemd's ``ExecStartPost``: a unit is started once its process works);
every check is bounded by ``--timeout``. Heartbeat ages are read on the database's clock,
as the reapers read them, so this host's clock does not matter.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pymongo
import requests

#: Pause between tries under ``--wait``.
WAIT_PAUSE = 1.0


class Unhealthy(Exception):
    """What is wrong, in words for the service manager's log."""


def database_url(settings) -> str:
    """``[database] url``, else the embedded server this host's ``pulp2ng db`` runs (its
    recorded port, user and TLS), as the other roles would be told to reach it."""
    from pulp2ng.embedded import client_host, mongo_url

    url = settings.get("database", "url")
    if url:
        return url
    state = Path(settings.state_dir)
    try:
        port = int((state / "db.port").read_text().strip())
    except (OSError, ValueError):
        raise Unhealthy("database.url is not set and no embedded database ever started "
                        f"here (no {state / 'db.port'})") from None
    credentials = None
    if settings.getboolean("database", "embedded_auth"):
        try:
            user, password = (state / "db-credentials").read_text().strip().split(":", 1)
        except (OSError, ValueError):
            raise Unhealthy(f"cannot read {state / 'db-credentials'}") from None
        credentials = (user, password)
    host = settings.get("database", "embedded_host").strip() or "127.0.0.1"
    tls = bool(settings.get("database", "embedded_tls_cert").strip())
    return mongo_url(port, credentials, client_host(host), tls)


def _store(settings):
    from pulp2ng.db.store import connect

    try:
        return connect(settings, url=database_url(settings), retry_reads=False)
    except pymongo.errors.PyMongoError as exc:  # a malformed url
        raise Unhealthy(f"cannot use the database url: {exc}") from None


def check_db(settings, timeout: float) -> str:
    store = _store(settings)
    try:
        with pymongo.timeout(timeout):
            store.client.admin.command("ping")
    except pymongo.errors.PyMongoError as exc:
        raise Unhealthy(f"database does not answer: {exc}") from None
    finally:
        store.client.close()
    return "database answers"


def check_heartbeat(settings, name: str, timeout: float) -> str:
    """``name`` beat within ``worker_timeout``, by the database's clock."""
    limit = settings.getfloat("tasks", "worker_timeout")
    store = _store(settings)
    try:
        with pymongo.timeout(timeout):
            server_now = store.server_time()
            doc = store.find_worker(name)
    except pymongo.errors.PyMongoError as exc:
        raise Unhealthy(f"cannot read {name}'s heartbeat: {exc}") from None
    finally:
        store.client.close()
    if doc is None:
        raise Unhealthy(f"{name} has no heartbeat (not started, stopped, or declared dead)")
    age = (server_now - doc["last_heartbeat"]).total_seconds()
    if age > limit:
        raise Unhealthy(f"{name} last beat {age:.1f} s ago (worker_timeout {limit:g} s)")
    return f"{name} beat {max(age, 0.0):.1f} s ago"


def api_status_url(settings) -> str:
    from pulp2ng.embedded import client_host

    host = client_host(settings.get("server", "host"))
    netloc = f"[{host}]" if ":" in host else host
    return f"http://{netloc}:{settings.getint('server', 'port')}/pulp/api/v2/status/"


def check_api(settings, timeout: float, url: str | None = None) -> str:
    url = url or api_status_url(settings)
    try:
        response = requests.get(url, timeout=timeout)
    except requests.RequestException as exc:
        raise Unhealthy(f"API does not answer at {url}: {exc}") from None
    if response.status_code != 200:
        raise Unhealthy(f"API answered {response.status_code} at {url}")
    try:
        connected = response.json()["database_connection"]["connected"]
    except (ValueError, KeyError, TypeError):
        raise Unhealthy(f"{url} is not a pulp2ng status answer") from None
    if not connected:
        raise Unhealthy("API answers but cannot reach the database")
    return "API answers and reaches the database"


def process_role(pid: int, parser) -> tuple[str, str | None]:
    """``(role, name)`` of the ``pulp2ng`` command process ``pid`` runs, read from its
    command line with ``parser`` (``pulp2ng.cli.build_parser()``; a container's PID 1 is
    ``pulp2ng <role> ...``). ``run`` counts as ``api``."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError as exc:
        raise Unhealthy(f"cannot read process {pid}'s command line: {exc}") from None
    for i, word in enumerate(argv):
        if os.path.basename(word) == "pulp2ng" or word == "pulp2ng.cli":
            args, _ = parser.parse_known_args([a for a in argv[i + 1:] if a])
            break
    else:
        raise Unhealthy(f"process {pid} is not a pulp2ng command: {' '.join(argv)}")
    role = args.command
    if role == "worker":  # the default name is the worker's own PID's (worker.py)
        return role, args.name or f"worker-{pid}@{socket.gethostname()}"
    if role == "scheduler":
        return role, f"scheduler@{socket.gethostname()}"
    if role in ("api", "run"):
        return "api", None
    if role == "db":
        return "db", None
    raise Unhealthy(f"process {pid} runs `pulp2ng {role}`, which has no health check")


def check(settings, target: str, *, name: str | None = None, pid: int = 1,
          timeout: float = 5.0, url: str | None = None, parser=None) -> str:
    """One check of ``target``; returns what was seen, raises :class:`Unhealthy`.
    ``container`` needs the command line's ``parser``."""
    if target == "container":
        target, name = process_role(pid, parser)
    if target == "api":
        return check_api(settings, timeout, url)
    if target == "db":
        return check_db(settings, timeout)
    if target == "scheduler":
        return check_heartbeat(settings, name or f"scheduler@{socket.gethostname()}", timeout)
    if target == "worker":
        if not name:
            raise Unhealthy("which worker? give --name")
        return check_heartbeat(settings, name, timeout)
    raise Unhealthy(f"unknown health target {target}")


def run(settings, target: str, *, wait: float = 0.0, **options) -> int:
    """Check until healthy or ``wait`` seconds passed; prints the outcome, returns 0 or 1."""
    deadline = time.monotonic() + wait
    while True:
        try:
            print(f"healthy: {check(settings, target, **options)}")
            return 0
        except Unhealthy as exc:
            if time.monotonic() + WAIT_PAUSE > deadline:
                print(f"unhealthy: {exc}", file=sys.stderr)
                return 1
        time.sleep(WAIT_PAUSE)


__all__ = ["Unhealthy", "check", "run", "database_url", "process_role"]
