"""Request schemas: they validate bodies and document the v2 API in the OpenAPI spec.

Field-level rules live here; rules that need the database or a plugin (ids that exist,
plugin configs) live in the controllers.
"""

from marshmallow import EXCLUDE, Schema, fields


class _Body(Schema):
    class Meta:
        unknown = EXCLUDE


class DistributorSpecSchema(_Body):
    distributor_type_id = fields.String(required=True)
    distributor_config = fields.Dict(allow_none=True)
    auto_publish = fields.Boolean(load_default=False)
    distributor_id = fields.String(allow_none=True)


class RepositoryCreateSchema(_Body):
    id = fields.String(required=True)
    display_name = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    notes = fields.Dict(allow_none=True)
    importer_type_id = fields.String(allow_none=True)
    importer_config = fields.Dict(allow_none=True)
    distributors = fields.List(fields.Dict(), allow_none=True)


class RepositoryUpdateSchema(_Body):
    delta = fields.Dict(allow_none=True)
    importer_config = fields.Dict(allow_none=True)
    distributor_configs = fields.Dict(allow_none=True)


class ImporterCreateSchema(_Body):
    importer_type_id = fields.String(required=True)
    importer_config = fields.Dict(allow_none=True)


class ImporterUpdateSchema(_Body):
    importer_config = fields.Dict(required=True)


class DistributorUpdateSchema(_Body):
    distributor_config = fields.Dict(allow_none=True)
    delta = fields.Dict(allow_none=True)


class SyncSchema(_Body):
    override_config = fields.Dict(allow_none=True)


class PublishSchema(_Body):
    id = fields.String(required=True)
    override_config = fields.Dict(allow_none=True)


class SearchSchema(_Body):
    criteria = fields.Dict(required=True)
    details = fields.Boolean()
    importers = fields.Boolean()
    distributors = fields.Boolean()
    include_repos = fields.Boolean()


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
