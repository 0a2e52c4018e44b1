"""Sync schedules (per importer) and publish schedules (per distributor)."""

from __future__ import annotations

from flask import jsonify
from flask.views import MethodView

from pulp2ng import representations as rep
from pulp2ng.controllers import schedules
from pulp2ng.server import schemas
from pulp2ng.server.arguments import Blueprint
from pulp2ng.server.blueprints.common import created, platform

blp = Blueprint("schedules", __name__, url_prefix="/pulp/api/v2/repositories/<repo_id>",
                description="Sync and publish schedules")

ROUTES = {
    "sync": "/importers/<owner_id>/schedules/sync/",
    "publish": "/distributors/<owner_id>/schedules/publish/",
}


def _collection(kind: str):
    class Collection(MethodView):
        @blp.response(200, schemas.ScheduleSchema(many=True))
        def get(self, repo_id, owner_id):
            docs = schedules.list_schedules(platform(), repo_id, kind, owner_id)
            return jsonify([rep.schedule(d) for d in docs])

        @blp.arguments(schemas.ScheduleCreateSchema)
        @blp.response(201, schemas.ScheduleSchema)
        def post(self, body, repo_id, owner_id):
            doc = schedules.create_schedule(platform(), repo_id, kind, owner_id, body)
            return created(rep.schedule(doc))

    Collection.__name__ = f"{kind.title()}Schedules"
    return Collection


def _item(kind: str):
    class Item(MethodView):
        @blp.response(200, schemas.ScheduleSchema)
        def get(self, repo_id, owner_id, schedule_id):
            doc = schedules.get_schedule(platform(), repo_id, kind, owner_id, schedule_id)
            return jsonify(rep.schedule(doc))

        @blp.arguments(schemas.ScheduleUpdateSchema)
        @blp.response(200, schemas.ScheduleSchema)
        def put(self, body, repo_id, owner_id, schedule_id):
            doc = schedules.update_schedule(platform(), repo_id, kind, owner_id, schedule_id,
                                            body)
            return jsonify(rep.schedule(doc))

        @blp.response(200, schemas.NULL)
        def delete(self, repo_id, owner_id, schedule_id):
            schedules.delete_schedule(platform(), repo_id, kind, owner_id, schedule_id)
            return jsonify(None)

    Item.__name__ = f"{kind.title()}Schedule"
    return Item


for _kind, _path in ROUTES.items():
    blp.route(_path, endpoint=f"{_kind}_schedules")(_collection(_kind))
    blp.route(_path + "<schedule_id>/", endpoint=f"{_kind}_schedule")(_item(_kind))
