"""Sync, publish and consumer content action schedules."""

from marshmallow import Schema, fields

from pulp2ng.server.schemas.common import Closed
from pulp2ng.server.schemas.consumers import UnitRefSchema


class ScheduleCreateSchema(Schema):
    schedule = fields.String(required=True)
    override_config = fields.Dict(allow_none=True)
    failure_threshold = fields.Integer(allow_none=True, strict=True)
    enabled = fields.Boolean(load_default=True)


class ScheduleUpdateSchema(Schema):
    schedule = fields.String()
    override_config = fields.Dict(allow_none=True)
    failure_threshold = fields.Integer(allow_none=True, strict=True)
    enabled = fields.Boolean()


class ContentScheduleCreateSchema(Schema):
    schedule = fields.String(required=True)
    units = fields.List(fields.Nested(UnitRefSchema), required=True)
    options = fields.Dict(allow_none=True, load_default=dict)
    failure_threshold = fields.Integer(allow_none=True, strict=True)
    enabled = fields.Boolean(load_default=True)


class ContentScheduleUpdateSchema(Schema):
    schedule = fields.String()
    units = fields.List(fields.Nested(UnitRefSchema))
    options = fields.Dict(allow_none=True)
    failure_threshold = fields.Integer(allow_none=True, strict=True)
    enabled = fields.Boolean()


class ScheduleSchema(Closed):
    _id = fields.String(required=True)
    _href = fields.String(required=True)
    schedule = fields.String(required=True)
    task = fields.String(required=True)
    args = fields.List(fields.String(), required=True)
    kwargs = fields.Dict(required=True, metadata={
        "description": "overrides (sync, publish) or units and options (content actions), "
                       "secrets masked; scheduled_call_id"})
    resource = fields.String(required=True)
    enabled = fields.Boolean(required=True)
    failure_threshold = fields.Integer(allow_none=True, required=True)
    consecutive_failures = fields.Integer(required=True)
    remaining_runs = fields.Integer(allow_none=True, required=True)
    first_run = fields.String(allow_none=True, required=True)
    next_run = fields.String(allow_none=True, required=True)
    last_run_at = fields.String(allow_none=True, required=True)
    total_run_count = fields.Integer(required=True)
    last_updated = fields.Float(allow_none=True, required=True)
