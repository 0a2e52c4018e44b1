"""A bounded property-based run (schemathesis) over the published OpenAPI document: whatever a
client sends that the document allows, or mangles, the API never answers 5xx.

Schemathesis keeps to what the document describes, so a second run takes its generated
requests and mangles them the ways clients break servers: integers beyond BSON's int64 in
bodies and ``limit``/``skip``, control characters in path parameters, JSON nested thousands
deep, bodies above the JSON size limit, and unknown paths under the API (404, not 405).
"""

import json
import re
from urllib.parse import quote

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis.core import NotSet  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402

API = "/pulp/api/v2"
EXAMPLES = 12
MANGLED_EXAMPLES = 8

huge_ints = st.one_of(st.integers(min_value=1 << 63, max_value=10**40),
                      st.integers(min_value=-(10**40), max_value=-(1 << 63) - 1),
                      st.just(10**30))
ESCAPED_CONTROL = re.compile(r"%(?:[01][0-9A-Fa-f]|7[Ff])")
control_chars = st.one_of(st.characters(max_codepoint=0x1F), st.just("\x7f"))


def operations(api):
    spec = api.get(f"{API}/docs/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    for result in schema.get_all_operations():
        yield result.ok()


def fuzz_repository(repo_factory, repo_id: str) -> None:
    """A repository with an importer and a distributor, so generated ids can hit real ones."""
    repo_factory(id=repo_id, importer_type_id="harness_importer",
                 distributors=[{"distributor_type_id": "harness_distributor",
                                "distributor_id": "fuzz-dist"}])


def fuzz(api, session, examples: int, check) -> int:
    """Run every operation's generated requests (valid and invalid) through ``session``;
    ``check(case, response)`` judges each. Returns how many requests were sent."""
    count = 0
    for operation in operations(api):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @settings(max_examples=examples, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def run(case):
                nonlocal count
                count += 1
                check(case, case.call(base_url=api.base, session=session, timeout=30))

            try:
                run()
            except Unsatisfiable:
                continue  # nothing to mangle (e.g. no parameters in negative mode)
    return count


def test_no_server_errors_for_generated_requests(api, repo_factory):
    fuzz_repository(repo_factory, "fuzz-repo")
    failures = []

    def check(case, response):
        if response.status_code >= 500:
            failures.append((case.method, case.formatted_path, case.body,
                             response.status_code, response.text[:300]))
        elif response.status_code >= 400:
            # Every error is a Pulp error body with a PLP code.
            body = response.json()
            assert body["http_status"] == response.status_code
            assert body["error"]["code"].startswith("PLP"), body

    count = fuzz(api, api.session, EXAMPLES, check)
    assert count > 100  # the run really exercised the API
    assert failures == [], "\n".join(map(repr, failures))


def test_a_user_without_permissions_changes_nothing(api, repo_factory):
    """The same generated requests as a user who holds no grant: never a 5xx, never a
    success on a call that changes something (only ``actions/login/`` acts, on itself)."""
    import uuid

    import requests

    fuzz_repository(repo_factory, "fuzz-repo-noperm")
    login = f"noperm-{uuid.uuid4().hex[:6]}"
    assert api.post(f"{API}/users/", json={"login": login, "password": "pw"}).status_code == 201
    session = requests.Session()
    session.auth = (login, "pw")
    failures = []

    def check(case, response):
        mutating = case.method in ("POST", "PUT", "DELETE") and \
            not case.path.endswith(("/search/", "/actions/login/")) and \
            "/search/" not in case.path
        if response.status_code >= 500 or (mutating and response.status_code < 300):
            failures.append((case.method, case.formatted_path, response.status_code,
                             response.text[:300]))

    try:
        count = fuzz(api, session, MANGLED_EXAMPLES, check)
    finally:
        api.delete(f"{API}/users/{login}/")
    assert count > 100
    assert failures == [], "\n".join(map(repr, failures))


def _dicts(value):
    """Every JSON object inside ``value`` (where a huge integer can be planted)."""
    stack, found = [value], []
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _mangle(case, how: str, data) -> tuple[str, dict, str | None, bytes | None, int | None]:
    """``(path, query, content_type, body, expected_status)`` for a mangled ``case``."""
    params = dict(case.path_parameters or {})
    query = dict(case.query or {})
    body = None if isinstance(case.body, NotSet) else case.body
    content_type = "application/json" if case.media_type and "json" in case.media_type \
        else case.media_type
    expected = None
    if how == "control_in_path" and params:
        name = data.draw(st.sampled_from(sorted(params)))
        params[name] = f"{params[name]}{quote(data.draw(control_chars))}x"  # sent as %00…
        expected = 404
    elif how == "huge_int_in_body":
        body = body if isinstance(body, (dict, list)) else {}
        targets = _dicts(body)
        if targets:
            target = data.draw(st.sampled_from(targets))
            key = data.draw(st.sampled_from(sorted(target) + ["limit", "skip", "fuzz"]))
            target[key] = data.draw(huge_ints)
        else:
            body = [*body, data.draw(huge_ints)]
        content_type, expected = "application/json", 400
    elif how == "huge_limit_in_query":
        query[data.draw(st.sampled_from(["limit", "skip"]))] = str(data.draw(huge_ints))
    elif how == "deep_json":
        depth = data.draw(st.sampled_from([100, 1000, 5000]))
        raw = ("[" * depth + "]" * depth).encode()
        return _path(case, params), query, "application/json", raw, 400
    elif how == "large_body":
        raw = b'{"fuzz": "' + b"a" * (5 << 20) + b'"}'
        return _path(case, params), query, "application/json", raw, 413
    elif how == "unknown_api_path":
        path = _path(case, params).replace(API, f"{API}/zz-unknown", 1)
        raw = None if body is None else json.dumps(body).encode()
        return path, query, content_type, raw, 404
    raw = None if body is None else json.dumps(body).encode() \
        if content_type == "application/json" else body
    return _path(case, params), query, content_type, raw, expected


def _path(case, params: dict) -> str:
    return case.path.format(**params)  # schemathesis keeps path parameters percent-encoded


MANGLERS = ["control_in_path", "huge_int_in_body", "huge_limit_in_query", "deep_json",
            "large_body", "unknown_api_path"]


def test_no_server_errors_for_mangled_requests(api, repo_factory):
    """Requests the document allows, broken the ways issue 16 found: never a 5xx, always a
    Pulp error body, and the status each fault calls for (404, 413) where it is certain."""
    fuzz_repository(repo_factory, "fuzz-repo2")
    failures = []
    count = 0
    for operation in operations(api):
        if "/content/uploads/{upload_id}/{offset}/" in operation.path:
            continue  # raw bytes streamed to disk: no JSON, no size limit

        @settings(max_examples=MANGLED_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
               how=st.sampled_from(MANGLERS), data=st.data())
        def run(case, how, data):
            nonlocal count
            count += 1
            path, query, content_type, raw, expected = _mangle(case, how, data)
            if ESCAPED_CONTROL.search(path):
                expected = 404  # generated path parameters may carry control characters too
            headers = {"Content-Type": content_type} if content_type and raw is not None else {}
            response = api.session.request(case.method, api.base + path, params=query,
                                           data=raw, headers=headers, timeout=30)
            status = response.status_code
            if status >= 500 or (expected and status != expected):
                failures.append((how, case.method, path, status, response.text[:300]))
            elif status >= 400:
                body = response.json()
                assert body["http_status"] == status
                assert body["error"]["code"].startswith("PLP"), body

        run()
    assert count > 100
    assert failures == [], "\n".join(map(repr, failures))
