"""Every error the API returns is the Pulp v2 error body with a PLP code: rendered here only."""

from __future__ import annotations

import logging
import traceback
from urllib.parse import quote

from flask import jsonify, request
from kombu.exceptions import OperationalError as BrokerOperationalError
from werkzeug.exceptions import HTTPException

from pulp2ng.db.errors import ConnectionFailure
from pulp2ng.server.docs import PREFIX as DOCS_PREFIX
from pulp2ng.errors import (
    BrokerUnavailable,
    DatabaseUnavailable,
    MethodNotAllowed,
    NotFound,
    PulpError,
    ServiceUnavailable,
)

log = logging.getLogger(__name__)

#: Paths answered while the database is down: status reports ``connected: false``, and the
#: API's documentation needs no database at all.
DATABASE_FREE_PREFIXES = ("/pulp/api/v2/status/", f"{DOCS_PREFIX}/")


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
    if isinstance(error, ServiceUnavailable):
        response.headers["Retry-After"] = "2"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def register_error_handlers(app) -> None:
    @app.before_request
    def fail_fast_while_database_down():
        """503 at once while the driver's monitor sees the database down (status/ answers)."""
        if request.path.startswith(DATABASE_FREE_PREFIXES):
            return None
        if app.extensions["pulp2ng"].store.database_down():
            raise DatabaseUnavailable("The database is unavailable; retry later")
        return None

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

    @app.errorhandler(ConnectionFailure)
    def handle_database_unreachable(error: ConnectionFailure):
        # ServerSelectionTimeoutError, AutoReconnect, NetworkTimeout: a 503, never a 500.
        log.warning("database unreachable on %s %s: %s", request.method, request.path, error)
        return render(DatabaseUnavailable(f"The database is unavailable: {error}"))

    @app.errorhandler(BrokerOperationalError)
    def handle_broker_unreachable(error: BrokerOperationalError):
        log.warning("broker unreachable on %s %s: %s", request.method, request.path, error)
        return render(BrokerUnavailable(f"The message broker is unavailable: {error}"))

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
