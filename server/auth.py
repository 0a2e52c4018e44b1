"""Authentication and Pulp 2's authorization on every API call.

Everything under ``/pulp/api/`` needs a login except ``status/`` and the API's own
documentation; published content stays anonymous. The login comes from ``identify`` (a
trusted proxy's header, then a client certificate over HTTPS; see ``server/certauth.py``),
else from HTTP basic auth, and is kept in ``flask.g.login``. An authenticated request then needs the
operation its method names on its resource path (``pulp2ng.access``); denial is 401
PLP0026, as in Pulp 2. Whoever creates a resource (a 201 with ``Location``) gets every
operation on it, and a deleted resource's grants go with it.
"""

from __future__ import annotations

import re

from flask import current_app, g, request

from pulp2ng.access import AccessControl, operation_for, resource_path
from pulp2ng.controllers import permissions, tasks
from pulp2ng.errors import NotAuthenticated, NotAuthorized
from pulp2ng.server.docs import PREFIX as DOCS_PREFIX

PUBLIC_PREFIXES = ("/pulp/api/v2/status/", f"{DOCS_PREFIX}/")
#: Any logged-in user may call these: they act on the caller only.
SELF_SERVICE = ("/pulp/api/v2/actions/login/",)
_TASK = re.compile(r"^/v2/tasks/([^/]+)/$")
_TASK_GROUP = re.compile(r"^/v2/task_groups/([^/]+)/(state_summary/)?$")
#: DELETEs on items that remove content, not the resource their path names: grants stay.
_NOT_A_RESOURCE_DELETE = ("/pulp/api/v2/content/orphans/",)


def init_auth(app, access: AccessControl, identify=None) -> None:
    @app.before_request
    def authenticate_and_authorize():
        path = request.path
        if not path.startswith("/pulp/api/") or path.startswith(PUBLIC_PREFIXES):
            return None
        access.refresh()
        login = identify() if identify is not None else None
        if g.get("consumer") is not None:
            return _consumer_only_on_its_own(g.consumer, path)
        g.login = login or authenticate(access)
        if request.url_rule is None or path.startswith(SELF_SERVICE):
            return None  # routing answers 404/405 itself
        resource = resource_path(path)
        operation = operation_for(request.method, resource)
        if access.permitted(g.login, resource, operation) or \
                _may_follow_task(access, g.login, resource):
            return None
        raise NotAuthorized(f"User {g.login} does not have permission to perform "
                            f"{operation} on {resource}")

    @app.after_request
    def automatic_permissions(response):
        login = g.get("login")
        if login is None or response.status_code >= 300:
            return response
        platform = current_app.extensions["pulp2ng"]
        store = platform.store
        if response.status_code == 202 and response.is_json:
            body = response.get_json(silent=True) or {}
            spawned = body.get("spawned_tasks") or []
            tasks.record_requester(platform, [t["task_id"] for t in spawned], login)
            if body.get("group_id"):  # a group call report (parallel regeneration)
                tasks.record_group_requester(platform, body["group_id"], login)
        if request.method == "POST" and response.status_code == 201 and \
                response.headers.get("Location"):
            permissions.grant_creator(store, login, response.headers["Location"])
        elif request.method == "DELETE" and _deletes_a_resource():
            permissions.forget_resource(store, request.path)
        return response

    app.extensions["pulp2ng.auth"] = access


def _deletes_a_resource() -> bool:
    """A DELETE on an item (its route ends in a variable: ``repositories/<repo_id>/``) takes
    the item's grants along; one on a collection (a task purge) or on orphans, which removes
    content rather than what its path names, keeps every grant."""
    rule = request.url_rule
    return rule is not None and rule.rule.endswith(">/") and \
        not request.path.startswith(_NOT_A_RESOURCE_DELETE)


def authenticate(access: AccessControl) -> str:
    """The caller's login, from HTTP basic auth."""
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username:
        raise NotAuthenticated("Authentication required: use HTTP basic auth")
    if not access.verify_password(auth.username, auth.password or ""):
        raise NotAuthenticated("Invalid username or password")
    return auth.username


def _consumer_only_on_its_own(consumer_id: str, path: str) -> None:
    """A consumer's certificate reaches its own resources (bindings, profiles, actions,
    the agent's requests) and nothing else: never a repository, a user or another consumer."""
    if resource_path(path).startswith(f"/v2/consumers/{consumer_id}/"):
        return None
    raise NotAuthorized(f"Consumer {consumer_id} may only reach its own resources")


def _may_follow_task(access: AccessControl, login: str, resource: str) -> bool:
    """A task report is readable (and its task cancelable) by the user who requested it
    and by whoever may read (execute on) one of the task's repositories. A task group is
    readable (cancelable) by whoever may follow every one of its tasks."""
    if request.method not in ("GET", "DELETE"):
        return False
    platform = current_app.extensions["pulp2ng"]
    if (match := _TASK.match(resource)) is not None:
        followers = [tasks.task_followers(platform, match.group(1))]
    elif (match := _TASK_GROUP.match(resource)) is not None:
        # An unknown group has no task: nobody follows it (401 as for an unknown task).
        followers = tasks.group_followers(platform, match.group(1))
    else:
        return False
    operation = "READ" if request.method == "GET" else "EXECUTE"
    return bool(followers) and all(
        requester == login or any(access.permitted(login, f"/v2/repositories/{r}/", operation)
                                  for r in repos)
        for requester, repos in followers)
