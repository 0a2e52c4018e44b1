"""Event listeners (§1.12): requests and the listener as shown."""

from marshmallow import fields

from pulp2ng.server.schemas.common import Closed, ObjectIdSchema


class ListenerCreateSchema(Closed):
    """Unknown keys are refused (400), not ignored: a misspelt key would silently drop a
    notification setting."""

    notifier_type_id = fields.String(required=True,
                                     metadata={"description": "http, email or amqp"})
    notifier_config = fields.Dict(allow_none=True)
    event_types = fields.List(fields.String(), required=True, metadata={
        "description": "repo.sync.start, repo.sync.finish, repo.publish.start, "
                       "repo.publish.finish, task.finish, task.error, or ['*']"})


class ListenerUpdateSchema(Closed):
    notifier_config = fields.Dict(allow_none=True, metadata={
        "description": "Merged key by key; null removes a key, the mask keeps a secret"})
    event_types = fields.List(fields.String(), allow_none=True)


class LastDeliverySchema(Closed):
    event_type = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "ok, retrying or failed"})
    attempts = fields.Integer(required=True)
    error = fields.String(allow_none=True, required=True)
    time = fields.String(required=True)


class ListenerSchema(Closed):
    _href = fields.String(required=True)
    _id = fields.Nested(ObjectIdSchema, required=True)
    id = fields.String(required=True)
    notifier_type_id = fields.String(required=True)
    notifier_config = fields.Dict(required=True, metadata={"description": "password masked"})
    event_types = fields.List(fields.String(), required=True)
    last_delivery = fields.Nested(LastDeliverySchema, allow_none=True, required=True)
