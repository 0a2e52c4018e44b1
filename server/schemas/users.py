"""Users, roles and permissions (requests refuse unknown keys, as Pulp 2 did)."""

from marshmallow import EXCLUDE, Schema, fields, validate

from pulp2ng.access import OPERATIONS
from pulp2ng.server.schemas.common import Closed, ObjectIdSchema

_OPERATIONS = fields.List(fields.String(validate=validate.OneOf(OPERATIONS)), required=True,
                          validate=validate.Length(min=1))


class UserCreateSchema(Schema):
    login = fields.String(required=True, validate=validate.Regexp(r"^[.@\-_A-Za-z0-9]+$"))
    password = fields.String(allow_none=True)
    name = fields.String(allow_none=True)


class UserDeltaSchema(Schema):
    password = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    roles = fields.List(fields.String())


class UserUpdateSchema(Schema):
    delta = fields.Nested(UserDeltaSchema, required=True)


class UserSchema(Closed):
    _href = fields.String(required=True)
    _id = fields.Nested(ObjectIdSchema, required=True)
    _ns = fields.String(required=True)
    id = fields.String(required=True)
    login = fields.String(required=True)
    name = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)


class RoleCreateSchema(Schema):
    role_id = fields.String(required=True, validate=validate.Regexp(r"^[\-_A-Za-z0-9]+$"))
    display_name = fields.String(allow_none=True)
    description = fields.String(allow_none=True)


class RoleDeltaSchema(Schema):
    display_name = fields.String(allow_none=True)
    description = fields.String(allow_none=True)


class RoleUpdateSchema(Schema):
    delta = fields.Nested(RoleDeltaSchema, required=True)


class RoleSchema(Closed):
    _href = fields.String(required=True)
    _id = fields.Nested(ObjectIdSchema, required=True)
    _ns = fields.String(required=True)
    id = fields.String(required=True)
    display_name = fields.String(required=True)
    description = fields.String(allow_none=True, required=True)
    permissions = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                              required=True, metadata={"description": "resource → operations"})
    users = fields.List(fields.String(), required=True)


class RoleMemberSchema(Schema):
    login = fields.String(required=True)


class PermissionSchema(Closed):
    _id = fields.Nested(ObjectIdSchema, required=True)
    _ns = fields.String(required=True)
    id = fields.String(required=True)
    resource = fields.String(required=True)
    users = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                        required=True, metadata={"description": "login → operations"})


class PermissionQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    resource = fields.String(metadata={"description": "A resource path: only its grants"})


class UserGrantSchema(Schema):
    login = fields.String(required=True)
    resource = fields.String(required=True)
    operations = _OPERATIONS


class RoleGrantSchema(Schema):
    role_id = fields.String(required=True)
    resource = fields.String(required=True)
    operations = _OPERATIONS
