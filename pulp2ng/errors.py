"""The one error hierarchy of pulp2ng.

Every failure a client or a task report can see is a :class:`PulpError` with its PLP code and
HTTP status on the class. The server renders any of them as the Pulp v2 error body; tasks store
:meth:`PulpError.to_dict` as their ``error``. Nothing here imports Flask.

    PulpError (PLP0000, 500)
    ├── InvalidValue (PLP1010 by default, 400)    InvalidJSON (PLP1009), InvalidType (PLP1015),
    │   ├── MissingValue (PLP1004)                UnsupportedValue (PLP1005)
    │   └── InvalidCriteria (PLP1010)             UnknownPluginType (PLP1008)
    ├── MissingResource (PLP0009, 404)
    ├── DuplicateResource (PLP0018, 409)
    ├── ConflictingOperation (PLP0010, 409)
    ├── NotAuthenticated (PLP0025, 401)  NotAuthorized (PLP0026, 401)
    ├── TaskPurgeForbidden (PLP1012, 403)  InvalidTaskState (PLP1011, 400)
    ├── NotFound (PLP0009, 404)  MethodNotAllowed (PLP0000, 405)  RequestTooLarge (PLP0000, 413)
    ├── PluginError (PLP0000, 500)  plugin failures: SyncError, PublishError (PLP0034),
    │   │                           UploadError (PLP0047), UnsupportedTypes (PLP0044, 400),
    │   │                           ContentValidationError (checksum/size/path rejected)
    ├── BindError (PLP0002)  DistributorUnbindError (PLP0003)  RepositoryUnbindError (PLP0007)
    ├── WorkerLost (PLP0049)  AgentLost (PLP0081)  AgentFailed (PLP0082)
    │   └── Fenced (PLP0049)  a reaped task's late write, refused
    ├── ServiceUnavailable (PLP0080, 503)  DatabaseUnavailable, BrokerUnavailable
    └── TaskCanceled  (a protocol signal, never shown as an error)
"""

from __future__ import annotations


class PulpError(Exception):
    """Base of every coded error. Subclasses set ``code``, ``http_status`` and ``description``."""

    code = "PLP0000"
    http_status = 500
    description = "Pulp exception occurred: {message}"

    def __init__(self, message: str = "", **data):
        super().__init__(message)
        self.message = message or self.__class__.__name__
        self.data = data
        self.sub_errors: list[PulpError] = []

    def __str__(self) -> str:
        return self.message

    def extra_fields(self) -> dict:
        """Top-level keys the Pulp error body carries for this error (``resources``, …)."""
        return {}

    def to_dict(self) -> dict:
        """The ``error`` object of the error body and of a failed task report."""
        return {
            "code": self.code,
            "description": self.message,
            "data": dict(self.data),
            "sub_errors": [e.to_dict() for e in self.sub_errors],
        }


class InvalidValue(PulpError):
    """A request field has a value pulp2ng cannot accept."""

    code, http_status = "PLP1010", 400

    def __init__(self, property_names, message: str = ""):
        names = [property_names] if isinstance(property_names, str) else list(property_names)
        super().__init__(
            message or f"Invalid properties: {names}", property_names=names
        )
        self.property_names = names

    def extra_fields(self) -> dict:
        return {"property_names": self.property_names}


class InvalidJSON(InvalidValue):
    code = "PLP1009"

    def __init__(self, message: str = "The request body does not contain valid JSON"):
        super().__init__([], message)


class InvalidType(InvalidValue):
    code = "PLP1015"


class MissingValue(InvalidValue):
    code = "PLP1004"

    def __init__(self, property_names, message: str = ""):
        names = [property_names] if isinstance(property_names, str) else list(property_names)
        super().__init__(names, message or f"Missing values for {names}")

    def extra_fields(self) -> dict:
        return {"missing_property_names": self.property_names}


class UnsupportedValue(InvalidValue):
    code = "PLP1005"

    def extra_fields(self) -> dict:
        return {"unsupported_property_names": self.property_names}


class InvalidCriteria(InvalidValue):
    code = "PLP1010"


class UnknownPluginType(InvalidValue):
    code = "PLP1008"


class MissingResource(PulpError):
    """The named resources do not exist: ``MissingResource(repository="zoo")``."""

    code, http_status = "PLP0009", 404

    def __init__(self, message: str = "", **resources):
        text = message or "Missing resource(s): " + ", ".join(
            f"{k}={v}" for k, v in resources.items()
        )
        super().__init__(text, resources=resources)
        self.resources = resources

    def extra_fields(self) -> dict:
        return {"resources": self.resources}


