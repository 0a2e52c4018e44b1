"""``/pulp/ui/``: the web dashboard of repositories, tasks, workers and consumers.

Server-rendered Jinja templates (Jinja ships with Flask) and one small hand-written script
that polls ``tasks.json``: nothing to build, nothing fetched from a CDN, and every asset is
package data of ``pulp2ng.server.ui``. A plain Flask blueprint, not a smorest one: these are
HTML pages, not part of the REST API or its OpenAPI document.

Logging in takes the API's users and passwords and keeps a signed session cookie (HttpOnly,
SameSite=Lax, path ``/pulp/ui/``, Secure over HTTPS) holding the login, a digest of the
password hash (a password change ends the session) and a CSRF token every POST form must
send back. A user's login certificate (``actions/login/``) presented over the HTTPS listener
logs its holder in without the form, request by request, so its revocation counts at once. The REST API never reads this cookie, so it cannot be ridden there. Anonymous
visits are sent to the login page, never answered 401 (a browser would prompt for a
password); refusals are 403 with the Pulp error body.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from pathlib import Path

from flask import (Blueprint, current_app, g, jsonify, redirect, render_template, request,
                   session, url_for)
from flask.sessions import SecureCookieSessionInterface

from pulp2ng.access import operation_for, resource_path
from pulp2ng.controllers import dashboard
from pulp2ng.errors import Forbidden, NotAuthenticated
from pulp2ng.pki import USER
from pulp2ng.secrets import session_secret
from pulp2ng.server.blueprints.common import platform
from pulp2ng.server.certauth import peer_certificate

UI = Path(__file__).resolve().parent.parent / "ui"
PREFIX = "/pulp/ui"

blp = Blueprint("dashboard", __name__, url_prefix=PREFIX,
                template_folder=str(UI / "templates"), static_folder=str(UI / "static"),
                static_url_path="/static")

#: Reached without a session: the login form itself and the stylesheet it uses.
_OPEN_ENDPOINTS = ("dashboard.login", "dashboard.static")


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the Secure flag set on the HTTPS listener only
    (the same app serves plain HTTP, where a Secure cookie would never come back)."""

    def get_cookie_secure(self, app) -> bool:
        return request.is_secure


def configure(app, settings) -> None:
    """Session signing key and cookie attributes for the dashboard."""
    app.secret_key = session_secret(settings)
    app.session_interface = _SessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME="pulp2ng_ui",
        SESSION_COOKIE_PATH=f"{PREFIX}/",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(
            hours=settings.getfloat("server", "session_hours")),
    )


def _access():
    return current_app.extensions["pulp2ng.auth"]


def _csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _may(operation: str, resource: str) -> bool:
    """The REST API's check (``AccessControl.permitted``) for the logged-in user."""
    return _access().permitted(g.ui_login, resource, operation)


def _may_request(method: str, api_path: str) -> bool:
    """May the user make this REST request? The operation is the one the API's auth
    derives from the method and path (a sync POST needs EXECUTE on the repository)."""
    resource = resource_path(api_path)
    return _may(operation_for(method, resource), resource)


def _logged_in() -> str | None:
    login = session.get("login")
    if not login:
        return None
    fingerprint = dashboard.password_fingerprint(platform(), login)
    if fingerprint is None or not hmac.compare_digest(fingerprint, session.get("fp", "")):
        session.clear()
        return None
    return login


def _certificate_login() -> str | None:
    """The user whose login certificate this HTTPS request presented, if it still
    authenticates (the API's check: same CA, not expired, not revoked). Not kept in the
    session: each request is judged by its certificate. A consumer's certificate, or one
    that no longer authenticates, gets the login form (never a 401)."""
    cert = peer_certificate(request.environ)
    if cert is None:
        return None
    try:
        kind, name = current_app.extensions["pulp2ng.certificates"].identify(cert)
    except NotAuthenticated:
        return None
    return name if kind == USER else None


