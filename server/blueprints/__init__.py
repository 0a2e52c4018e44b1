"""One flask-smorest Blueprint per resource of the v2 API."""

from pulp2ng.server.blueprints import content, events, repositories, schedules, status, tasks

BLUEPRINTS = [repositories.blp, schedules.blp, tasks.blp, status.blp, content.blp, events.blp]
