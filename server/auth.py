"""Authentication for every API endpoint except ``status/``, the API's own documentation
(the OpenAPI document and Swagger UI) and published content.

Order: ``identify`` (a trusted proxy's header, then a client certificate over HTTPS; see
``server/certauth.py``), then HTTP basic auth. The result is the login, in ``flask.g.login``."""

from __future__ import annotations

from flask import g, request

from pulp2ng.errors import NotAuthenticated
from pulp2ng.server.docs import PREFIX as DOCS_PREFIX

PUBLIC_PREFIXES = ("/pulp/api/v2/status/", f"{DOCS_PREFIX}/")


def init_auth(app, authenticator, identify=None) -> None:
    @app.before_request
    def require_basic_auth():
        path = request.path
        if not path.startswith("/pulp/api/") or path.startswith(PUBLIC_PREFIXES):
            return None
        login = identify() if identify is not None else None
        if login is not None:
            g.login = login
            return None
        auth = request.authorization
        if auth is None or auth.type != "basic" or not auth.username:
            raise NotAuthenticated("Authentication required: use HTTP basic auth")
        if not authenticator.verify(auth.username, auth.password or ""):
            raise NotAuthenticated("Invalid username or password")
        g.login = auth.username
        return None

    app.extensions["pulp2ng.auth"] = authenticator