class DuplicateResource(PulpError):
    code, http_status = "PLP0018", 409

    def __init__(self, resource_id: str):
        super().__init__(f"Duplicate resource: {resource_id}", resource_id=resource_id)
        self.resource_id = resource_id

    def extra_fields(self) -> dict:
        return {"resource_id": self.resource_id}


class ConflictingOperation(PulpError):
    code, http_status = "PLP0010", 409


class NotAuthenticated(PulpError):
    code, http_status = "PLP0025", 401

    def __init__(self, message: str = "Authentication failed."):
        super().__init__(message)


class NotAuthorized(PulpError):
    """Authenticated, but without the operation on the resource: 401, as in Pulp 2."""

    code, http_status = "PLP0026", 401


class Forbidden(PulpError):
    """A refusal of the web dashboard (a bad CSRF token, a button the user lacks): 403, since
    a browser answers a 401's Basic challenge with a password prompt."""

    code, http_status = "PLP0026", 403


class InvalidTaskState(PulpError):
    code, http_status = "PLP1011", 400


class TaskPurgeForbidden(PulpError):
    code, http_status = "PLP1012", 403


class NotFound(PulpError):
    """An unknown URL (no such route)."""

    code, http_status = "PLP0009", 404


class MethodNotAllowed(PulpError):
    code, http_status = "PLP0000", 405


class RequestTooLarge(PulpError):
    """A request body above ``[server] max_json_body_size``; refused before it is read."""

    code, http_status = "PLP0000", 413

    def __init__(self, size: int, limit: int):
        super().__init__(f"The request body ({size} bytes) exceeds the limit of {limit} bytes",
                         size=size, limit=limit)


class PluginError(PulpError):
    """A plugin failed; the task ends ``error`` with this body."""


class SyncError(PluginError):
    code = "PLP0000"


class PublishError(PluginError):
    code = "PLP0034"


class UploadError(PluginError):
    code, http_status = "PLP0047", 400


class UnsupportedTypes(PluginError):
    code, http_status = "PLP0044", 400


class ContentValidationError(PluginError):
    """Upstream or uploaded content failed a checksum, size or path check."""

    code, http_status = "PLP1013", 400


class BindError(PulpError):
    """PLP0002: rebinding consumers after a distributor update failed for some of them."""

    code = "PLP0002"


class DistributorUnbindError(PulpError):
    """PLP0003: unbinding the consumers of a deleted distributor failed for some of them."""

    code = "PLP0003"


class RepositoryUnbindError(PulpError):
    """PLP0007: unbinding the consumers of a deleted repository failed for some of them."""

    code = "PLP0007"


class WorkerLost(PulpError):
    code = "PLP0049"


class Fenced(WorkerLost):
    """A task's worker was declared dead and its reservation handed on: the task's late
    writes are refused (see :mod:`pulp2ng.db.fencing`); the task ends without writing more."""


class AgentLost(PulpError):
    """PLP0081 (pulp2ng's own): a consumer's agent took a request and stopped renewing its
    lease (killed, or cut off) before reporting; the request ends ``error``."""

    code = "PLP0081"


class AgentFailed(PulpError):
    """PLP0082 (pulp2ng's own): a consumer's agent reported that a request failed; ``data``
    carries the details it sent."""

    code = "PLP0082"


class ServiceUnavailable(PulpError):
    """PLP0080, HTTP 503: a service pulp2ng depends on is unreachable; retry later.

    pulp2ng's own code (Pulp 2 never used PLP0080). Answered at once, never after a long
    wait: while the database driver's monitor sees the database down, or when a database or
    broker call fails to connect. ``data.service`` names the service (``database`` or
    ``broker``); the response carries ``Retry-After``. Nothing is left half-done: a dispatch
    the broker refused leaves no waiting task behind.
    """

    code, http_status = "PLP0080", 503
    service = "service"

    def __init__(self, message: str = "", **data):
        data.setdefault("service", self.service)
        super().__init__(message or f"The {self.service} is unavailable; retry later", **data)


class DatabaseUnavailable(ServiceUnavailable):
    """PLP0080, 503: the database is unreachable."""

    service = "database"


class BrokerUnavailable(ServiceUnavailable):
    """PLP0080, 503: the message broker refused or did not take a task's message."""

    service = "broker"


class TaskCanceled(Exception):
    """Raised inside a task when a client canceled it; not a failure."""
