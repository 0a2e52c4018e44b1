"""The platform sections of ``pulp2ng-admin`` beyond repositories and tasks, as in pulp-admin:
``auth user|role|permission``, ``event listener``, ``repo group`` and ``consumer``.

Each command is one API call (bindings that need the consumer's agent return its task ids
rather than wait for a host that may be offline), printed as a table or, with ``--json``, as
the API's body unchanged.
"""

from __future__ import annotations

import click

from pulp2ng.plugin.admin import (
    Admin,
    criteria,
    criteria_options,
    follow_tasks,
    pass_admin,
    print_json,
    table,
)

OPERATIONS = ("CREATE", "READ", "UPDATE", "DELETE", "EXECUTE")
EVENT_TYPES = ("repo.sync.start", "repo.sync.finish", "repo.publish.start",
               "repo.publish.finish", "task.finish", "task.error", "*")


def register(cli: click.Group, repo: click.Group) -> None:
    cli.add_command(auth)
    cli.add_command(event)
    cli.add_command(consumer)
    repo.add_command(group)


def _done(admin: Admin, body, message: str) -> None:
    """``--json``: the body (``null`` for deletes); otherwise one line."""
    admin.output(body, lambda _: admin.say(message))


# -- auth -------------------------------------------------------------------------------------


@click.group()
def auth():
    """Users, roles and permissions."""


@auth.group()
def user():
    """Users who may log in."""


def _user_table(admin: Admin, users: list) -> None:
    table(admin, ["Login", "Name", "Roles"],
          ([u.get("login"), u.get("name"), ", ".join(u.get("roles") or [])] for u in users),
          empty="No users.")


@user.command("create")
@click.option("--login", required=True, help="the user's login")
@click.option("--password", help="the password (prompted for on a terminal when not given)")
@click.option("--name", help="a name to show (default: the login)")
@pass_admin
def user_create(admin: Admin, login, password, name):
    """Create a user."""
    if password is None and click.get_text_stream("stdin").isatty():
        password = click.prompt(f"Password for {login}", hide_input=True,
                                confirmation_prompt=True, err=True)
    body = {"login": login, "password": password}
    if name is not None:
        body["name"] = name
    made = admin.client.post("/users/", json=body)
    _done(admin, made, f"User [{login}] created.")


@user.command("list")
@pass_admin
def user_list(admin: Admin):
    """Every user (never a password)."""
    admin.output(admin.client.get("/users/"), lambda b: _user_table(admin, b))


@user.command("update")
@click.option("--login", required=True, help="the user")
@click.option("--password", help="a new password (revokes the user's login certificates)")
@click.option("--name", help="a new name to show")
@pass_admin
def user_update(admin: Admin, login, password, name):
    """Change a user's password or name."""
    delta = {k: v for k, v in (("password", password), ("name", name)) if v is not None}
    if not delta:
        raise click.UsageError("give --password or --name")
    changed = admin.client.put(f"/users/{login}/", json={"delta": delta})
    _done(admin, changed, f"User [{login}] updated.")


@user.command("delete")
@click.option("--login", required=True, help="the user")
@pass_admin
def user_delete(admin: Admin, login):
    """Delete a user and its permissions."""
    _done(admin, admin.client.delete(f"/users/{login}/"), f"User [{login}] deleted.")


@auth.group()
def role():
    """Roles: permissions shared by their users."""


@role.command("create")
@click.option("--role-id", required=True, help="the role's id")
@click.option("--display-name", help="a name to show")
@click.option("--description", help="free text")
@pass_admin
def role_create(admin: Admin, role_id, display_name, description):
    """Create a role."""
    body = {"role_id": role_id}
    body.update({k: v for k, v in (("display_name", display_name),
                                   ("description", description)) if v is not None})
    _done(admin, admin.client.post("/roles/", json=body), f"Role [{role_id}] created.")


@role.command("list")
@pass_admin
def role_list(admin: Admin):
    """Every role with its users and permissions."""
    admin.output(admin.client.get("/roles/"), lambda b: table(
        admin, ["Id", "Display name", "Users", "Permissions"],
        ([r.get("id"), r.get("display_name"), ", ".join(r.get("users") or []),
          "; ".join(f"{res}: {','.join(ops)}" for res, ops in
                    sorted((r.get("permissions") or {}).items()))] for r in b),
        empty="No roles."))


@role.command("delete")
@click.option("--role-id", required=True, help="the role")
@pass_admin
def role_delete(admin: Admin, role_id):
    """Delete a role (its users lose its permissions)."""
    _done(admin, admin.client.delete(f"/roles/{role_id}/"), f"Role [{role_id}] deleted.")


@role.group("user")
def role_user():
    """A role's users."""


