"""Small helpers shared by the blueprints."""

from __future__ import annotations

from flask import current_app, jsonify, request

from pulp2ng import representations as rep


def platform():
    return current_app.extensions["pulp2ng"]


def flag(name: str, source=None) -> bool:
    """Pulp query flags: ``?details=true`` compared case-insensitively to ``true``."""
    value = (source if source is not None else request.args).get(name)
    if isinstance(value, bool):
        return value
    return str(value).lower() == "true" if value is not None else False


def accepted(report):
    """A 202 with the call report."""
    return jsonify(rep.call_report(report)), 202


def created(doc: dict):
    response = jsonify(doc)
    response.status_code = 201
    response.headers["Location"] = doc["_href"]
    return response


def search_body(body: dict | None):
    """A search request from POST JSON or GET query parameters (filters/sort as JSON)."""
    import json

    from pulp2ng.errors import InvalidCriteria, InvalidValue, MissingValue

    if request.method == "POST":
        if body is not None and not isinstance(body, dict):
            raise InvalidValue(["criteria"], "a search body must be an object with criteria")
        if not body or "criteria" not in body:
            raise MissingValue(["criteria"])
        return body["criteria"], body
    args = request.args
    criteria = {}
    for key in ("filters", "sort"):
        if key in args:
            try:
                criteria[key] = json.loads(args[key])
            except ValueError:
                raise InvalidCriteria([key], f"{key} must be JSON") from None
    for key in ("limit", "skip"):
        if key in args:
            criteria[key] = args[key]
    if args.getlist("field"):
        criteria["fields"] = args.getlist("field")
    return criteria, args
