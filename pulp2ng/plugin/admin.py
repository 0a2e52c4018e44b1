"""Helpers for ``pulp2ng-admin`` sections: the REST client, task following and output.

A content type adds its commands to the admin command line as pulp-admin extensions did: a
``click`` group registered under the entry-point group ``pulp2ng.admin`` (its name is the
section, e.g. ``iso``). Sections run on an admin's laptop, so this module talks to pulp2ng only
over the REST API and imports nothing of the server (no pymongo, Flask or database layer);
tests/unit/test_admin_cli.py checks that.

A command receives the :class:`Admin` (``@pass_admin``): ``admin.client`` calls the API,
``admin.output(body, human)`` prints the API's body unchanged under ``--json`` or the human
rendering otherwise, and :func:`follow_tasks` follows a call report's tasks live.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import click
import requests
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

API = "/pulp/api/v2"
TERMINAL = ("finished", "error", "canceled", "skipped")
#: Plugin progress states after which a step's bar is full.
DONE_STATES = ("complete", "finished", "failed", "skipped", "cancelled", "canceled",
               "isos_failed", "manifest_failed")
#: How often a followed task is polled (seconds).
POLL = 0.25


class AdminError(Exception):
    """A failure shown as one line on stderr; the command exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class ApiError(AdminError):
    """An HTTP error answer; the message carries the status, the PLP code and the description."""

    def __init__(self, response: requests.Response, hint: str = ""):
        self.response = response
        self.status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        error = (body.get("error") or {}) if isinstance(body, dict) else {}
        self.code = error.get("code")
        text = (error.get("description") or (body or {}).get("error_message")
                if isinstance(body, dict) else None) or response.reason or response.text[:200]
        label = f"HTTP {self.status}" + (f" {self.code}" if self.code else "")
        super().__init__(f"{label}: {text}{hint}")


@dataclass
class Settings:
    """Where and as whom to call: admin.conf, then the environment, then global flags."""

    server: str = "http://localhost:24817"
    ca: str | None = None
    username: str | None = None
    password: str | None = None
    #: ``(certificate, key)`` files stored by ``login``, used when no password is given.
    cert: tuple[str, str] | None = None
    #: Where client state lives (the resume points of interrupted uploads); None: nowhere.
    state_dir: str | None = None


class Client:
    """The pulp2ng REST API v2 as the configured user.

    ``verify`` is passed with every request: requests lets ``REQUESTS_CA_BUNDLE`` beat a
    session's ``verify``, and ``--ca`` must win.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.base = settings.server.rstrip("/")
        self.session = requests.Session()
        if settings.password is not None:
            self.auth, self.cert = (settings.username or "", settings.password), None
        else:
            self.auth, self.cert = None, settings.cert

    def url(self, path: str) -> str:
        if path.startswith("http"):
            return path
        return self.base + (path if path.startswith("/pulp/") else API + path)

    def request(self, method: str, path: str, *, ok: Iterable[int] = (200, 201, 202, 204),
                timeout: float = 60, **kwargs) -> requests.Response:
        url = self.url(path)
        try:
            response = self.session.request(method, url, auth=self.auth, cert=self.cert,
                                            verify=self.settings.ca or True, timeout=timeout,
                                            **kwargs)
        except requests.exceptions.SSLError as exc:
            raise AdminError(f"TLS failure talking to {self.base}: {_reason(exc)} "
                             f"(is --ca the server's CA?)") from None
        except requests.exceptions.ConnectionError as exc:
            raise AdminError(f"cannot connect to {self.base}: {_reason(exc)}") from None
        except requests.exceptions.Timeout:
            raise AdminError(f"{self.base} did not answer within {timeout:g}s") from None
        except requests.exceptions.RequestException as exc:
            raise AdminError(f"bad request to {url}: {exc}") from None
        if response.status_code not in ok:
            hint = ""
            if response.status_code == 401 and self.cert and not url.startswith("https:"):
                hint = " (the login certificate is only presented over HTTPS)"
            elif response.status_code == 401 and not (self.auth or self.cert):
                hint = " (give --username/--password or run 'pulp2ng-admin login')"
            raise ApiError(response, hint)
        return response

    def call(self, method: str, path: str, **kwargs) -> Any:
        """The parsed JSON body (None when empty)."""
        response = self.request(method, path, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise AdminError(f"{method} {path} answered {response.status_code} with a body "
                             f"that is not JSON (is {self.base} a pulp2ng server?)") from None

    def get(self, path: str, **kwargs) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs) -> Any:
        return self.call("POST", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs) -> Any:
        return self.call("PUT", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs) -> Any:
        return self.call("DELETE", path, **kwargs)


def _reason(exc: Exception) -> str:
    """The innermost cause of a requests error, without urllib3's object reprs."""
    text = str(exc.args[0] if exc.args else exc)
    for marker in ("Connection refused", "Name or service not known", "timed out",
                   "CERTIFICATE_VERIFY_FAILED", "No route to host"):
        if marker in text:
            return marker.lower().replace("_", " ")
    return text.rsplit(": ", 1)[-1].rstrip(")'\"")[:200]


