"""The flask-smorest ``Api`` of the v2 REST API: its OpenAPI document declares the Pulp error
body as every error response (rendering stays in server/errors.py)."""

from __future__ import annotations

from apispec import BasePlugin
from flask_smorest import Api

from pulp2ng.server.schemas import PulpErrorSchema


class ErrorResponsesPlugin(BasePlugin):
    """Name the errors every operation may answer besides ``default``: 401 when it needs a
    login, 404 when its path names a resource, 503 while the database or broker is down."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            if method == "parameters":
                continue
            responses = operation.setdefault("responses", {})
            if operation.get("security") != []:
                responses.setdefault("401", "UNAUTHORIZED")
            if "{" in (path or ""):
                responses.setdefault("404", "NOT_FOUND")
            if not path.endswith("/status/"):
                responses.setdefault("503", "SERVICE_UNAVAILABLE")


class PulpApi(Api):
    #: Documents (does not render) the error body of every 4xx/5xx response.
    ERROR_SCHEMA = PulpErrorSchema

    def _init_spec(self, *, extra_plugins=None, **kwargs):
        plugins = [*(extra_plugins or ()), ErrorResponsesPlugin()]
        super()._init_spec(extra_plugins=plugins, **kwargs)
