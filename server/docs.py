"""The OpenAPI document and its Swagger UI, served offline from the installed package.

flask-smorest renders the UI page; its scripts and styles come from the
``swagger-ui-bundle`` distribution instead of a CDN, so the page works on a machine without
internet. The document, the page and its assets need no login (like ``status/``): the UI
itself offers *Authorize* through the basic-auth security scheme declared here.
"""

from __future__ import annotations

from flask import Blueprint, send_from_directory

PREFIX = "/pulp/api/v2/docs"
ASSETS = f"{PREFIX}/swagger-ui-assets/"

#: flask-smorest settings for the document and the UI page.
CONFIG = {
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": PREFIX,
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/swagger-ui",
    "OPENAPI_SWAGGER_UI_URL": ASSETS,
    # Every operation needs HTTP basic auth unless it says otherwise (status/).
    "API_SPEC_OPTIONS": {"security": [{"basicAuth": []}]},
}


def init_docs(app, api) -> None:
    """Declare the security scheme and serve the UI's assets from the installed bundle."""
    import swagger_ui_bundle

    api.spec.components.security_scheme("basicAuth", {"type": "http", "scheme": "basic"})
    assets = Blueprint("swagger_ui_assets", __name__)

    @assets.route(f"{ASSETS}<path:filename>")
    def asset(filename: str):
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=3600)

    app.register_blueprint(assets)
