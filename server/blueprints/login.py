"""``/pulp/api/v2/actions/login/``: a client certificate for the HTTPS listener."""

from __future__ import annotations

from flask import current_app, g, jsonify

from pulp2ng.errors import NotAuthenticated
from pulp2ng.server import schemas
from pulp2ng.server.arguments import Blueprint

blp = Blueprint("login", __name__, url_prefix="/pulp/api/v2",
                description="Login certificates for HTTPS client authentication")


@blp.route("/actions/login/", methods=["POST"])
@blp.response(200, schemas.LoginCertificateSchema)
def login():
    """A PEM key and a client certificate naming the authenticated user.

    Presented over HTTPS, the certificate authenticates as that user until it expires
    (``[auth] login_cert_days``), the user is deleted or their password changes. A login
    certificate cannot renew itself (that would outlive ``login_cert_days``): log in with
    a password (or through the trusted proxy)."""
    if g.get("auth_method") == "certificate":
        raise NotAuthenticated("Log in with a password: a login certificate cannot renew itself")
    return jsonify(current_app.extensions["pulp2ng.certificates"].issue(g.login))
