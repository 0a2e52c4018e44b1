"""Consumer profiles, content applicability and its regeneration."""

from marshmallow import fields

from pulp2ng.server.schemas.common import Closed, ObjectIdSchema, _Body


class ProfileCreateSchema(_Body):
    content_type = fields.String(required=True)
    profile = fields.Raw(required=True, allow_none=True,
                         metadata={"description": "python: [{name, version}], ostree: "
                                                  "[{ref, commit}], iso: [{name, checksum, "
                                                  "size}]; other types as given"})


class ProfileUpdateSchema(_Body):
    profile = fields.Raw(required=True, allow_none=True)


class ProfileSchema(Closed):
    _href = fields.String(required=True)
    _id = fields.Nested(ObjectIdSchema, required=True)
    _ns = fields.String(required=True)
    consumer_id = fields.String(required=True)
    content_type = fields.String(required=True)
    profile = fields.Raw(allow_none=True, required=True)
    profile_hash = fields.String(required=True,
                                 metadata={"description": "sha256 of the sorted JSON profile"})


class ApplicabilityQuerySchema(_Body):
    criteria = fields.Dict(required=True, metadata={"description": "Consumer criteria"})
    content_types = fields.List(fields.String(), allow_none=True,
                                metadata={"description": "Unit type ids (or profile types)"})


class ApplicabilitySchema(Closed):
    consumers = fields.List(fields.String(), required=True)
    applicability = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                                required=True, metadata={"description": "type id → unit ids"})


class ConsumerRegenerationSchema(_Body):
    consumer_criteria = fields.Dict(required=True)


class RepoRegenerationSchema(_Body):
    repo_criteria = fields.Dict(required=True)
    parallel = fields.Boolean(metadata={"description": "One task per repository in a group"})


class GroupCallReportSchema(Closed):
    _href = fields.String(required=True)
    group_id = fields.String(required=True)