@role_user.command("add")
@click.option("--role-id", required=True, help="the role")
@click.option("--login", required=True, help="the user")
@pass_admin
def role_user_add(admin: Admin, role_id, login):
    """Add a user to a role."""
    body = admin.client.post(f"/roles/{role_id}/users/", json={"login": login})
    _done(admin, body, f"User [{login}] added to role [{role_id}].")


@role_user.command("remove")
@click.option("--role-id", required=True, help="the role")
@click.option("--login", required=True, help="the user")
@pass_admin
def role_user_remove(admin: Admin, role_id, login):
    """Remove a user from a role."""
    body = admin.client.delete(f"/roles/{role_id}/users/{login}/")
    _done(admin, body, f"User [{login}] removed from role [{role_id}].")


@auth.group()
def permission():
    """Operations granted on resource paths (to a user or a role)."""


def _grant_options(func):
    for option in reversed([
        click.option("--resource", required=True, metavar="PATH",
                     help="an API path, e.g. /v2/repositories/zoo/ (covers what is under it)"),
        click.option("--operation", "-o", "operations", multiple=True, required=True,
                     type=click.Choice(OPERATIONS, case_sensitive=False),
                     help="an operation (repeatable)"),
        click.option("--login", help="the user"),
        click.option("--role-id", help="the role"),
    ]):
        func = option(func)
    return pass_admin(func)


def _grant(admin: Admin, verb: str, resource, operations, login, role_id) -> None:
    if bool(login) == bool(role_id):
        raise click.UsageError("give either --login or --role-id")
    who = {"login": login} if login else {"role_id": role_id}
    action = (f"{verb}_to_user" if verb == "grant" else f"{verb}_from_user") if login else \
        (f"{verb}_to_role" if verb == "grant" else f"{verb}_from_role")
    ops = sorted({o.upper() for o in operations})
    body = admin.client.post(f"/permissions/actions/{action}/",
                             json={**who, "resource": resource, "operations": ops})
    whom = f"user [{login}]" if login else f"role [{role_id}]"
    done = "granted to" if verb == "grant" else "revoked from"
    _done(admin, body, f"{', '.join(ops)} on {resource} {done} {whom}.")


@permission.command("grant")
@_grant_options
def permission_grant(admin: Admin, resource, operations, login, role_id):
    """Grant operations on a resource to a user or a role."""
    _grant(admin, "grant", resource, operations, login, role_id)


@permission.command("revoke")
@_grant_options
def permission_revoke(admin: Admin, resource, operations, login, role_id):
    """Revoke operations on a resource from a user or a role."""
    _grant(admin, "revoke", resource, operations, login, role_id)


@permission.command("list")
@click.option("--resource", metavar="PATH", help="only this resource's grants")
@pass_admin
def permission_list(admin: Admin, resource):
    """Users' grants per resource (roles show theirs in 'auth role list')."""
    body = admin.client.get("/permissions/", params={"resource": resource} if resource else None)
    admin.output(body, lambda b: table(
        admin, ["Resource", "User", "Operations"],
        ([p.get("resource"), login, ", ".join(ops)] for p in b
         for login, ops in sorted((p.get("users") or {}).items())),
        empty="No permissions."))


# -- event listeners -------------------------------------------------------------------------


@click.group()
def event():
    """Event listeners: notifications of syncs, publishes and tasks."""


@event.group()
def listener():
    """Listeners of every notifier type (create HTTP ones with 'http create')."""


def _listener_table(admin: Admin, listeners: list) -> None:
    def last(d):
        return f"{d.get('status')} ({d.get('event_type')}, {d.get('time')})" if d else None

    table(admin, ["Id", "Notifier", "URL", "Event types", "Last delivery"],
          ([x.get("id"), x.get("notifier_type_id"), (x.get("notifier_config") or {}).get("url"),
            ", ".join(x.get("event_types") or []), last(x.get("last_delivery"))]
           for x in listeners), empty="No event listeners.")


@listener.command("list")
@pass_admin
def listener_list(admin: Admin):
    """Every listener (passwords masked)."""
    admin.output(admin.client.get("/events/"), lambda b: _listener_table(admin, b))


@listener.command("delete")
@click.option("--listener-id", required=True, help="the listener")
@pass_admin
def listener_delete(admin: Admin, listener_id):
    """Delete a listener."""
    body = admin.client.delete(f"/events/{listener_id}/")
    _done(admin, body, f"Event listener [{listener_id}] deleted.")


@listener.group("http")
def listener_http():
    """Listeners that POST each event as JSON to a URL."""


def _event_types():
    return click.option("--event-type", "event_types", multiple=True,
                        type=click.Choice(EVENT_TYPES),
                        help="an event to send ('*': all; repeatable)")


