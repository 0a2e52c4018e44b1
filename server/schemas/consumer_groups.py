"""Consumer groups and their requests (bind, unbind and content actions reuse the consumer
schemas)."""

from marshmallow import fields, validate

from pulp2ng.server.schemas.common import Closed, ObjectIdSchema, _Body
from pulp2ng.server.schemas.repo_groups import RepoGroupUpdateSchema, _Strict


class ConsumerGroupCreateSchema(_Strict):
    id = fields.String(required=True, validate=validate.Regexp(r"^[.\-_A-Za-z0-9]+$"))
    display_name = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    consumer_ids = fields.List(fields.String(), allow_none=True,
                               metadata={"description": "Existing consumers only"})
    notes = fields.Dict(allow_none=True)


class ConsumerGroupUpdateSchema(RepoGroupUpdateSchema):
    """The same plain delta as a repository group's."""


class ConsumerGroupMembersSchema(_Body):
    criteria = fields.Dict(required=True, metadata={"description": "Consumer criteria"})


class ConsumerGroupSchema(Closed):
    _href = fields.String(required=True)
    _id = fields.Nested(ObjectIdSchema, required=True)
    _ns = fields.String(required=True)
    id = fields.String(required=True)
    display_name = fields.String(allow_none=True, required=True)
    description = fields.String(allow_none=True, required=True)
    consumer_ids = fields.List(fields.String(), required=True)
    notes = fields.Dict(required=True)
    scratchpad = fields.Raw(allow_none=True, required=True)
