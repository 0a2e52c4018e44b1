"""``users/``, ``roles/`` and ``permissions/``: who may log in and what each may do."""

from __future__ import annotations

from flask import jsonify, request
from flask.views import MethodView

from pulp2ng import representations as rep
from pulp2ng.controllers import permissions, users
from pulp2ng.db.criteria import parse_criteria
from pulp2ng.server import schemas
from pulp2ng.server.arguments import Blueprint
from pulp2ng.server.blueprints.common import created, platform, search_body

blp = Blueprint("users", __name__, url_prefix="/pulp/api/v2",
                description="Users, roles and permissions")


def _store():
    return platform().store


def _roles(docs: list[dict]) -> list[dict]:
    return [rep.role(r, members, perms)
            for r, members, perms in permissions.roles_in_full(_store(), docs)]


@blp.route("/users/")
class Users(MethodView):
    @blp.response(200, schemas.UserSchema(many=True))
    def get(self):
        """Every user (never a password)."""
        docs = _store().search_users(parse_criteria({}))
        return jsonify([rep.user(u) for u in docs])

    @blp.arguments(schemas.UserCreateSchema)
    @blp.response(201, schemas.UserSchema)
    def post(self, body):
        """Create a user; ``name`` defaults to the login."""
        return created(rep.user(users.create_user(_store(), body)))


@blp.route("/users/search/", methods=["GET", "POST"])
@blp.post_body(schemas.SearchSchema)
@blp.response(200, schemas.UserSchema(many=True))
def search_users():
    """Search users with Pulp criteria (``login`` is the stored ``_id``)."""
    criteria, _ = search_body(request.get_json(silent=True) if request.method == "POST"
                              else None)
    parsed = parse_criteria(criteria)
    docs = _store().search_users(parsed.renamed({"login": "_id", "id": "_id"}))
    return jsonify(rep.only_fields([rep.user(u) for u in docs], parsed.fields,
                                   {"_href", "login"}))


@blp.route("/users/<login>/")
class User(MethodView):
    @blp.response(200, schemas.UserSchema)
    def get(self, login):
        """One user."""
        return jsonify(rep.user(users.get_user(_store(), login)))

    @blp.arguments(schemas.UserUpdateSchema)
    @blp.response(200, schemas.UserSchema)
    def put(self, body, login):
        """Change ``password``, ``name`` or ``roles``; a new password revokes the user's
        login certificates; the last super-user cannot leave ``super-users``."""
        return jsonify(rep.user(users.update_user(_store(), login, body)))

    @blp.response(200, schemas.NULL)
    def delete(self, login):
        """Delete a user with its permissions (never the last super-user)."""
        users.delete_user(_store(), login)
        return jsonify(None)


@blp.route("/roles/")
class Roles(MethodView):
    @blp.response(200, schemas.RoleSchema(many=True))
    def get(self):
        """Every role with its users and permissions."""
        return jsonify(_roles(_store().list_roles()))

    @blp.arguments(schemas.RoleCreateSchema)
    @blp.response(201, schemas.RoleSchema)
    def post(self, body):
        """Create a role (``role_id``, ``display_name``, ``description``)."""
        return created(_roles([users.create_role(_store(), body)])[0])


@blp.route("/roles/<role_id>/")
class Role(MethodView):
    @blp.response(200, schemas.RoleSchema)
    def get(self, role_id):
        """One role with its users and permissions."""
        return jsonify(_roles([users.get_role(_store(), role_id)])[0])

    @blp.arguments(schemas.RoleUpdateSchema)
    @blp.response(200, schemas.RoleSchema)
    def put(self, body, role_id):
        """Change ``display_name`` or ``description``."""
        return jsonify(_roles([users.update_role(_store(), role_id, body)])[0])

    @blp.response(200, schemas.NULL)
    def delete(self, role_id):
        """Delete a role (never ``super-users``); its members lose its permissions."""
        users.delete_role(_store(), role_id)
        return jsonify(None)


@blp.route("/roles/<role_id>/users/", methods=["POST"])
@blp.arguments(schemas.RoleMemberSchema)
@blp.response(200, schemas.NULL)
def add_role_member(body, role_id):
    """Add a user to a role."""
    users.add_user_to_role(_store(), role_id, body)
    return jsonify(None)


@blp.route("/roles/<role_id>/users/<login>/", methods=["DELETE"])
@blp.response(200, schemas.NULL)
def remove_role_member(role_id, login):
    """Remove a user from a role."""
    users.remove_user_from_role(_store(), role_id, login)
    return jsonify(None)


@blp.route("/permissions/", methods=["GET"])
@blp.arguments(schemas.PermissionQuerySchema, location="query")
@blp.response(200, schemas.PermissionSchema(many=True))
def list_permissions(query):
    """Users' grants per resource, all or for ``?resource=``."""
    entries = permissions.list_permissions(_store(), query.get("resource"))
    return jsonify([rep.permission(e) for e in entries])


def _grant_view(action: str, kind: str, schema):
    change = permissions.grant if action.startswith("grant") else permissions.revoke

    @blp.arguments(schema)
    @blp.response(200, schemas.NULL)
    def view(body):
        change(_store(), body, kind)
        return jsonify(None)

    view.__name__ = view.__qualname__ = action
    view.__doc__ = f"{action.replace('_', ' ').capitalize()}: operations on a resource path."
    blp.route(f"/permissions/actions/{action}/", methods=["POST"])(view)


for _action, _kind, _schema in (("grant_to_user", "user", schemas.UserGrantSchema),
                                ("revoke_from_user", "user", schemas.UserGrantSchema),
                                ("grant_to_role", "role", schemas.RoleGrantSchema),
                                ("revoke_from_role", "role", schemas.RoleGrantSchema)):
    _grant_view(_action, _kind, _schema)
