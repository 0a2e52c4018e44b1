"""One flask-smorest Blueprint per resource of the v2 API."""

from pulp2ng.server.blueprints import content, repo_groups, repositories, schedules, status, tasks

BLUEPRINTS = [repositories.blp, repo_groups.blp, schedules.blp, tasks.blp, status.blp, content.blp]
