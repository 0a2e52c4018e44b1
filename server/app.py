"""The Flask application factory for the v2 REST API and published content."""

from __future__ import annotations

import ipaddress
import logging

from flask import Flask

from pulp2ng import __version__
from pulp2ng.config import DEFAULT_ADMIN_PASSWORD, Settings, load_settings
from pulp2ng.db.sealing import seal_clear_secrets_once
from pulp2ng.pki import LoginCertificates, load_ca
from pulp2ng.platform import Platform
from pulp2ng.access import AccessControl
from pulp2ng.controllers.users import ensure_admin


def create_app(settings: Settings | None = None, platform: Platform | None = None) -> Flask:
    """Build the WSGI app. One Platform per app, kept in ``app.extensions["pulp2ng"]``."""
    from pulp2ng.server import auth, bodies, certauth, docs, errors
    from pulp2ng.server.api import PulpApi
    from pulp2ng.server.blueprints import BLUEPRINTS, WEB_BLUEPRINTS, dashboard
    from pulp2ng.server.blueprints.published import make_content_blueprint

    settings = settings or load_settings()
    platform = platform or Platform.from_settings(settings, serves_requests=True)
    platform.prepare_database()
    seal_clear_secrets_once(platform.store, platform.secrets)
    admin = settings.get("auth", "admin_user")
    ensure_admin(platform.store, admin, settings.get("auth", "admin_password"))
    access = AccessControl(platform.store)
    check_bind_is_safe(settings, access)

    app = Flask("pulp2ng")
    app.config.update(
        API_TITLE="pulp2ng REST API v2",
        API_VERSION=__version__,
        MAX_CONTENT_LENGTH=None,
        **docs.CONFIG,
    )
    app.json.sort_keys = False
    app.extensions["pulp2ng"] = platform
    api = PulpApi(app)
    docs.init_docs(app, api)
    errors.register_error_handlers(app)
    # The private CA exists from the first start, HTTPS on or off: logins sign with it.
    certificates = LoginCertificates(platform.store, load_ca(settings),
                                     settings.getfloat("auth", "login_cert_days"))
    app.extensions["pulp2ng.certificates"] = certificates
    auth.init_auth(app, access,
                   certauth.Identifier.from_settings(settings, platform.store, certificates))
    bodies.init_guards(app, settings.max_json_body_size)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    dashboard.configure(app, settings)
    for blueprint in WEB_BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.register_blueprint(make_content_blueprint(platform))
    mount_plugin_apps(app, platform)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    return app


def mount_plugin_apps(app, platform) -> None:
    """Mount the WSGI apps distributors declare in ``web_apps`` (``{"/v2": factory}``).

    A factory receives the content storage and returns a WSGI app; the registry API of the
    container distributor is one. They answer at the server root, beside the v2 REST API.
    """
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    mounts = {}
    for cls in platform.plugins.distributors.values():
        for prefix, factory in cls.web_apps.items():
            mounts[prefix.rstrip("/")] = factory(platform.storage)
    if mounts:
        app.wsgi_app = DispatcherMiddleware(app.wsgi_app, mounts)


_DEFAULT_PASSWORD_REFUSAL = (
    "refusing to bind to {host}: user {user!r} in the database has the default admin "
    "password; set [auth] admin_password (or PULP2NG_AUTH_ADMIN_PASSWORD) before its first "
    "start, or change it with PUT /pulp/api/v2/users/{user}/ while bound to loopback")


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind_is_safe(settings: Settings, access: AccessControl) -> None:
    """Refuse to listen beyond loopback while the admin user's password is the default.

    The database decides, not the config file: after the first start the admin's password
    lives only there (and the file need not name it any more)."""
    host = settings.get("server", "host")
    admin = settings.get("auth", "admin_user")
    if not is_loopback(host) and access.verify_password(admin, DEFAULT_ADMIN_PASSWORD):
        raise SystemExit(_DEFAULT_PASSWORD_REFUSAL.format(host=host, user=admin))