@blp.before_request
def require_session():
    _access().refresh()  # a revoked grant or password counts at once, as in the API
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        if not (session.get("csrf") and hmac.compare_digest(sent, session["csrf"])):
            raise Forbidden("The form's CSRF token is missing or wrong: reload the page")
    if request.endpoint in _OPEN_ENDPOINTS:
        return None
    g.ui_login = _logged_in()
    g.ui_by_certificate = False
    if g.ui_login is None:
        g.ui_login = _certificate_login()
        g.ui_by_certificate = g.ui_login is not None
    if g.ui_login is None:
        if request.method == "POST":
            raise Forbidden("Log in first")
        return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
    return None


@blp.after_request
def no_foreign_sources(response):
    """Everything comes from this server: no inline script, no CDN, no framing."""
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.endpoint != "dashboard.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@blp.app_context_processor
def template_helpers():
    return {"csrf_token": _csrf_token, "ui_login": lambda: g.get("ui_login"),
            "ui_by_certificate": lambda: g.get("ui_by_certificate", False)}


def _safe_next(target: str | None) -> str:
    """Only a dashboard path: never an open redirect to another site."""
    if target and target.startswith(f"{PREFIX}/") and not target.startswith("//") \
            and "\\" not in target:
        return target
    return url_for("dashboard.repositories")


# -- login ---------------------------------------------------------------------------------


@blp.route("/login/", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        if username and _access().verify_password(username, password):
            fingerprint = dashboard.password_fingerprint(platform(), username)
            session.clear()  # a new session (and CSRF token) at login: no fixation
            session.permanent = True
            session.update(login=username, fp=fingerprint, csrf=secrets.token_urlsafe(32))
            return redirect(_safe_next(request.form.get("next")))
        error = "Invalid username or password"
    elif _certificate_login() is not None:  # nothing to type: the certificate is the login
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error, next=_safe_next(request.args.get("next")))


@blp.route("/logout/", methods=["POST"])
def logout():
    session.clear()
    return redirect(url_for("dashboard.login"))


# -- pages ---------------------------------------------------------------------------------


@blp.route("/")
def repositories():
    return render_template("repositories.html", page="repositories",
                           rows=dashboard.repository_rows(platform(), _may))


@blp.route("/repositories/<repo_id>/")
def repository(repo_id):
    if not _may_request("GET", f"/pulp/api/v2/repositories/{repo_id}/"):
        raise Forbidden(f"User {g.ui_login} may not read repository {repo_id}")
    return render_template("repository.html", page="repositories",
                           **dashboard.repository_page(platform(), repo_id, _may))


@blp.route("/repositories/<repo_id>/sync/", methods=["POST"])
def sync(repo_id):
    if not _may_request("POST", f"/pulp/api/v2/repositories/{repo_id}/actions/sync/"):
        raise Forbidden(f"User {g.ui_login} may not sync repository {repo_id}")
    task_id = dashboard.sync_repository(platform(), repo_id, g.ui_login)
    return redirect(url_for("dashboard.tasks", task=task_id))


@blp.route("/repositories/<repo_id>/publish/<dist_id>/", methods=["POST"])
def publish(repo_id, dist_id):
    if not _may_request("POST", f"/pulp/api/v2/repositories/{repo_id}/actions/publish/"):
        raise Forbidden(f"User {g.ui_login} may not publish repository {repo_id}")
    task_id = dashboard.publish_repository(platform(), repo_id, dist_id, g.ui_login)
    return redirect(url_for("dashboard.tasks", task=task_id))


@blp.route("/tasks/")
def tasks():
    initial = dashboard.live_tasks(platform(), g.ui_login, _may)
    return render_template("tasks.html", page="tasks", initial=initial,
                           highlight=request.args.get("task", ""))


@blp.route("/tasks.json")
def tasks_json():
    """Active tasks plus those completed since ``since``: what the task page polls."""
    return jsonify(dashboard.live_tasks(platform(), g.ui_login, _may,
                                        request.args.get("since")))


@blp.route("/workers/")
def workers():
    return render_template("workers.html", page="workers",
                           workers=dashboard.workers(platform()))


@blp.route("/consumers/")
def consumers():
    return render_template("consumers.html", page="consumers",
                           consumers=dashboard.consumers(platform(), _may))