@listener_http.command("create")
@click.option("--url", required=True, help="where events are POSTed")
@click.option("--username", help="user for HTTP basic auth to the URL")
@click.option("--password", help="password for HTTP basic auth to the URL")
@_event_types()
@pass_admin
def http_create(admin: Admin, url, username, password, event_types):
    """Create an HTTP listener."""
    if not event_types:
        raise click.UsageError("give at least one --event-type")
    config = {k: v for k, v in (("url", url), ("username", username),
                                ("password", password)) if v is not None}
    made = admin.client.post("/events/", json={"notifier_type_id": "http",
                                               "notifier_config": config,
                                               "event_types": list(event_types)})
    _done(admin, made, f"Event listener [{made.get('id')}] created.")


@listener_http.command("update")
@click.option("--listener-id", required=True, help="the listener")
@click.option("--url", help="a new URL")
@click.option("--username", help="a new user name ('' removes it)")
@click.option("--password", help="a new password ('' removes it)")
@_event_types()
@pass_admin
def http_update(admin: Admin, listener_id, url, username, password, event_types):
    """Change an HTTP listener; options not given stay as they are."""
    config = {k: (v or None) for k, v in (("url", url), ("username", username),
                                          ("password", password)) if v is not None}
    body: dict = {}
    if config:
        body["notifier_config"] = config
    if event_types:
        body["event_types"] = list(event_types)
    if not body:
        raise click.UsageError("nothing to change")
    changed = admin.client.put(f"/events/{listener_id}/", json=body)
    _done(admin, changed, f"Event listener [{listener_id}] updated.")


# -- repository groups ------------------------------------------------------------------------


@click.group("group")
def group():
    """Repository groups."""


@group.command("create")
@click.option("--group-id", required=True, help="the group's id")
@click.option("--display-name", help="a name to show")
@click.option("--description", help="free text")
@click.option("--repo-id", "repo_ids", multiple=True, help="a member (repeatable)")
@pass_admin
def group_create(admin: Admin, group_id, display_name, description, repo_ids):
    """Create a repository group."""
    body = {"id": group_id, "repo_ids": list(repo_ids)}
    body.update({k: v for k, v in (("display_name", display_name),
                                   ("description", description)) if v is not None})
    _done(admin, admin.client.post("/repo_groups/", json=body),
          f"Repository group [{group_id}] created.")


@group.command("list")
@pass_admin
def group_list(admin: Admin):
    """Every repository group with its members."""
    admin.output(admin.client.get("/repo_groups/"), lambda b: table(
        admin, ["Id", "Display name", "Description", "Repositories"],
        ([g.get("id"), g.get("display_name"), g.get("description"),
          ", ".join(g.get("repo_ids") or [])] for g in b), empty="No repository groups."))


@group.command("delete")
@click.option("--group-id", required=True, help="the group")
@pass_admin
def group_delete(admin: Admin, group_id):
    """Delete a repository group (its repositories stay)."""
    _done(admin, admin.client.delete(f"/repo_groups/{group_id}/"),
          f"Repository group [{group_id}] deleted.")


@group.group("members")
def members():
    """A group's repositories."""


def _members(admin: Admin, action: str, group_id, repo_ids, kwargs) -> None:
    crit = criteria(kwargs)
    filters = crit.get("filters") or {}
    if repo_ids:
        filters = {"$and": [filters, {"id": {"$in": list(repo_ids)}}]} if filters else \
            {"id": {"$in": list(repo_ids)}}
    if not filters:
        raise click.UsageError("give --repo-id or criteria (--str-eq, --match, --filters)")
    body = admin.client.post(f"/repo_groups/{group_id}/actions/{action}/",
                             json={"criteria": {"filters": filters}})
    done = "added to" if action == "associate" else "removed from"
    admin.output(body, lambda b: admin.say(
        f"Repositories {done} [{group_id}]; members now: {', '.join(b or []) or 'none'}."))


@members.command("add")
@click.option("--group-id", required=True, help="the group")
@click.option("--repo-id", "repo_ids", multiple=True, help="a repository (repeatable)")
@criteria_options
@pass_admin
def members_add(admin: Admin, group_id, repo_ids, **kwargs):
    """Add the repositories given or matching the criteria."""
    _members(admin, "associate", group_id, repo_ids, kwargs)


@members.command("remove")
@click.option("--group-id", required=True, help="the group")
@click.option("--repo-id", "repo_ids", multiple=True, help="a repository (repeatable)")
@criteria_options
@pass_admin
def members_remove(admin: Admin, group_id, repo_ids, **kwargs):
    """Remove the repositories given or matching the criteria."""
    _members(admin, "unassociate", group_id, repo_ids, kwargs)


# -- consumers --------------------------------------------------------------------------------


@click.group()
def consumer():
    """Registered consumers (hosts): bindings and history."""