class Admin:
    """What every command gets: settings, the client, ``--json`` and the consoles."""

    def __init__(self, settings: Settings, as_json: bool = False):
        self.settings = settings
        self.json = as_json
        self.console = Console(highlight=False)
        if not self.console.is_terminal and "COLUMNS" not in os.environ:
            self.console.width = 200  # piped: wide rows rather than wrapped ids
        self.stderr = Console(stderr=True, highlight=False)
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            settings = self.settings
            if (settings.username and settings.password is None and not settings.cert
                    and sys.stdin.isatty()):
                settings.password = click.prompt(f"Password for {settings.username}",
                                                 hide_input=True, err=True)
            self._client = Client(settings)
        return self._client

    def output(self, body: Any, human: Callable[[Any], None]) -> None:
        """The API's body unchanged under ``--json``, else ``human(body)``."""
        if self.json:
            print_json(body)
        else:
            human(body)

    def say(self, message: str) -> None:
        """A human message (suppressed under ``--json``, which prints only bodies)."""
        if not self.json:
            self.console.print(message, markup=False)


pass_admin = click.make_pass_decorator(Admin)


def print_json(body: Any) -> None:
    click.echo(json.dumps(body, indent=2, sort_keys=False))


def table(admin: Admin, columns: list[str], rows: Iterable[Iterable[Any]],
          title: str | None = None, empty: str = "Nothing to show.") -> None:
    rows = list(rows)
    if not rows:
        admin.console.print(empty, markup=False)
        return
    out = Table(title=title, title_justify="left")
    for column in columns:
        out.add_column(column, overflow="fold")  # fold, never cut, an id
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    admin.console.print(out)


def details(admin: Admin, pairs: Iterable[tuple[str, Any]], title: str | None = None) -> None:
    """A two-column key/value table (one object)."""
    out = Table(show_header=False, title=title, title_justify="left")
    out.add_column(style="bold")
    out.add_column(overflow="fold")
    for key, value in pairs:
        if isinstance(value, (dict, list)):
            value = json.dumps(value, sort_keys=True) if value else "-"
        out.add_row(key, "-" if value in (None, "") else str(value))
    admin.console.print(out)


def counts(content_unit_counts: dict | None) -> str:
    return ", ".join(f"{t}: {n}" for t, n in sorted((content_unit_counts or {}).items())) or "0"


# -- options shared by sections --------------------------------------------------------------


class _Bool(click.ParamType):
    name = "true|false"

    def convert(self, value, param, ctx):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "y", "1", "on"):
            return True
        if text in ("false", "no", "n", "0", "off"):
            return False
        self.fail(f"{value!r} is not true or false", param, ctx)


BOOL = _Bool()


def bool_option(*names: str, help: str):
    """``--x`` alone means true; ``--x false`` (pulp-admin's spelling) sets false."""
    return click.option(*names, type=BOOL, is_flag=False, flag_value="true", default=None,
                        help=help)


def _pem(path: str | None) -> str | None:
    """A PEM file's contents (pulp takes certificates as text); ``""`` unsets the key."""
    if path is None or path == "":
        return path
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise AdminError(f"cannot read {path}: {exc.strerror}") from None


#: (option names, importer config key, click type, help, transform)
_DOWNLOADER = [
    (("--feed",), "feed", str, "URL of the upstream repository", None),
    (("--validate",), "validate", BOOL, "verify each download's size and checksum", None),
    (("--max-downloads",), "max_downloads", click.IntRange(min=1),
     "number of concurrent downloads", None),
    (("--max-speed",), "max_speed", click.FloatRange(min=0, min_open=True),
     "bandwidth cap in bytes per second", None),
    (("--feed-ca-cert",), "ssl_ca_cert", click.Path(dir_okay=False),
     "file with the CA certificate (PEM) that signed the feed's", _pem),
    (("--verify-feed-ssl",), "ssl_validation", BOOL, "verify the feed's TLS certificate",
     None),
    (("--feed-cert",), "ssl_client_cert", click.Path(dir_okay=False),
     "file with the client certificate (PEM) presented to the feed", _pem),
    (("--feed-key",), "ssl_client_key", click.Path(dir_okay=False),
     "file with the client certificate's key (PEM)", _pem),
    (("--proxy-host",), "proxy_host", str, "proxy URL, scheme included", None),
    (("--proxy-port",), "proxy_port", click.IntRange(min=1), "proxy port", None),
    (("--proxy-user",), "proxy_username", str, "proxy user name", None),
    (("--proxy-pass",), "proxy_password", str, "proxy password", None),
    (("--basic-auth-username", "--basic-auth-user"), "basic_auth_username", str,
     "user name for HTTP basic auth to the feed", None),
    (("--basic-auth-password", "--basic-auth-pass"), "basic_auth_password", str,
     "password for HTTP basic auth to the feed", None),
]


def _param_name(names: tuple[str, ...]) -> str:
    return "dl_" + names[0].lstrip("-").replace("-", "_")


def downloader_options(func):
    """The standard importer (downloader) options; read them with :func:`importer_config`.

    An option given as an empty string unsets the key on ``repo update``.
    """
    for names, key, kind, help_text, _ in reversed(_DOWNLOADER):
        if kind is BOOL:
            func = click.option(*names, _param_name(names), type=BOOL, is_flag=False,
                                flag_value="true", default=None, help=help_text)(func)
        else:
            func = click.option(*names, _param_name(names), type=kind, default=None,
                                help=help_text)(func)
    return func


