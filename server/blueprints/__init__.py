"""One flask-smorest Blueprint per resource of the v2 API, and the web dashboard's plain
Flask blueprint (HTML pages, kept out of the OpenAPI document)."""

from pulp2ng.server.blueprints import (
    agent,
    consumer_groups,
    consumers,
    content,
    dashboard,
    events,
    login,
    profiles,
    repo_groups,
    repositories,
    schedules,
    status,
    tasks,
    users,
)

BLUEPRINTS = [repositories.blp, repo_groups.blp, schedules.blp, tasks.blp, status.blp,
              content.blp, login.blp, users.blp, events.blp, consumers.blp, profiles.blp,
              agent.blp, consumer_groups.blp]

WEB_BLUEPRINTS = [dashboard.blp]
