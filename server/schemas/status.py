"""Server status and installed plugins."""

from marshmallow import fields

from pulp2ng.server.schemas.common import Closed, ObjectIdSchema


class ConnectionSchema(Closed):
    connected = fields.Boolean(required=True)


class WorkerSchema(Closed):
    name = fields.String(required=True)
    last_heartbeat = fields.String(allow_none=True, required=True)
    role = fields.String(required=True)


class StatusSchema(Closed):
    api_version = fields.String(required=True)
    versions = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    database_connection = fields.Nested(ConnectionSchema, required=True)
    messaging_connection = fields.Nested(ConnectionSchema, required=True)
    known_workers = fields.List(fields.Nested(WorkerSchema), required=True)


class ContentTypeSchema(Closed):
    _href = fields.String(required=True)
    _id = fields.Nested(ObjectIdSchema, required=True)
    _ns = fields.String(required=True)
    id = fields.String(required=True)
    display_name = fields.String(allow_none=True, required=True)
    description = fields.String(allow_none=True, required=True)
    unit_key = fields.List(fields.String(), required=True)
    search_indexes = fields.List(fields.List(fields.String()), required=True)
    referenced_types = fields.List(fields.String(), required=True)


class PluginSchema(Closed):
    _href = fields.String(required=True)
    id = fields.String(required=True)
    display_name = fields.String(allow_none=True, required=True)
    types = fields.List(fields.String(), required=True)