def importer_config(kwargs: dict) -> dict:
    """Pops the :func:`downloader_options` out of a command's kwargs into a config dict."""
    config = {}
    for names, key, _, _, transform in _DOWNLOADER:
        value = kwargs.pop(_param_name(names), None)
        if value is None:
            continue
        if transform:
            value = transform(value)
        config[key] = None if value == "" else value
    return config


def pop_config(kwargs: dict, keys: dict, lists: tuple = (), files: tuple = ()) -> dict:
    """Config keys from a command's own options: ``keys`` maps option to config key.

    Options not given are left out; ``''`` unsets (None). Options in ``lists`` are
    comma-separated lists, and in ``files`` paths whose (PEM or armoured) text is the value.
    """
    config = {}
    for option, key in keys.items():
        value = kwargs.pop(option, None)
        if value is None:
            continue
        if value == "":
            config[key] = None
        elif option in lists:
            config[key] = [v.strip() for v in value.split(",") if v.strip()]
        elif option in files:
            config[key] = _pem(value)
        else:
            config[key] = value
    return config


def criteria_options(func):
    """pulp-admin's search options; turn them into criteria with :func:`criteria`."""
    options = [
        click.option("--filters", help="a Mongo filter document, as JSON"),
        click.option("--str-eq", "str_eq", multiple=True, metavar="FIELD=VALUE",
                     help="match a field exactly (repeatable)"),
        click.option("--match", multiple=True, metavar="FIELD=REGEX",
                     help="match a field against a regular expression (repeatable)"),
        click.option("--sort", multiple=True, metavar="FIELD[,descending]",
                     help="sort by a field (repeatable)"),
        click.option("--fields", help="comma-separated fields to return"),
        click.option("--limit", type=click.IntRange(min=1), help="at most this many"),
        click.option("--skip", type=click.IntRange(min=0), help="skip this many"),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def criteria(kwargs: dict) -> dict:
    """Pops the :func:`criteria_options` out of kwargs: ``{filters, sort, fields, limit, skip}``."""
    filters: dict = {}
    raw = kwargs.pop("filters", None)
    if raw:
        try:
            filters = json.loads(raw)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--filters") from None
        if not isinstance(filters, dict):
            raise click.BadParameter("must be a JSON object", param_hint="--filters")
    for option, op in (("str_eq", None), ("match", "$regex")):
        for item in kwargs.pop(option, ()):
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise click.BadParameter(f"{item!r} is not FIELD=VALUE",
                                         param_hint=f"--{option.replace('_', '-')}")
            filters[name] = value if op is None else {op: value}
    out: dict = {"filters": filters}
    sort = []
    for item in kwargs.pop("sort", ()):
        name, _, direction = item.partition(",")
        if direction not in ("", "ascending", "descending"):
            raise click.BadParameter(f"{item!r}: the direction is ascending or descending",
                                     param_hint="--sort")
        sort.append([name, direction or "ascending"])
    if sort:
        out["sort"] = sort
    fields = kwargs.pop("fields", None)
    if fields:
        out["fields"] = [f.strip() for f in fields.split(",") if f.strip()]
    for key in ("limit", "skip"):
        value = kwargs.pop(key, None)
        if value is not None:
            out[key] = value
    return out


def bg_option(func):
    return click.option("--bg", is_flag=True,
                        help="do not follow the task: print its id and return")(func)


# -- following tasks ---------------------------------------------------------------------------


@dataclass
class Step:
    """One progress bar: ``completed`` of ``total`` (None: unknown) in ``unit``."""

    key: str
    description: str
    completed: float = 0
    total: float | None = None
    unit: str = "items"


def progress_steps(progress_report: dict | None) -> list[Step]:
    """Bars for a task's ``progress_report``, whatever the plugin's shape.

    Understands the flat ISO-style report (``num_*_finished``/``num_*``, ``finished_bytes``/
    ``total_bytes``), step lists (``num_processed``/``items_total``) and any report with only a
    ``state``; a section may pass its own function to :func:`follow_tasks` instead.
    """
    steps: list[Step] = []
    for report_id, report in (progress_report or {}).items():
        if isinstance(report, list):
            for i, step in enumerate(s for s in report if isinstance(s, dict)):
                steps.append(Step(f"{report_id}/{i}", step.get("description")
                                  or step.get("step_type") or report_id,
                                  step.get("num_processed") or 0, step.get("items_total")))
            continue
        if not isinstance(report, dict):
            continue
        found = False
        for key, value in report.items():
            if (key.startswith("num_") and key.endswith("_finished")
                    and isinstance(value, (int, float))):
                total_key = key[:-len("_finished")]
                noun = total_key[len("num_"):]
                steps.append(Step(f"{report_id}/{noun}", f"{report_id}: {noun}", value,
                                  report.get(total_key) or None, noun))
                found = True
        if isinstance(report.get("total_bytes"), (int, float)) and report.get("total_bytes"):
            steps.append(Step(f"{report_id}/bytes", f"{report_id}: bytes",
                              report.get("finished_bytes") or 0, report["total_bytes"],
                              "bytes"))
            found = True
        if not found and "state" in report:
            done = str(report["state"]).lower() in DONE_STATES
            steps.append(Step(f"{report_id}/state", f"{report_id}: {report['state']}",
                              1 if done else 0, 1 if done else None, "state"))
    return steps


def _human_size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def _amount(step: Step) -> str:
    if step.unit == "state":
        return ""
    fmt = _human_size if step.unit == "bytes" else (lambda v: f"{v:g}")
    total = "?" if step.total is None else fmt(step.total)
    return f"{fmt(step.completed)}/{total}" + ("" if step.unit == "bytes" else f" {step.unit}")


def tag_value(report: dict, prefix: str) -> str | None:
    for tag in report.get("tags") or []:
        if tag.startswith(prefix):
            return tag[len(prefix):]
    return None


def task_title(report: dict) -> str:
    """``sync of repository zoo`` from the task's tags."""
    action = (tag_value(report, "pulp:action:") or "task").replace("_", " ")
    repos = [t.split(":", 2)[2] for t in report.get("tags") or []
             if t.startswith("pulp:repository:")]
    if action == "associate" and len(repos) == 2:  # tagged source first, then destination
        return f"copy from repository {repos[0]} into repository {repos[1]}"
    for kind in ("repository", "repository_group", "consumer"):
        resource = tag_value(report, f"pulp:{kind}:")
        if resource:
            return f"{action} of {kind.replace('_', ' ')} {resource}"
    return action


def task_errors(report: dict) -> list[str]:
    """The error lines a failed (or partly failed) task reports, plainly."""
    lines = []
    error = report.get("error") or {}
    if error:
        lines.append(f"{error.get('code') or 'error'}: {error.get('description')}")
    for report_id, progress in (report.get("progress_report") or {}).items():
        items = progress if isinstance(progress, list) else [progress]
        for item in items:
            if not isinstance(item, dict):
                continue
            for key in ("iso_error_messages", "error_details"):
                for detail in item.get(key) or []:
                    if isinstance(detail, dict):
                        name = detail.get("name") or detail.get("url") or ""
                        message = detail.get("error") or detail.get("error_message") or detail
                        lines.append(f"{name}: {message}" if name else str(message))
                    else:
                        lines.append(str(detail))
            if not error and item.get("error_message"):
                lines.append(f"{report_id}: {item['error_message']}")
    return lines


def task_summary(report: dict) -> str:
    """One line: what the task did and how it ended, with unit counts for syncs."""
    line = f"{task_title(report).capitalize()}: {report.get('state')}"
    result = report.get("result")
    if isinstance(result, dict):
        parts = [f"{label} {result[key]}" for key, label in
                 (("added_count", "added"), ("removed_count", "removed"),
                  ("updated_count", "updated")) if isinstance(result.get(key), int)]
        if parts:
            line += " (" + ", ".join(parts) + ")"
        elif isinstance(result.get("units_successful"), list):  # copy and removal
            line += f" ({len(result['units_successful'])} units)"
        elif isinstance(result.get("result"), str):
            line += f" ({result['result']})"
        elif result and all(isinstance(v, int) for v in result.values()):
            line += " (" + ", ".join(f"{k}: {v}" for k, v in sorted(result.items())) + ")"
    return line


def follow_tasks(admin: Admin, call_report: dict, bg: bool = False,
                 steps: Callable[[dict | None], list[Step]] = progress_steps,
                 emit: bool = True) -> list[dict]:
    """Follow a call report's tasks, and the tasks they spawn, to their end.

    Human output: live progress bars (on a terminal) fed by each task's ``progress_report``,
    then one summary line per task and any errors. ``--json``: the final task reports, as the
    API returned them, in one array. ``bg``: print the call report (``--json``) or the task
    ids and return at once. Raises :class:`AdminError` (exit 1) when a task did not finish.
    ``emit=False`` leaves printing the ``--json`` array to a caller that follows several.
    """
    spawned = [t["task_id"] for t in (call_report or {}).get("spawned_tasks") or []]
    if bg:
        if admin.json:
            print_json(call_report)
        else:
            for task_id in spawned:
                admin.console.print(f"Task started in the background: {task_id}", markup=False)
        return []
    finals: list[dict] = []
    queue = list(spawned)
    while queue:
        task_id = queue.pop(0)
        report = _follow_one(admin, task_id, steps)
        finals.append(report)
        queue += [t["task_id"] for t in report.get("spawned_tasks") or []]
        if not admin.json:
            admin.console.print(task_summary(report), markup=False)
            for line in task_errors(report):
                admin.console.print(f"  {line}", markup=False)
    if admin.json and emit:
        print_json(finals)
    failed = [r for r in finals if r.get("state") not in ("finished", "skipped")]
    if failed:
        first = failed[0]
        reason = (task_errors(first) or [first.get("state")])[0]
        raise AdminError(f"task {first.get('task_id')} ({task_title(first)}) "
                         f"{first.get('state')}: {reason}")
    return finals


def _follow_one(admin: Admin, task_id: str, steps) -> dict:
    live = admin.console.is_terminal and not admin.json
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                        TextColumn("{task.fields[amount]}"), TimeRemainingColumn(),
                        console=admin.console, transient=False, disable=not live)
    bars: dict[str, int] = {}
    try:
        with progress:
            while True:
                report = admin.client.get(f"/tasks/{task_id}/")
                for step in steps(report.get("progress_report")):
                    if step.key not in bars:
                        bars[step.key] = progress.add_task(step.description, total=step.total,
                                                           amount="")
                    progress.update(bars[step.key], description=step.description,
                                    completed=step.completed, total=step.total,
                                    amount=_amount(step))
                if report.get("state") in TERMINAL:
                    return report
                time.sleep(POLL)
    except KeyboardInterrupt:
        if sys.stdin.isatty() and click.confirm(f"\nCancel task {task_id}?", default=False):
            admin.client.delete(f"/tasks/{task_id}/")
            raise AdminError(f"task {task_id} canceled", exit_code=130) from None
        raise AdminError(f"stopped following; task {task_id} goes on in the background",
                         exit_code=130) from None



