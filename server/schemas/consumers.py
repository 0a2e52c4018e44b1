"""Consumers, their bindings, content actions and history."""

from marshmallow import EXCLUDE, Schema, fields, validate

from pulp2ng.server.schemas.common import Closed, ObjectIdSchema

_ID = validate.Regexp(r"^[.\-_A-Za-z0-9]+$")


class ConsumerCreateSchema(Schema):
    id = fields.String(required=True, validate=_ID)
    display_name = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    notes = fields.Dict(allow_none=True)
    rsa_pub = fields.String(allow_none=True)


class ConsumerDeltaSchema(Schema):
    display_name = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    notes = fields.Dict(allow_none=True, metadata={"description": "null removes a key"})
    rsa_pub = fields.String(allow_none=True)


class ConsumerUpdateSchema(Schema):
    delta = fields.Nested(ConsumerDeltaSchema, required=True)


class ConsumerActionSchema(Closed):
    id = fields.String(required=True, metadata={"description": "The agent task"})
    action = fields.String(required=True)
    status = fields.String(required=True)
    timestamp = fields.String(allow_none=True, required=True)


class BindingSchema(Closed):
    _href = fields.String(required=True)
    _id = fields.Nested(ObjectIdSchema, required=True)
    _ns = fields.String(required=True)
    consumer_id = fields.String(required=True)
    repo_id = fields.String(required=True)
    distributor_id = fields.String(required=True)
    type_id = fields.String(allow_none=True, required=True)
    notify_agent = fields.Boolean(required=True)
    binding_config = fields.Dict(required=True)
    consumer_actions = fields.List(fields.Nested(ConsumerActionSchema), required=True)
    deleted = fields.Boolean(required=True)
    details = fields.Dict(metadata={"description": "The distributor's payload (single GET)"})


class ConsumerSchema(Closed):
    _href = fields.String(required=True)
    _id = fields.Nested(ObjectIdSchema, required=True)
    _ns = fields.String(required=True)
    id = fields.String(required=True)
    display_name = fields.String(required=True)
    description = fields.String(allow_none=True, required=True)
    notes = fields.Dict(required=True)
    rsa_pub = fields.String(allow_none=True, required=True)
    capabilities = fields.Dict(required=True)
    bindings = fields.List(fields.Nested(BindingSchema),
                           metadata={"description": "With details=true or bindings=true"})


class RegistrationSchema(Closed):
    consumer = fields.Nested(ConsumerSchema, required=True)
    certificate = fields.String(required=True, metadata={
        "description": "PEM key and client certificate: the consumer's HTTPS login"})


class BindSchema(Schema):
    repo_id = fields.String(required=True)
    distributor_id = fields.String(required=True)
    notify_agent = fields.Boolean(truthy={True}, falsy={False})
    binding_config = fields.Dict(allow_none=True)
    options = fields.Dict(allow_none=True)


class UnbindSchema(Schema):
    force = fields.Boolean(truthy={True}, falsy={False})
    options = fields.Dict(allow_none=True)


class UnitRefSchema(Schema):
    type_id = fields.String(required=True)
    unit_key = fields.Dict(required=True)


class ContentActionSchema(Schema):
    units = fields.List(fields.Nested(UnitRefSchema), required=True)
    options = fields.Dict(required=True)


class ConsumerEventSchema(Closed):
    _id = fields.Nested(ObjectIdSchema, required=True)
    id = fields.String(required=True)
    consumer_id = fields.String(required=True)
    type = fields.String(required=True)
    details = fields.Raw(allow_none=True, required=True)
    originator = fields.String(allow_none=True, required=True)
    timestamp = fields.String(allow_none=True, required=True)


class AgentPollSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    wait = fields.Float(validate=validate.Range(min=0), metadata={
        "description": "Seconds to hold the poll open for a request (at most 25; over plain "
                       "HTTP 0: long-polls belong on the HTTPS listener)"})


class AgentRequestSchema(Closed):
    task_id = fields.String(required=True)
    action = fields.String(required=True, metadata={
        "description": "bind, unbind, install, update or uninstall"})
    payload = fields.Dict(required=True, metadata={
        "description": "bind: {binding: {repo_id, distributor_id, type_id, details, "
                       "binding_config}, options}; unbind: {repo_id, distributor_id, type_id, "
                       "options}; content actions: {units, options}"})
    lease_seconds = fields.Float(required=True, metadata={
        "description": "Heartbeat before this runs out or the request ends error (PLP0081)"})


class AgentLeaseSchema(Closed):
    task_id = fields.String(required=True)
    state = fields.String(required=True)
    lease_seconds = fields.Float(required=True)


class AgentResultSchema(Schema):
    succeeded = fields.Boolean(required=True, truthy={True}, falsy={False})
    details = fields.Dict(allow_none=True, metadata={"description": "The task's result"})
    profiles = fields.Dict(allow_none=True, metadata={
        "description": "{content_type: profile}: the consumer's profiles after the action"})
