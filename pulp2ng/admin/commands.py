"""The platform commands of ``pulp2ng-admin``, named as in pulp-admin.

``login``/``logout``, ``server status``, ``repo list|search|delete``,
``tasks list|details|cancel|purge`` and ``orphan list|remove``; :mod:`.sections` adds
``auth``, ``event``, ``repo group`` and ``consumer``, and the content types add their own
sections (entry-point group ``pulp2ng.admin``).
"""

from __future__ import annotations

import datetime

import click

from pulp2ng.admin import sections, settings
from pulp2ng.plugin.admin import (
    Admin,
    AdminError,
    bg_option,
    counts,
    criteria,
    criteria_options,
    details,
    follow_tasks,
    pass_admin,
    table,
    tag_value,
    task_errors,
)

PURGEABLE = ("finished", "error", "skipped")
STATES = ("waiting", "accepted", "running", "suspended", "finished", "error", "canceled",
          "skipped")


def register(cli: click.Group) -> None:
    for command in (login, logout, server, repo, tasks, orphan):
        cli.add_command(command)
    sections.register(cli, repo)


# -- login ------------------------------------------------------------------------------------


@click.command()
@pass_admin
def login(admin: Admin):
    """Get a login certificate (stored 0600) that later calls present over HTTPS."""
    s = admin.settings
    if not s.username:
        raise AdminError("login needs --username (and --password, or a terminal to ask it)")
    s.cert = None  # log in with the password even while an older certificate is stored
    body = admin.client.post("/actions/login/")
    if not isinstance(body, dict) or not {"certificate", "key"} <= set(body):
        raise AdminError("the server's login answer holds no certificate")
    cert_path, key_path = settings.store_login(body["certificate"], body["key"])
    expires = _expiry(body["certificate"])
    if admin.json:  # never the private key on stdout
        click.echo(f'{{"certificate": "{cert_path}", "key": "{key_path}"}}')
        return
    admin.say(f"Logged in as {s.username}; certificate stored in {cert_path}"
              + (f", valid until {expires}" if expires else "") + ".")
    if not s.server.startswith("https://"):
        admin.say("Note: the certificate is presented over HTTPS only; set an https:// server.")


def _expiry(pem: str) -> str | None:
    try:
        from cryptography import x509

        when = x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc
    except Exception:  # only a courtesy line; the server's word is what matters
        return None
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@click.command()
@pass_admin
def logout(admin: Admin):
    """Delete the stored login certificate."""
    removed = settings.remove_login()
    admin.say("Logged out." if removed else "Not logged in (no stored certificate).")


# -- server -----------------------------------------------------------------------------------


@click.group()
def server():
    """The server's status."""


@server.command()
@pass_admin
def status(admin: Admin):
    """API version, database and messaging connections, and the known workers."""
    def show(body):
        details(admin, [
            ("API version", body.get("api_version")),
            ("Platform version", (body.get("versions") or {}).get("platform_version")),
            ("Database connected", (body.get("database_connection") or {}).get("connected")),
            ("Messaging connected",
             (body.get("messaging_connection") or {}).get("connected")),
        ], title="Server status")
        table(admin, ["Worker", "Last heartbeat"],
              ([w.get("name"), w.get("last_heartbeat")] for w in body.get("known_workers") or []),
              empty="No workers are running.")

    admin.output(admin.client.get("/status/"), show)


# -- repo -------------------------------------------------------------------------------------


@click.group()
def repo():
    """Repositories of every type (create and update them in their type's section)."""


def repo_table(admin: Admin, repos: list, with_details: bool) -> None:
    columns = ["Id", "Display name", "Description", "Content"]
    if with_details:
        columns += ["Importer", "Distributors"]
    rows = []
    for r in repos:
        row = [r.get("id"), r.get("display_name"), r.get("description"),
               counts(r.get("content_unit_counts"))]
        if with_details:
            row += [", ".join(i.get("importer_type_id", "") for i in r.get("importers") or []),
                    ", ".join(d.get("id", "") for d in r.get("distributors") or [])]
        rows.append(row)
    table(admin, columns, rows, empty="No repositories.")


@repo.command("list")
@click.option("--details", is_flag=True, help="include importers and distributors")
@pass_admin
def repo_list(admin: Admin, details):
    """All repositories."""
    body = admin.client.get("/repositories/", params={"details": "true"} if details else None)
    admin.output(body, lambda b: repo_table(admin, b, details))


@repo.command("search")
@criteria_options
@click.option("--details", is_flag=True, help="include importers and distributors")
@pass_admin
def repo_search(admin: Admin, details, **kwargs):
    """Repositories matching criteria (e.g. --match id=^zoo)."""
    body = admin.client.post("/repositories/search/",
                             json={"criteria": criteria(kwargs), "details": details})
    admin.output(body, lambda b: repo_table(admin, b, details))


@repo.command("delete")
@click.option("--repo-id", required=True, help="the repository")
@bg_option
@pass_admin
def repo_delete(admin: Admin, repo_id, bg):
    """Delete a repository (its units stay, as orphans once in no repository)."""
    report = admin.client.delete(f"/repositories/{repo_id}/")
    follow_tasks(admin, report, bg)
    if not bg:
        admin.say(f"Repository [{repo_id}] deleted.")


