"""Upload requests (``content/uploads/``)."""

from marshmallow import fields

from pulp2ng.server.schemas.common import Closed


class UploadSchema(Closed):
    _href = fields.String(required=True)
    upload_id = fields.String(required=True)


class UploadIdsSchema(Closed):
    upload_ids = fields.List(fields.String(), required=True)
