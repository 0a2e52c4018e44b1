"""Every error the API returns is the Pulp v2 error body with a PLP code: rendered here only."""

from __future__ import annotations

import logging
import traceback
from urllib.parse import quote

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from pulp2ng.errors import MethodNotAllowed, NotFound, PulpError

log = logging.getLogger(__name__)


def href() -> str:
    """The request path as a URL (``%00`` stays escaped, unlike ``request.path``)."""
    return quote(request.path, safe="/:@!$&'()*+,;=-._~")


def error_body(error: PulpError, status: int | None = None) -> dict:
    status = status or error.http_status
    body = {
        "http_status": status,
        "http_request_method": request.method,
        "_href": href(),
        "error_message": error.message,
        "exception": None,
        "traceback": None,
        "error": error.to_dict(),
    }
    body.update(error.extra_fields())
    return body


def render(error: PulpError, status: int | None = None, headers=None):
    response = jsonify(error_body(error, status))
    response.status_code = status or error.http_status
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="pulp2ng"'
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def register_error_handlers(app) -> None:
    @app.errorhandler(PulpError)
    def handle_pulp_error(error: PulpError):
        return render(error)

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException):
        if error.code == 404:
            return render(NotFound(f"Resource not found: {request.path}"))
        if error.code == 405:
            return render(MethodNotAllowed(f"Method {request.method} not allowed here"), 405)
        generic = PulpError(error.description or error.name)
        return render(generic, error.code or 500)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        body = {
            "http_status": 500,
            "http_request_method": request.method,
            "_href": href(),
            "error_message": str(error) or repr(error),
            "exception": traceback.format_exception_only(type(error), error),
            "traceback": traceback.format_tb(error.__traceback__),
        }
        response = jsonify(body)
        response.status_code = 500
        return response
