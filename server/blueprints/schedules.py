"""Sync schedules (per importer), publish schedules (per distributor) and content action
schedules (per consumer and action): one set of views, each kind naming its owner."""

from __future__ import annotations

from flask import jsonify
from flask.views import MethodView

from pulp2ng import representations as rep
from pulp2ng.controllers import schedules
from pulp2ng.server import schemas
from pulp2ng.server.arguments import Blueprint
from pulp2ng.server.blueprints.common import created, platform

blp = Blueprint("schedules", __name__, url_prefix="/pulp/api/v2",
                description="Sync, publish and consumer content action schedules")


def _repository_owner(kind: str):
    return lambda repo_id, owner_id: schedules.repository_owner(platform(), repo_id, kind,
                                                                owner_id)


def _consumer_owner(consumer_id, action):
    return schedules.consumer_owner(platform(), consumer_id, action)


#: kind → (collection path, owner from the path's variables, create and update schemas).
ROUTES = {
    "sync": ("/repositories/<repo_id>/importers/<owner_id>/schedules/sync/",
             _repository_owner("sync"), schemas.ScheduleCreateSchema,
             schemas.ScheduleUpdateSchema),
    "publish": ("/repositories/<repo_id>/distributors/<owner_id>/schedules/publish/",
                _repository_owner("publish"), schemas.ScheduleCreateSchema,
                schemas.ScheduleUpdateSchema),
    "content": ("/consumers/<consumer_id>/schedules/content/"
                "<any(install,update,uninstall):action>/", _consumer_owner,
                schemas.ContentScheduleCreateSchema, schemas.ContentScheduleUpdateSchema),
}


def _collection(kind: str, owner_of, create_schema):
    class Collection(MethodView):
        @blp.response(200, schemas.ScheduleSchema(many=True))
        def get(self, **path):
            docs = schedules.list_schedules(platform(), owner_of(**path))
            return jsonify([rep.schedule(d) for d in docs])

        @blp.arguments(create_schema)
        @blp.response(201, schemas.ScheduleSchema)
        def post(self, body, **path):
            doc = schedules.create_schedule(platform(), owner_of(**path), body)
            return created(rep.schedule(doc))

    Collection.__name__ = f"{kind.title()}Schedules"
    return Collection


def _item(kind: str, owner_of, update_schema):
    class Item(MethodView):
        @blp.response(200, schemas.ScheduleSchema)
        def get(self, schedule_id, **path):
            doc = schedules.get_schedule(platform(), owner_of(**path), schedule_id)
            return jsonify(rep.schedule(doc))

        @blp.arguments(update_schema)
        @blp.response(200, schemas.ScheduleSchema)
        def put(self, body, schedule_id, **path):
            doc = schedules.update_schedule(platform(), owner_of(**path), schedule_id, body)
            return jsonify(rep.schedule(doc))

        @blp.response(200, schemas.NULL)
        def delete(self, schedule_id, **path):
            schedules.delete_schedule(platform(), owner_of(**path), schedule_id)
            return jsonify(None)

    Item.__name__ = f"{kind.title()}Schedule"
    return Item


for _kind, (_path, _owner_of, _create, _update) in ROUTES.items():
    blp.route(_path, endpoint=f"{_kind}_schedules")(_collection(_kind, _owner_of, _create))
    blp.route(_path + "<schedule_id>/", endpoint=f"{_kind}_schedule")(
        _item(_kind, _owner_of, _update))