# -- uploads ----------------------------------------------------------------------------------

#: Bytes per PUT of an upload request (pulp-admin's default was 1 MiB too).
CHUNK = 1 << 20


class _ResumePoints:
    """Where interrupted uploads stopped, in ``<state_dir>/uploads.json``.

    The server cannot say how much of an upload request it holds (Pulp 2's API has no such
    call), so the client remembers the upload id and the bytes acknowledged, keyed by the
    server and the file's path, size and mtime: a changed file starts over.
    """

    def __init__(self, admin: Admin):
        state_dir = admin.settings.state_dir
        self.path = Path(state_dir) / "uploads.json" if state_dir else None

    def key(self, admin: Admin, file: Path) -> str:
        st = file.stat()
        return f"{admin.client.base}|{file.resolve()}|{st.st_size}|{st.st_mtime_ns}"

    def _load(self) -> dict:
        if self.path is None or not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}  # a damaged state file only costs a fresh upload
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> dict | None:
        point = self._load().get(key)
        return point if isinstance(point, dict) else None

    def put(self, key: str, point: dict | None) -> None:
        if self.path is None:
            return
        data = self._load()
        if point is None:
            data.pop(key, None)
        else:
            data[key] = point
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self.path)


def upload_file(admin: Admin, file: Path, chunk_size: int = CHUNK) -> str:
    """Send ``file`` to a new upload request, or on to the one an interrupted run left.

    Shows a bar with bytes/s on a terminal and a summary line otherwise; returns the upload id.
    Ctrl-C keeps the resume point: the same command later goes on from there.
    """
    points = _ResumePoints(admin)
    key = points.key(admin, file)
    size = file.stat().st_size
    point = points.get(key)
    offset = 0
    if point and point.get("upload_id") in (admin.client.get("/content/uploads/") or {}).get(
            "upload_ids", []):
        upload_id, offset = point["upload_id"], min(int(point.get("offset") or 0), size)
        admin.say(f"Resuming the upload of {file.name} at byte {offset} of {size}.")
    else:
        upload_id = admin.client.post("/content/uploads/")["upload_id"]
        points.put(key, {"upload_id": upload_id, "offset": 0})
    live = admin.console.is_terminal and not admin.json
    progress = Progress(TextColumn(file.name), BarColumn(), DownloadColumn(),
                        TransferSpeedColumn(), TimeRemainingColumn(), console=admin.console,
                        disable=not live)
    started, sent = time.monotonic(), 0
    try:
        with progress, open(file, "rb") as fh:
            bar = progress.add_task(file.name, total=size, completed=offset)
            fh.seek(offset)
            while offset < size:  # an empty file needs no PUT: the request is empty already
                chunk = fh.read(chunk_size)
                if not chunk:
                    raise AdminError(f"{file} shrank while it was being uploaded")
                admin.client.put(f"/content/uploads/{upload_id}/{offset}/", data=chunk,
                                 timeout=300)
                offset += len(chunk)
                sent += len(chunk)
                points.put(key, {"upload_id": upload_id, "offset": offset})
                progress.update(bar, completed=offset)
    except KeyboardInterrupt:
        raise AdminError(f"upload of {file.name} interrupted at byte {offset} of {size}; run "
                         f"the same command again to resume", exit_code=130) from None
    elapsed = max(time.monotonic() - started, 1e-6)
    admin.say(f"Uploaded {file.name}: {_human_size(size)} in {elapsed:.1f} s "
              f"({_human_size(sent / elapsed)}/s).")
    return upload_id


