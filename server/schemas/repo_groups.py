"""Repository groups, their distributors and requests."""

from marshmallow import RAISE, fields

from pulp2ng.server.schemas.common import Closed, ObjectIdSchema, _Body


class _Strict(_Body):
    """Pulp 2 refused unknown keys of group requests (400)."""

    class Meta:
        unknown = RAISE


class GroupDistributorSpecSchema(_Strict):
    distributor_type_id = fields.String(required=True)
    distributor_config = fields.Dict(allow_none=True)
    distributor_id = fields.String(allow_none=True)


class RepoGroupCreateSchema(_Strict):
    id = fields.String(required=True)
    display_name = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    repo_ids = fields.List(fields.String(), allow_none=True)
    notes = fields.Dict(allow_none=True)
    distributors = fields.List(fields.Dict(), allow_none=True)


class RepoGroupUpdateSchema(_Strict):
    display_name = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    notes = fields.Dict(allow_none=True, metadata={"description": "Merged; null removes a key"})


class RepoGroupMembersSchema(_Body):
    criteria = fields.Dict(required=True, metadata={"description": "Repository criteria"})


class GroupDistributorUpdateSchema(_Body):
    distributor_config = fields.Dict(required=True)


class GroupPublishSchema(_Body):
    id = fields.String(required=True, metadata={"description": "The group distributor id"})
    override_config = fields.Dict(allow_none=True)


class RepoGroupSchema(Closed):
    _href = fields.String(required=True)
    _id = fields.Nested(ObjectIdSchema, required=True)
    _ns = fields.String()
    id = fields.String(required=True)
    display_name = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    repo_ids = fields.List(fields.String())
    notes = fields.Dict()


class GroupDistributorSchema(Closed):
    _href = fields.String(required=True)
    _id = fields.Nested(ObjectIdSchema, required=True)
    _ns = fields.String(required=True)
    id = fields.String(required=True)
    distributor_type_id = fields.String(required=True)
    repo_group_id = fields.String(required=True)
    config = fields.Dict(required=True, metadata={"description": "Secrets masked"})
    last_publish = fields.String(allow_none=True, required=True)
    scratchpad = fields.Raw(allow_none=True, required=True)
