"""Task reports."""

from marshmallow import fields

from pulp2ng.server.schemas.common import Closed, TaskLinkSchema


class TaskSchema(Closed):
    _href = fields.String(required=True)
    _ns = fields.String(required=True)
    id = fields.String(required=True)
    task_id = fields.String(required=True)
    task_type = fields.String(allow_none=True, required=True)
    state = fields.String(allow_none=True, required=True)
    worker_name = fields.String(allow_none=True, required=True)
    start_time = fields.String(allow_none=True, required=True)
    finish_time = fields.String(allow_none=True, required=True)
    progress_report = fields.Raw(allow_none=True, required=True)
    result = fields.Raw(allow_none=True, required=True)
    error = fields.Dict(allow_none=True, required=True)
    exception = fields.Raw(allow_none=True, required=True)
    traceback = fields.Raw(allow_none=True, required=True)
    tags = fields.List(fields.String(), allow_none=True, required=True)
    spawned_tasks = fields.List(fields.Nested(TaskLinkSchema), required=True)
    queue = fields.String(allow_none=True, metadata={"description": "On GET tasks/<id>/ only"})


class TaskGroupSummarySchema(Closed):
    total = fields.Integer(required=True)
    waiting = fields.Integer(required=True)
    skipped = fields.Integer(required=True)
    accepted = fields.Integer(required=True)
    running = fields.Integer(required=True)
    suspended = fields.Integer(required=True)
    finished = fields.Integer(required=True)
    error = fields.Integer(required=True)
    canceled = fields.Integer(required=True)
