"""The web dashboard's templates and static assets (package data, see setup.cfg); the pages
themselves are served by ``pulp2ng.server.blueprints.dashboard``."""