# -- tasks ------------------------------------------------------------------------------------


@click.group()
def tasks():
    """Tasks: list, inspect, cancel and purge."""


def _task_rows(reports: list):
    for t in reports:
        yield [t.get("task_id"), tag_value(t, "pulp:action:") or t.get("task_type"),
               ", ".join(x.split(":", 1)[1] for x in t.get("tags") or []
                         if x.startswith("pulp:") and not x.startswith("pulp:action:")),
               t.get("state"), t.get("start_time"), t.get("finish_time")]


@tasks.command("list")
@click.option("--state", "states", multiple=True, type=click.Choice(STATES),
              help="only tasks in this state (repeatable)")
@click.option("--repo-id", help="only tasks on this repository")
@click.option("--limit", type=click.IntRange(min=1), help="at most this many, newest first")
@pass_admin
def tasks_list(admin: Admin, states, repo_id, limit):
    """Tasks, all of them unless filtered."""
    if states or limit:
        filters = {"state": {"$in": list(states)}} if states else {}
        if repo_id:
            filters["tags"] = f"pulp:repository:{repo_id}"
        crit = {"filters": filters, "sort": [["_id", "descending"]]}
        if limit:
            crit["limit"] = limit
        body = admin.client.post("/tasks/search/", json={"criteria": crit})
    else:
        body = admin.client.get(
            "/tasks/", params={"tag": f"pulp:repository:{repo_id}"} if repo_id else None)
    admin.output(body, lambda b: table(
        admin, ["Task id", "Action", "Resources", "State", "Started", "Finished"],
        _task_rows(b), empty="No tasks."))


@tasks.command("details")
@click.option("--task-id", required=True, help="the task")
@pass_admin
def tasks_details(admin: Admin, task_id):
    """One task: state, resources, worker, result and errors."""
    def show(t):
        details(admin, [
            ("Task id", t.get("task_id")),
            ("Action", tag_value(t, "pulp:action:") or t.get("task_type")),
            ("Tags", ", ".join(t.get("tags") or [])),
            ("State", t.get("state")),
            ("Worker", t.get("worker_name")),
            ("Started", t.get("start_time")),
            ("Finished", t.get("finish_time")),
            ("Result", t.get("result")),
            ("Spawned tasks", ", ".join(s.get("task_id", "") for s in t.get("spawned_tasks")
                                        or [])),
            ("Progress", t.get("progress_report")),
            ("Errors", "\n".join(task_errors(t))),
        ], title="Task")

    admin.output(admin.client.get(f"/tasks/{task_id}/"), show)


@tasks.command("cancel")
@click.option("--task-id", required=True, help="the task")
@pass_admin
def tasks_cancel(admin: Admin, task_id):
    """Cancel a task (nothing happens to a task already complete)."""
    body = admin.client.delete(f"/tasks/{task_id}/")
    admin.output(body, lambda _: admin.say(f"Cancel of task {task_id} requested."))


@tasks.command("purge")
@click.option("--state", "states", multiple=True, type=click.Choice(PURGEABLE),
              help="purge completed tasks in this state (repeatable)")
@click.option("--all", "all_", is_flag=True, help="purge finished, error and skipped tasks")
@pass_admin
def tasks_purge(admin: Admin, states, all_):
    """Delete the records of completed tasks."""
    if all_:
        states = PURGEABLE
    if not states:
        raise click.UsageError("give --state (repeatable) or --all")
    admin.client.delete("/tasks/", params={"state": list(states)})
    admin.say(f"Purged completed tasks in state {', '.join(states)}.")


# -- orphans ----------------------------------------------------------------------------------


@click.group()
def orphan():
    """Content units in no repository."""


@orphan.command("list")
@click.option("--type", "type_id", help="list the orphan units of this type")
@pass_admin
def orphan_list(admin: Admin, type_id):
    """Orphan counts per type, or the orphans of one type."""
    if type_id:
        body = admin.client.get(f"/content/orphans/{type_id}/")
        admin.output(body, lambda b: table(
            admin, ["Unit id", "Unit key"],
            ([u.get("_id"), ", ".join(f"{k}={v}" for k, v in u.items()
                                      if not k.startswith("_"))] for u in b),
            empty=f"No orphan {type_id} units."))
        return
    body = admin.client.get("/content/orphans/")
    admin.output(body, lambda b: table(
        admin, ["Type", "Orphans"], ([t, (v or {}).get("count")] for t, v in sorted(b.items())),
        empty="No content types."))


@orphan.command("remove")
@click.option("--all", "all_", is_flag=True, help="remove every orphan")
@click.option("--type", "type_id", help="remove the orphans of this type")
@click.option("--unit-id", help="remove this one orphan (with --type)")
@bg_option
@pass_admin
def orphan_remove(admin: Admin, all_, type_id, unit_id, bg):
    """Delete orphan units and their files."""
    if all_ == bool(type_id):
        raise click.UsageError("give either --all or --type")
    if unit_id and not type_id:
        raise click.UsageError("--unit-id needs --type")
    path = "/content/orphans/" + (f"{type_id}/" if type_id else "") + \
        (f"{unit_id}/" if unit_id else "")
    follow_tasks(admin, admin.client.delete(path), bg)
