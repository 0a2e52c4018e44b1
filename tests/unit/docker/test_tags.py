"""Tag filters and cosign companion tags (pure)."""
from __future__ import annotations

import pytest

from pulp2ng.importers.docker.tags import (
    companion_tags,
    filter_kwargs_from_config,
    filter_tags,
    is_signature_tag,
)

TAGS = ["latest", "v1", "v1.1", "v2", "v10", "multi", "3.9-slim", "V1"]
HEX = "ab" * 32


@pytest.mark.parametrize("kwargs, expected", [
    ({}, TAGS),
    ({"tags_exact": ["v1", "missing", "latest"]}, ["latest", "v1"]),
    ({"include": ["v?"]}, ["v1", "v2"]),
    ({"include": ["v*"]}, ["v1", "v1.1", "v2", "v10"]),  # case-sensitive: not V1
    ({"include": ["v*"], "exclude": ["v1*"]}, ["v2"]),
    ({"exclude": ["*.*"]}, ["latest", "v1", "v2", "v10", "multi", "V1"]),
    ({"tags_exact": ["multi"], "include": ["v?"]}, ["v1", "v2", "multi"]),
    ({"tags_exact": ["v1"], "exclude": ["v1"]}, []),  # excludes win over exact names
    ({"include": ["[0-9]*"]}, ["3.9-slim"]),
])
def test_filter_tags(kwargs, expected):
    assert filter_tags(TAGS, **kwargs) == expected


def test_filter_keeps_upstream_order_and_dedups():
    assert filter_tags(["b", "a", "b"], include=["*"]) == ["b", "a"]


def test_signature_tags():
    for suffix in ("sig", "att", "sbom"):
        assert is_signature_tag(f"sha256-{HEX}.{suffix}")
    for tag in (f"sha256-{HEX}.asc", f"sha256-{HEX[:-1]}.sig", "v1.sig", f"sha512-{HEX}.sig",
                f"sha256-{HEX.upper()}.sig"):
        assert not is_signature_tag(tag)


def test_companion_tags():
    assert companion_tags(f"sha256:{HEX}") == [f"sha256-{HEX}.sig", f"sha256-{HEX}.att",
                                               f"sha256-{HEX}.sbom"]
    assert all(is_signature_tag(t) for t in companion_tags(f"sha256:{HEX}"))
    assert companion_tags("sha512:abc") == []


def test_filter_kwargs_from_config():
    assert filter_kwargs_from_config({"tags": "v1, v2", "exclude_tags": ["*-rc"]}) == {
        "tags_exact": ["v1", "v2"], "include": None, "exclude": ["*-rc"]}
    assert filter_kwargs_from_config({}) == {"tags_exact": None, "include": None,
                                             "exclude": None}
