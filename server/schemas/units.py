"""Units, repository associations, unit copy/removal/import requests and orphans."""

from marshmallow import fields

from pulp2ng.server.schemas.common import Closed, ObjectIdSchema, Open, _Body

# -- requests ---------------------------------------------------------------------------------


class AssociateSchema(_Body):
    source_repo_id = fields.String(required=True)
    criteria = fields.Dict(allow_none=True)
    override_config = fields.Dict(allow_none=True)


class UnassociateSchema(_Body):
    criteria = fields.Dict(allow_none=True)


class ImportUploadSchema(_Body):
    upload_id = fields.String(required=True)
    unit_type_id = fields.String(required=True)
    unit_key = fields.Dict(required=True)
    unit_metadata = fields.Dict(allow_none=True)
    override_config = fields.Dict(allow_none=True)


# -- responses --------------------------------------------------------------------------------


class UnitSchema(Open):
    """A unit: its type's fields (open-ended) plus these."""

    _id = fields.String(required=True)
    _content_type_id = fields.String(required=True)
    _href = fields.String(metadata={"description": "Not inside an association's metadata"})
    children = fields.Dict()
    repository_memberships = fields.List(fields.String(),
                                         metadata={"description": "With include_repos"})


class AssociationSchema(Closed):
    _id = fields.Nested(ObjectIdSchema, required=True)
    id = fields.String(required=True)
    _ns = fields.String(required=True)
    repo_id = fields.String(required=True)
    unit_id = fields.String(required=True)
    unit_type_id = fields.String(required=True)
    created = fields.String(allow_none=True)
    updated = fields.String(allow_none=True)
    metadata = fields.Nested(UnitSchema, allow_none=True, required=True)


#: ``pulp_user_metadata``: whatever object the user stored.
USER_METADATA = {"type": "object", "additionalProperties": True}

#: ``content/orphans/``: per type, the count of orphans and the link to them.
ORPHAN_COUNTS = {
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "properties": {"count": {"type": "integer"}, "_href": {"type": "string"}},
        "required": ["count", "_href"],
        "additionalProperties": False,
    },
}
