"""Request guards run before any view: bad input is a Pulp 4xx, never a 500 from deep inside.

* Bodies above ``[server] max_json_body_size`` bytes are refused with 413 before they are
  read; upload chunk PUTs stream to disk and are exempt.
* JSON bodies are parsed here once (views and webargs reuse the cached result) and refused
  when malformed, nested deeper than MongoDB stores, or holding integers BSON cannot encode
  (signed 64-bit).
* Paths with control characters (``%00``) name nothing: 404.
"""

from __future__ import annotations

import re

from flask import current_app, request
from werkzeug.exceptions import BadRequest

from pulp2ng.errors import InvalidJSON, InvalidValue, NotFound, RequestTooLarge

#: Views that read the raw body as a stream, whatever its size.
STREAMED_ENDPOINTS = {"units.upload_chunk"}
#: Deepest nesting accepted in a JSON body; MongoDB stores at most 100 levels, and stored
#: documents wrap request values a few levels down.
MAX_DEPTH = 64
INT64 = range(-(1 << 63), 1 << 63)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def init_guards(app, max_json_body_size: int) -> None:
    app.config["PULP2NG_MAX_JSON_BODY_SIZE"] = max_json_body_size
    app.before_request(guard_request)


def guard_request() -> None:
    if _CONTROL.search(request.path):
        raise NotFound(f"Resource not found: {request.path!r}")
    if request.routing_exception is not None or request.endpoint in STREAMED_ENDPOINTS:
        return  # an unknown URL or method is that 404/405 whatever the body
    limit = current_app.config["PULP2NG_MAX_JSON_BODY_SIZE"]
    if request.content_length is not None and request.content_length > limit:
        raise RequestTooLarge(request.content_length, limit)
    if request.is_json and request.content_length:
        check_json_value(parse_json_body())


def parse_json_body():
    """The request's JSON (cached by Flask for the view); malformed JSON is PLP1009."""
    try:
        return request.get_json()
    except BadRequest:
        raise InvalidJSON() from None
    except RecursionError:
        raise InvalidJSON(f"The request body nests deeper than {MAX_DEPTH} levels") from None


def check_json_value(value, where: str = "") -> None:
    """Refuse integers outside BSON's int64 and nesting deeper than MAX_DEPTH (iteratively,
    so the check itself cannot overflow the stack)."""
    stack = [(value, where, 0)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            if value not in INT64:
                raise InvalidValue([where or "body"],
                                   f"{where or 'body'}: integer out of signed 64-bit range")
        elif isinstance(value, (dict, list)):
            if depth >= MAX_DEPTH:
                raise InvalidValue([where or "body"],
                                   f"The request body nests deeper than {MAX_DEPTH} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                name = f"{where}[{key}]" if isinstance(value, list) else \
                    f"{where}.{key}" if where else str(key)
                stack.append((item, name, depth + 1))
