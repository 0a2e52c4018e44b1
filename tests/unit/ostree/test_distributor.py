"""The distributor's config validation (the HTTP path is covered by the integration tests)."""
from __future__ import annotations

import pytest

from pulp2ng.distributors.ostree.distributor import OSTreeDistributor
from pulp2ng.plugin import CallConfig

from .conftest import require_tool


class NoOtherRepos:
    def get_repo_distributors_by_relative_url(self, key, wanted, repo_id):
        return []


def validate(**config):
    return OSTreeDistributor().validate_config(
        {"id": "repo"}, CallConfig(OSTreeDistributor.default_config, {}, config), NoOtherRepos())


@pytest.mark.parametrize("config, fragment", [
    ({"compute_delta": "sometimes"}, "compute_delta must be a boolean"),
    ({"compute_delta": 2}, "compute_delta must be a boolean"),
    ({"depth": -2}, "depth must be"),
    ({"depth": "deep"}, "invalid literal"),
])
def test_bad_values_rejected(config, fragment):
    ok, why = validate(**config)
    assert not ok and fragment in why


def test_compute_delta_needs_the_ostree_command(tmp_path, monkeypatch):
    require_tool("ostree")
    assert validate(compute_delta=True) == (True, None)
    monkeypatch.setenv("PATH", str(tmp_path))
    ok, why = validate(compute_delta="true")
    assert not ok and "ostree command" in why and "not installed" in why
    assert validate(compute_delta=False) == (True, None)