def forget_upload(admin: Admin, file: Path, upload_id: str) -> None:
    """Delete the upload request and its resume point once the import has run."""
    try:
        admin.client.delete(f"/content/uploads/{upload_id}/")
    except ApiError as exc:
        if exc.status != 404:  # an expired request is already gone
            raise
    _ResumePoints(admin).put(_ResumePoints(admin).key(admin, file), None)



# -- a content type's section -----------------------------------------------------------------


#: Fields that name a unit, shown first for a type without a layout of its own.
_NAMING = ("id", "name", "version", "release", "arch", "title", "type", "filename", "digest")


def _generic_columns(units: list, most: int = 5) -> list[tuple[str, str]]:
    """Columns for a unit type a section has no layout for: its naming fields, then others."""
    keys: list[str] = []
    for unit in units[:20]:
        for key, value in (unit.get("metadata") or {}).items():
            if (key not in keys and not key.startswith("_")
                    and isinstance(value, (str, int, float))):
                keys.append(key)
    keys.sort(key=lambda k: _NAMING.index(k) if k in _NAMING else len(_NAMING))
    return [(key.replace("_", " ").capitalize(), key) for key in keys[:most]]


@dataclass
class TypeSection:
    """The pulp-admin shape of a content type's section, built into a ``click`` group.

    ``build()`` gives ``repo create|update|list``, ``sync run|schedules``, ``publish run`` and
    ``content search|copy|remove|upload``; a section adds its own commands to the group it
    returns.
    ``importer_options``/``distributor_options`` are click decorators whose parameters
    ``importer_extra``/``distributor_extra`` pop from the command's kwargs into config keys.
    """

    name: str
    help: str
    importer_type_id: str
    distributor_type_id: str
    distributor_id: str
    unit_type: str
    #: The ``_repo-type`` note pulp-admin put on the repositories it created (and lists).
    repo_type: str = ""
    #: (column header, unit field) for ``content search`` tables.
    unit_columns: tuple = ()
    importer_options: tuple = ()
    importer_extra: Callable[[dict], dict] = lambda kwargs: {}
    distributor_options: tuple = ()
    distributor_extra: Callable[[dict], dict] = lambda kwargs: {}
    #: Distributor config a new repository gets unless options say otherwise (keys its
    #: distributor requires, e.g. yum's http/https), from the repository id.
    distributor_defaults: Callable[[str], dict] = lambda repo_id: {}
    #: The types ``content copy|remove --type`` take (default: ``unit_type`` alone).
    unit_types: tuple = ()
    #: ``content upload`` options and ``upload_unit(file, kwargs) -> (type_id, unit_key,
    #: metadata)`` that pops them; None: ``unit_type`` with an empty unit key, the importer
    #: reading everything from the file.
    upload_options: tuple = ()
    upload_unit: Callable[[Path, dict], tuple[str, dict, dict]] | None = None
    #: What ``content upload`` takes, appended to its help (e.g. the archive formats).
    upload_help: str = ""

    def build(self) -> click.Group:
        section = click.Group(self.name, help=self.help)
        repo = click.Group("repo", help=f"Create, change and list {self.name} repositories.")
        sync = click.Group("sync", help=f"Synchronize {self.name} repositories.")
        publish = click.Group("publish", help=f"Publish {self.name} repositories.")
        content = click.Group("content", help=f"Search, copy, remove and upload the units "
                              f"of {self.name} repositories.")
        schedules = click.Group("schedules", help="Recurring syncs of a repository "
                                "(ISO 8601 intervals, e.g. 2024-01-01T00:00Z/P1D).")
        for group in (repo, sync, publish, content):
            section.add_command(group)
        repo.add_command(self._create())
        repo.add_command(self._update())
        repo.add_command(self._list())
        sync.add_command(self._sync())
        sync.add_command(schedules)
        for command in self._schedules():
            schedules.add_command(command)
        publish.add_command(self._publish())
        for command in (self._search(), self._copy(), self._remove(), self._upload()):
            content.add_command(command)
        return section

    def _decorate(self, func):
        for option in reversed(self.distributor_options):
            func = option(func)
        for option in reversed(self.importer_options):
            func = option(func)
        func = downloader_options(func)
        func = click.option("--note", "notes", multiple=True, metavar="KEY=VALUE",
                            help="a note on the repository (repeatable; empty VALUE unsets)"
                            )(func)
        func = click.option("--description", help="free text")(func)
        func = click.option("--display-name", help="a name to show (default: the id)")(func)
        func = click.option("--repo-id", required=True, help="the repository id")(func)
        return pass_admin(func)

    def _configs(self, kwargs: dict) -> tuple[dict, dict, dict]:
        notes = {}
        for item in kwargs.pop("notes", ()):
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--note")
            notes[key] = value or None
        importer = importer_config(kwargs)
        importer.update(self.importer_extra(kwargs))
        distributor = self.distributor_extra(kwargs)
        return notes, importer, distributor

    def _create(self):
        def create(admin: Admin, repo_id, display_name, description, **kwargs):
            notes, importer, distributor = self._configs(kwargs)
            body = {"id": repo_id, "notes": {"_repo-type": self.repo_type, **notes},
                    "importer_type_id": self.importer_type_id,
                    "importer_config": {k: v for k, v in importer.items() if v is not None},
                    "distributors": [{
                        "distributor_type_id": self.distributor_type_id,
                        "distributor_id": self.distributor_id, "auto_publish": True,
                        "distributor_config": {
                            k: v for k, v in {**self.distributor_defaults(repo_id),
                                              **distributor}.items() if v is not None}}]}
            if display_name is not None:
                body["display_name"] = display_name
            if description is not None:
                body["description"] = description
            created = admin.client.post("/repositories/", json=body)
            admin.output(created, lambda r: admin.say(f"Repository [{r.get('id')}] created."))

        return click.command("create", help=f"Create a new {self.name} repository "
                             f"(published automatically after each sync).")(
            self._decorate(create))

    def _update(self):
        def update(admin: Admin, repo_id, display_name, description, bg, **kwargs):
            notes, importer, distributor = self._configs(kwargs)
            delta = {k: v for k, v in (("display_name", display_name),
                                       ("description", description)) if v is not None}
            if notes:
                delta["notes"] = notes
            body: dict = {"delta": delta}
            if importer:
                body["importer_config"] = importer
            if distributor:
                body["distributor_configs"] = {self.distributor_id: distributor}
            report = admin.client.put(f"/repositories/{repo_id}/", json=body)
            if report.get("spawned_tasks"):
                follow_tasks(admin, report, bg)
            elif admin.json:
                print_json(report)
            if not (admin.json or bg):
                admin.say(f"Repository [{repo_id}] updated.")

        return click.command("update", help=f"Change an existing {self.name} repository; "
                             f"an empty value ('') unsets an option.")(
            bg_option(self._decorate(update)))

    def _list(self):
        def show(admin: Admin, repos: list, with_details: bool):
            rows = []
            for r in repos:
                importer = next(iter(r.get("importers") or []), {})
                dist = next((d for d in r.get("distributors") or []
                             if d.get("id") == self.distributor_id), {})
                config = dist.get("config") or {}
                row = [r.get("id"), r.get("display_name"), (importer.get("config") or {}).get(
                    "feed"), counts(r.get("content_unit_counts")), importer.get("last_sync"),
                    config.get("relative_url") or (r.get("id") if dist else None)]
                if with_details:
                    row += [json.dumps(importer.get("config") or {}, sort_keys=True),
                            json.dumps(config, sort_keys=True)]
                rows.append(row)
            columns = ["Id", "Display name", "Feed", "Content", "Last sync", "Relative URL"]
            if with_details:
                columns += ["Importer config", "Distributor config"]
            table(admin, columns, rows, empty=f"No {self.name} repositories.")

        @click.command("list", help=f"The {self.name} repositories (those created as "
                       f"{self.name} repositories, note _repo-type={self.repo_type}).")
        @click.option("--details", is_flag=True, help="show the importer and distributor "
                      "configurations (secrets masked)")
        @pass_admin
        def list_(admin: Admin, details):
            body = admin.client.post("/repositories/search/", json={
                "criteria": {"filters": {"notes._repo-type": self.repo_type},
                             "sort": [["id", "ascending"]]},
                "importers": True, "distributors": True})
            admin.output(body, lambda b: show(admin, b, details))

        return list_

    def _sync(self):
        @click.command("run", help=f"Synchronize an existing {self.name} repository with "
                       f"its feed, following the task (and the publish it triggers) live.")
        @click.option("--repo-id", required=True, help="the repository")
        @bg_option
        @pass_admin
        def run(admin: Admin, repo_id, bg):
            report = admin.client.post(f"/repositories/{repo_id}/actions/sync/", json={})
            follow_tasks(admin, report, bg)

        return run

    def _publish(self):
        @click.command("run", help=f"Publish an existing {self.name} repository.")
        @click.option("--repo-id", required=True, help="the repository")
        @bg_option
        @pass_admin
        def run(admin: Admin, repo_id, bg):
            report = admin.client.post(f"/repositories/{repo_id}/actions/publish/",
                                       json={"id": self.distributor_id})
            follow_tasks(admin, report, bg)

        return run

    def _search(self):
        @click.command("search", help=f"The {self.name} units of one type in a repository; "
                       f"the criteria apply to the units' fields.")
        @click.option("--repo-id", required=True, help="the repository")
        @self._type_option()
        @criteria_options
        @pass_admin
        def search(admin: Admin, repo_id, type_id, **kwargs):
            crit = criteria(kwargs)
            body_criteria: dict = {"type_ids": [type_id],
                                   "filters": {"unit": crit.pop("filters")}}
            if "sort" in crit:
                body_criteria["sort"] = {"unit": crit.pop("sort")}
            if "fields" in crit:
                body_criteria["fields"] = {"unit": crit.pop("fields")}
            body_criteria.update(crit)
            body = admin.client.post(f"/repositories/{repo_id}/search/units/",
                                     json={"criteria": body_criteria})
            columns = self.unit_columns if type_id == self.unit_type else _generic_columns(body)
            admin.output(body, lambda b: table(
                admin, [h for h, _ in columns],
                ([(a.get("metadata") or {}).get(key) for _, key in columns] for a in b),
                empty=f"No {type_id} units."))

        return search

    def _schedules(self):
        def path(repo_id):
            return f"/repositories/{repo_id}/importers/{self.importer_type_id}/schedules/sync/"

        @click.command("create", help="Schedule recurring syncs of a repository.")
        @click.option("--repo-id", required=True, help="the repository")
        @click.option("--schedule", "-s", required=True, metavar="ISO8601",
                      help="[start/]interval[/recurrences], e.g. 2024-01-01T00:00Z/P1D")
        @click.option("--failure-threshold", type=click.IntRange(min=1),
                      help="disable the schedule after this many failures in a row")
        @click.option("--disabled", is_flag=True, help="create it disabled")
        @pass_admin
        def create(admin: Admin, repo_id, schedule, failure_threshold, disabled):
            body = {"schedule": schedule, "enabled": not disabled}
            if failure_threshold is not None:
                body["failure_threshold"] = failure_threshold
            made = admin.client.post(path(repo_id), json=body)
            admin.output(made, lambda b: admin.say(
                f"Schedule {b.get('_id')} created; next run {b.get('next_run')}."))

        @click.command("list", help="A repository's sync schedules.")
        @click.option("--repo-id", required=True, help="the repository")
        @pass_admin
        def list_(admin: Admin, repo_id):
            admin.output(admin.client.get(path(repo_id)), lambda b: table(
                admin, ["Id", "Schedule", "Enabled", "Next run", "Failures", "Last run"],
                ([d.get("_id"), d.get("schedule"), d.get("enabled"), d.get("next_run"),
                  d.get("consecutive_failures"), d.get("last_run_at")] for d in b),
                empty=f"No sync schedules for {repo_id}."))

        @click.command("delete", help="Delete a sync schedule.")
        @click.option("--repo-id", required=True, help="the repository")
        @click.option("--schedule-id", required=True, help="the schedule (see 'list')")
        @pass_admin
        def delete(admin: Admin, repo_id, schedule_id):
            admin.client.delete(path(repo_id) + f"{schedule_id}/")
            admin.say(f"Schedule {schedule_id} deleted.")

        return create, list_, delete

    def _type_option(self):
        types = self.unit_types or (self.unit_type,)
        return click.option("--type", "type_id", type=click.Choice(types),
                            default=self.unit_type, show_default=True,
                            help="the unit type the criteria select")

    def _unit_criteria(self, type_id: str, kwargs: dict) -> dict:
        crit = criteria(kwargs)
        out: dict = {"type_ids": [type_id]}
        if crit.get("filters"):
            out["filters"] = {"unit": crit["filters"]}
        return out

    def _copy(self):
        @click.command("copy", help=f"Copy {self.name} units matching the criteria (all of "
                       f"the type without any) from one repository into another.")
        @click.option("--from-repo-id", required=True, help="the source repository")
        @click.option("--to-repo-id", required=True, help="the destination repository")
        @self._type_option()
        @criteria_options
        @bg_option
        @pass_admin
        def copy(admin: Admin, from_repo_id, to_repo_id, type_id, bg, **kwargs):
            body = {"source_repo_id": from_repo_id,
                    "criteria": self._unit_criteria(type_id, kwargs)}
            report = admin.client.post(f"/repositories/{to_repo_id}/actions/associate/",
                                       json=body)
            follow_tasks(admin, report, bg)

        return copy

    def _remove(self):
        @click.command("remove", help=f"Remove {self.name} units matching the criteria from a "
                       f"repository (the units stay stored until orphans are removed).")
        @click.option("--repo-id", required=True, help="the repository")
        @self._type_option()
        @criteria_options
        @click.option("--all", "all_", is_flag=True,
                      help="remove every unit of the type (no criteria needed)")
        @bg_option
        @pass_admin
        def remove(admin: Admin, repo_id, type_id, all_, bg, **kwargs):
            body = {"criteria": self._unit_criteria(type_id, kwargs)}
            if "filters" not in body["criteria"] and not all_:
                raise click.UsageError("give criteria (--str-eq, --match, --filters) or --all")
            report = admin.client.post(f"/repositories/{repo_id}/actions/unassociate/",
                                       json=body)
            follow_tasks(admin, report, bg)

        return remove

    def _upload(self):
        def upload(admin: Admin, repo_id, files, chunk_size, **kwargs):
            finals: list = []
            for name in files:
                file = Path(name)
                if self.upload_unit is None:
                    type_id, unit_key, metadata = self.unit_type, {}, {}
                else:
                    type_id, unit_key, metadata = self.upload_unit(file, dict(kwargs))
                upload_id = upload_file(admin, file, chunk_size)
                report = admin.client.post(f"/repositories/{repo_id}/actions/import_upload/",
                                           json={"upload_id": upload_id,
                                                 "unit_type_id": type_id,
                                                 "unit_key": unit_key,
                                                 "unit_metadata": metadata})
                try:
                    finals += follow_tasks(admin, report, emit=False)
                except AdminError as exc:
                    if exc.exit_code != 130:  # a task still running needs its upload
                        forget_upload(admin, file, upload_id)
                    raise
                forget_upload(admin, file, upload_id)
            if admin.json:
                print_json(finals)

        for option in reversed(self.upload_options):
            upload = option(upload)
        upload = click.option("--chunk-size", type=click.IntRange(min=1), default=CHUNK,
                              show_default=True, help="bytes per request")(upload)
        upload = click.option("--file", "-f", "files", multiple=True, required=True,
                              type=click.Path(exists=True, dir_okay=False),
                              help="a file to upload (repeatable)")(upload)
        upload = click.option("--repo-id", required=True, help="the repository")(upload)
        text = (f"Upload files into a {self.name} repository: chunked, resumable after an "
                "interruption (run the same command again), showing bytes/s.")
        if self.upload_help:
            text += " " + self.upload_help
        return click.command("upload", help=text)(pass_admin(upload))