def _consumer_table(admin: Admin, consumers: list, with_bindings: bool) -> None:
    columns = ["Id", "Display name", "Description"]
    if with_bindings:
        columns.append("Bindings")
    rows = []
    for c in consumers:
        row = [c.get("id"), c.get("display_name"), c.get("description")]
        if with_bindings:
            row.append(", ".join(f"{b.get('repo_id')}/{b.get('distributor_id')}"
                                 for b in c.get("bindings") or []))
        rows.append(row)
    table(admin, columns, rows, empty="No consumers.")


@consumer.command("list")
@click.option("--details", is_flag=True, help="include each consumer's bindings")
@pass_admin
def consumer_list(admin: Admin, details):
    """Every consumer."""
    body = admin.client.get("/consumers/", params={"details": "true"} if details else None)
    admin.output(body, lambda b: _consumer_table(admin, b, details))


@consumer.command("search")
@criteria_options
@click.option("--details", is_flag=True, help="include each consumer's bindings")
@pass_admin
def consumer_search(admin: Admin, details, **kwargs):
    """Consumers matching criteria (e.g. --match id=^web)."""
    body = admin.client.post("/consumers/search/",
                             json={"criteria": criteria(kwargs), "details": details})
    admin.output(body, lambda b: _consumer_table(admin, b, details))


@consumer.command("unregister")
@click.option("--consumer-id", required=True, help="the consumer")
@pass_admin
def consumer_unregister(admin: Admin, consumer_id):
    """Unregister a consumer: it, its bindings and its certificate are gone."""
    _done(admin, admin.client.delete(f"/consumers/{consumer_id}/"),
          f"Consumer [{consumer_id}] unregistered.")


def _agent_tasks(admin: Admin, report: dict, message: str) -> None:
    """Agent requests wait for the consumer's host, which may be offline: their ids only."""
    if admin.json:
        print_json(report)
        return
    admin.say(message)
    if report.get("spawned_tasks"):
        follow_tasks(admin, report, bg=True)


@consumer.command("bind")
@click.option("--consumer-id", required=True, help="the consumer")
@click.option("--repo-id", required=True, help="the repository")
@click.option("--distributor-id", required=True, help="the repository's distributor")
@click.option("--notify-agent/--no-notify-agent", default=True, show_default=True,
              help="tell the consumer's agent (a task that waits for it)")
@pass_admin
def consumer_bind(admin: Admin, consumer_id, repo_id, distributor_id, notify_agent):
    """Bind a consumer to a repository's distributor."""
    report = admin.client.post(f"/consumers/{consumer_id}/bindings/", json={
        "repo_id": repo_id, "distributor_id": distributor_id, "notify_agent": notify_agent})
    _agent_tasks(admin, report, f"Consumer [{consumer_id}] bound to {repo_id}/"
                                f"{distributor_id}.")


@consumer.command("unbind")
@click.option("--consumer-id", required=True, help="the consumer")
@click.option("--repo-id", required=True, help="the repository")
@click.option("--distributor-id", required=True, help="the repository's distributor")
@click.option("--force", is_flag=True, help="delete the binding now, without waiting for "
              "the agent")
@pass_admin
def consumer_unbind(admin: Admin, consumer_id, repo_id, distributor_id, force):
    """Unbind a consumer from a repository's distributor."""
    report = admin.client.delete(
        f"/consumers/{consumer_id}/bindings/{repo_id}/{distributor_id}/",
        json={"force": True} if force else None)
    _agent_tasks(admin, report, f"Consumer [{consumer_id}] unbound from {repo_id}/"
                                f"{distributor_id}" + ("." if force or not report.get(
                                    "spawned_tasks") else " once its agent confirms."))


@consumer.command("history")
@click.option("--consumer-id", required=True, help="the consumer")
@click.option("--event-type", "event_types", multiple=True,
              help="only events of this type (repeatable)")
@click.option("--limit", type=click.IntRange(min=1), help="at most this many")
@click.option("--sort", type=click.Choice(["ascending", "descending"]),
              help="by date (default: newest first)")
@click.option("--start-date", metavar="ISO8601", help="events from this date")
@click.option("--end-date", metavar="ISO8601", help="events until this date")
@pass_admin
def consumer_history(admin: Admin, consumer_id, event_types, limit, sort, start_date,
                     end_date):
    """A consumer's events (registration, bindings, content actions)."""
    params = {"event_type": list(event_types)} if event_types else {}
    params.update({k: v for k, v in (("limit", limit), ("sort", sort),
                                     ("start_date", start_date), ("end_date", end_date))
                   if v is not None})
    body = admin.client.get(f"/consumers/{consumer_id}/history/", params=params or None)
    admin.output(body, lambda b: table(
        admin, ["Type", "When", "Details"],
        ([e.get("type"), e.get("timestamp"), e.get("details")] for e in b),
        empty=f"No events for {consumer_id}."))
