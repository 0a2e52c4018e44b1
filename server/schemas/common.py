"""Shapes shared by every resource: request base, ``_id``/links, call reports, error bodies.

Response schemas document the JSON the API returns (views still render it with the
functions of ``pulp2ng.representations``). Three kinds of objects:

* ``Closed``: every key is declared (``additionalProperties: false``), one shape per body;
* ``Open``: declared keys plus open-ended ones (unit metadata, error details);
* ``fields.Dict()`` / ``fields.Raw()`` for the open-ended parts (notes, config,
  progress_report, result…).
"""

from marshmallow import EXCLUDE, INCLUDE, RAISE, Schema, fields


class _Body(Schema):
    """Request bodies: unknown keys are ignored, as Pulp 2 did."""

    class Meta:
        unknown = EXCLUDE


class Closed(Schema):
    class Meta:
        unknown = RAISE


class Open(Schema):
    class Meta:
        unknown = INCLUDE


def Nullable(field_class, **kwargs):  # noqa: N802 - reads like a field class
    return field_class(allow_none=True, **kwargs)


#: The body of an endpoint that answers JSON ``null`` (OpenAPI 3.0: nullable, only null).
NULL = {"type": "object", "nullable": True, "enum": [None], "description": "Always null"}


class ObjectIdSchema(Closed):
    oid = fields.String(required=True, data_key="$oid")


class TaskLinkSchema(Closed):
    _href = fields.String(required=True)
    task_id = fields.String(required=True)


class CallReportSchema(Closed):
    """Every 202 (and the 200 of a repository update): ``result`` plus spawned tasks."""

    result = fields.Raw(allow_none=True, required=True)
    error = fields.Dict(allow_none=True, required=True)
    spawned_tasks = fields.List(fields.Nested(TaskLinkSchema), required=True)
    warnings = fields.List(fields.String(), metadata={"description": "Only when not empty"})


class ErrorDetailSchema(Open):
    """The ``error`` object of an error body and of a failed task."""

    code = fields.String(required=True, metadata={"description": "A PLP code"})
    description = fields.String(required=True)
    data = fields.Dict(required=True)
    sub_errors = fields.List(fields.Dict(), required=True)


class PulpErrorSchema(Open):
    """The Pulp v2 error body of every 4xx/5xx (rendered by server/errors.py).

    Some errors add top-level keys (``property_names``, ``missing_property_names``,
    ``resources``…); a 500 has no ``error`` object."""

    http_status = fields.Integer(required=True)
    http_request_method = fields.String(required=True)
    _href = fields.String(required=True)
    error_message = fields.String(required=True)
    exception = fields.Raw(allow_none=True, required=True)
    traceback = fields.Raw(allow_none=True, required=True)
    error = fields.Nested(ErrorDetailSchema)
