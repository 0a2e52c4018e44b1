"""Repositories, importers, distributors, their requests and sync/publish history."""

from marshmallow import fields

from pulp2ng.server.schemas.common import Closed, ObjectIdSchema, Open, _Body

# -- requests ---------------------------------------------------------------------------------


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
    """POST bodies of the ``search/`` endpoints (GET takes the same as query parameters)."""

    criteria = fields.Dict(required=True, metadata={"description": "Pulp search criteria"})


class RepositorySearchSchema(SearchSchema):
    details = fields.Boolean()
    importers = fields.Boolean()
    distributors = fields.Boolean()


class UnitSearchSchema(SearchSchema):
    include_repos = fields.Boolean()


# -- responses --------------------------------------------------------------------------------
# Search results may be trimmed to a criteria's ``fields``: only linking keys are required.


class ImporterSchema(Closed):
    _href = fields.String(required=True)
    _id = fields.Nested(ObjectIdSchema, required=True)
    _ns = fields.String(required=True)
    id = fields.String(required=True)
    importer_type_id = fields.String(required=True)
    repo_id = fields.String(required=True)
    config = fields.Dict(required=True, metadata={"description": "Secrets masked"})
    scratchpad = fields.Raw(allow_none=True, required=True)
    last_sync = fields.String(allow_none=True, required=True)
    last_updated = fields.Raw(allow_none=True, required=True)
    last_override_config = fields.Dict(required=True)


class DistributorSchema(Closed):
    _href = fields.String(required=True)
    _id = fields.Nested(ObjectIdSchema, required=True)
    _ns = fields.String()
    id = fields.String(required=True)
    distributor_type_id = fields.String()
    repo_id = fields.String(required=True)
    config = fields.Dict(metadata={"description": "Secrets masked"})
    auto_publish = fields.Boolean()
    last_publish = fields.String(allow_none=True)
    last_updated = fields.Raw(allow_none=True)
    last_override_config = fields.Dict()
    scratchpad = fields.Raw(allow_none=True)
    warnings = fields.List(fields.String(), metadata={"description": "After a create only"})


class RepositorySchema(Closed):
    _href = fields.String(required=True)
    _id = fields.Nested(ObjectIdSchema, required=True)
    _ns = fields.String()
    id = fields.String(required=True)
    display_name = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    notes = fields.Dict()
    scratchpad = fields.Raw(allow_none=True)
    content_unit_counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    last_unit_added = fields.String(allow_none=True)
    last_unit_removed = fields.String(allow_none=True)
    importers = fields.List(fields.Nested(ImporterSchema),
                            metadata={"description": "With details/importers"})
    distributors = fields.List(fields.Nested(DistributorSchema),
                               metadata={"description": "With details/distributors"})
    total_repository_units = fields.Integer(metadata={"description": "With details"})
    locally_stored_units = fields.Integer(metadata={"description": "With details"})
    warnings = fields.List(fields.String(), metadata={"description": "After a create only"})


class HistoryEntrySchema(Open):
    """A sync or publish result (``summary``, ``details``… as the plugin reported them)."""

    _id = fields.Nested(ObjectIdSchema, required=True)
    id = fields.String(required=True)
    repo_id = fields.String()
    result = fields.String()
    started = fields.String(allow_none=True)
    completed = fields.String(allow_none=True)
    summary = fields.Raw(allow_none=True)
    details = fields.Raw(allow_none=True)
    error_message = fields.String(allow_none=True)
    exception = fields.Raw(allow_none=True)
    traceback = fields.Raw(allow_none=True)
