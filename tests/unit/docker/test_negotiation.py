"""Manifest negotiation, error bodies and pagination for the served registry API (pure)."""
from __future__ import annotations

import json

import pytest

from pulp2ng.distributors.docker.negotiation import (
    NOT_ACCEPTABLE,
    SERVE_CHILD,
    SERVE_STORED,
    catalog_page,
    choose_manifest,
    error_body,
    error_response,
    paginate,
    parse_accept,
    tags_page,
)

LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX = "application/vnd.oci.image.index.v1+json"
V2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI = "application/vnd.oci.image.manifest.v1+json"
S1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"


def test_parse_accept_flattens_repeated_headers_and_drops_params():
    assert parse_accept([f"{V2}, {LIST};q=0.5", f"{S1} ; q=0"]) == [V2, LIST]
    assert parse_accept(None) == [] and parse_accept("") == []


@pytest.mark.parametrize("accept, stored, is_list, expected", [
    ([V2, LIST], LIST, True, SERVE_STORED),
    ([f"{V2}, {LIST}"], LIST, True, SERVE_STORED),
    ([V2], LIST, True, SERVE_CHILD),  # old docker: amd64 child
    (None, LIST, True, SERVE_CHILD),
    (["*/*"], LIST, True, SERVE_CHILD),  # a wildcard is not a list-aware client
    ([LIST], INDEX, True, SERVE_CHILD),
    ([INDEX], INDEX, True, SERVE_STORED),
    ([V2], V2, False, SERVE_STORED),
    (None, V2, False, SERVE_STORED),  # no schema 1 conversion: serve what is stored
    ([S1], S1, False, SERVE_STORED),
    ([V2], OCI, False, NOT_ACCEPTABLE),
    ([OCI], OCI, False, SERVE_STORED),
])
def test_choose_manifest(accept, stored, is_list, expected):
    choice = choose_manifest(accept, stored, is_list, default_child="amd64-child")
    assert choice.action == expected
    assert choice.child == ("amd64-child" if expected == SERVE_CHILD else None)


def test_list_without_default_child_is_not_acceptable():
    assert choose_manifest([V2], LIST, True, None).action == NOT_ACCEPTABLE


def test_error_bodies():
    assert error_body("MANIFEST_UNKNOWN", detail={"Tag": "v9"}) == {"errors": [
        {"code": "MANIFEST_UNKNOWN", "message": "manifest unknown", "detail": {"Tag": "v9"}}]}
    assert error_body("BLOB_UNKNOWN", "gone")["errors"][0] == {"code": "BLOB_UNKNOWN",
                                                               "message": "gone"}
    expected_status = {"MANIFEST_UNKNOWN": 404, "BLOB_UNKNOWN": 404, "NAME_UNKNOWN": 404,
                       "UNAUTHORIZED": 401, "UNSUPPORTED": 405}
    for code, status in expected_status.items():
        got_status, body, headers = error_response(code)
        assert got_status == status and json.loads(body)["errors"][0]["code"] == code
        assert headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        error_body("NOPE")


def test_paginate():
    items = ["c", "a", "b", "a", "d"]
    assert paginate(items) == (["a", "b", "c", "d"], False)
    assert paginate(items, n=2) == (["a", "b"], True)
    assert paginate(items, n="2", last="b") == (["c", "d"], False)
    assert paginate(items, n=0) == ([], True)
    assert paginate(items, last="d") == ([], False)
    for bad in ("x", -1, "1.5"):
        with pytest.raises(ValueError):
            paginate(items, n=bad)


def test_tags_page_walks_with_link():
    tags = ["v2", "latest", "v1", "multi", "a b"]
    seen, last, links = [], None, []
    while True:
        body, link = tags_page("fixtures/app", tags, n=2, last=last)
        assert body["name"] == "fixtures/app"
        seen += body["tags"]
        if link is None:
            break
        links.append(link)
        last = body["tags"][-1]
    assert seen == sorted(tags)
    assert links[0] == '</v2/fixtures/app/tags/list?last=latest&n=2>; rel="next"'
    assert links[1] == '</v2/fixtures/app/tags/list?last=v1&n=2>; rel="next"'
    assert tags_page("r", tags) == ({"name": "r", "tags": sorted(tags)}, None)
    assert tags_page("r", ["a b", "c"], n=1)[1] == '</v2/r/tags/list?last=a%20b&n=1>; rel="next"'


def test_catalog_page():
    body, link = catalog_page(["b/x", "a/y", "c/z"], n=2)
    assert body == {"repositories": ["a/y", "b/x"]}
    assert link == '</v2/_catalog?last=b%2Fx&n=2>; rel="next"'
    assert catalog_page(["b/x", "a/y", "c/z"], n=2, last="b/x") == (
        {"repositories": ["c/z"]}, None)


def test_docker_hub_official_images_live_under_library():
    from pulp2ng.importers.docker.importer import upstream_repository

    assert upstream_repository("https://registry-1.docker.io", "busybox") == "library/busybox"
    assert upstream_repository("https://registry-1.docker.io", "me/app") == "me/app"
    assert upstream_repository("http://127.0.0.1:5000", "busybox") == "busybox"
