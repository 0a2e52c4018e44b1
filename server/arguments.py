"""Request parsing: marshmallow validation whose failures become Pulp 400s, not webargs 422s."""

from __future__ import annotations

import flask_smorest
from webargs.flaskparser import FlaskParser, is_json_request

from pulp2ng.errors import InvalidJSON, InvalidType, InvalidValue, MissingValue, UnsupportedValue
from pulp2ng.server.bodies import parse_json_body

_MISSING = "Missing data for required field."
_UNKNOWN = "Unknown field."


class PulpParser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        raise InvalidJSON()

    def _raw_load_json(self, req):
        """The body server/bodies.py already parsed and checked, not a second parse."""
        if not is_json_request(req) or not req.content_length:
            return super()._raw_load_json(req)
        return parse_json_body()

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        messages = error.messages
        for location in ("json", "query", "form"):
            if isinstance(messages, dict) and location in messages:
                messages = messages[location]
        if isinstance(messages, dict) and "_schema" in messages:
            raise InvalidType([], "The request body must be a JSON object")
        fields = sorted(messages) if isinstance(messages, dict) else []
        missing = [f for f in fields if messages[f] == [_MISSING]]
        if missing:
            raise MissingValue(missing)
        unknown = [f for f in fields if messages[f] == [_UNKNOWN]]
        if unknown and len(unknown) == len(fields):
            raise UnsupportedValue(unknown, f"Unsupported properties: {unknown}")
        details = "; ".join(f"{f}: {' '.join(map(str, _flat(messages[f])))}" for f in fields)
        raise InvalidValue(fields, f"Invalid properties: {details or messages}")


def _flat(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _flat(v)
    elif isinstance(value, list):
        for v in value:
            yield from _flat(v)
    else:
        yield value


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest Blueprint whose arguments fail the Pulp way."""

    ARGUMENTS_PARSER = PulpParser()

    @staticmethod
    def post_body(schema):
        """Document ``schema`` as the JSON body of POST only, for a GET+POST view whose GET
        reads the same from query parameters (search endpoints). Put it right below
        ``route``; it documents, the view still parses."""

        def decorator(func):
            func._post_body = schema
            return func

        return decorator

    def _store_endpoint_docs(self, endpoint, obj, parameters, tags, **options):
        super()._store_endpoint_docs(endpoint, obj, parameters, tags, **options)
        schema = getattr(obj, "_post_body", None)
        post = self._docs.get(endpoint, {}).get("post")
        if schema is not None and post is not None:
            post.setdefault("manual_doc", {})["requestBody"] = {
                "required": True, "content": {"application/json": {"schema": schema}}}
