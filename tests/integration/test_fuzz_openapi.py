"""A bounded property-based run (schemathesis) over the published OpenAPI document: whatever a
client sends that the document allows, or mangles, the API never answers 5xx."""

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402

API = "/pulp/api/v2"
EXAMPLES = 12


def operations(api):
    spec = api.get(f"{API}/docs/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    for result in schema.get_all_operations():
        yield result.ok()


def test_no_server_errors_for_generated_requests(api, repo_factory):
    repo_factory(id="fuzz-repo", importer_type_id="harness_importer",
                 distributors=[{"distributor_type_id": "harness_distributor",
                                "distributor_id": "fuzz-dist"}])
    failures = []
    count = 0
    for operation in operations(api):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def run(case):
                nonlocal count
                count += 1
                response = case.call(base_url=api.base, session=api.session, timeout=30)
                if response.status_code >= 500:
                    failures.append((case.method, case.formatted_path, case.body,
                                     response.status_code, response.text[:300]))
                elif response.status_code >= 400:
                    # Every error is a Pulp error body with a PLP code.
                    body = response.json()
                    assert body["http_status"] == response.status_code
                    assert body["error"]["code"].startswith("PLP"), body

            try:
                run()
            except Unsatisfiable:
                continue  # nothing to mangle (e.g. no parameters in negative mode)
    assert count > 100  # the run really exercised the API
    assert failures == []
