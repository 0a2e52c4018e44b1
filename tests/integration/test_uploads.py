"""Chunked uploads and import_upload, through HTTP against a real stack."""

import hashlib
import os
import time
import uuid

import pytest

from tests.integration.test_content_api import assert_error, new_repo, search

API = "/pulp/api/v2"
UPLOADS = f"{API}/content/uploads/"


def start_upload(api):
    response = api.post(UPLOADS)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"_href", "upload_id"}
    assert body["_href"] == f"{UPLOADS}{body['upload_id']}/"
    assert response.headers["Location"] == body["_href"]
    return body["upload_id"]


def put_chunk(api, upload_id, offset, data):
    return api.request("PUT", f"{UPLOADS}{upload_id}/{offset}/", data=data,
                       headers={"Content-Type": "application/octet-stream"})


def upload_out_of_order(api, data: bytes, pieces: int = 4) -> str:
    upload_id = start_upload(api)
    size = -(-len(data) // pieces)
    chunks = [(i, data[i:i + size]) for i in range(0, len(data), size)]
    for offset, chunk in reversed(chunks[1:]):
        response = put_chunk(api, upload_id, offset, chunk)
        assert response.status_code == 200 and response.json() is None, response.text
    assert put_chunk(api, upload_id, 0, chunks[0][1]).status_code == 200
    return upload_id


def import_upload(api, repo_id, upload_id, key):
    return api.post(f"{API}/repositories/{repo_id}/actions/import_upload/", json={
        "upload_id": upload_id, "unit_type_id": "iso", "unit_key": key,
        "unit_metadata": {}})


@pytest.fixture
def data():
    return os.urandom(3 * 1024 * 1024 + 12345)


def test_chunks_out_of_order_then_import(api, stack, data):
    repo_id = new_repo(api)
    upload_id = upload_out_of_order(api, data)
    assert upload_id in api.get(UPLOADS).json()["upload_ids"]
    assert (stack.storage / "uploads" / upload_id).read_bytes() == data
    key = {"name": f"up-{uuid.uuid4().hex[:6]}.iso", "checksum": hashlib.sha256(data).hexdigest(),
           "size": len(data)}
    response = import_upload(api, repo_id, upload_id, key)
    [report] = api.wait_report(response)
    assert report["state"] == "finished", report
    assert set(report["tags"]) == {f"pulp:repository:{repo_id}", "pulp:action:import_upload"}
    assert report["result"]["success_flag"] is True
    repo = api.get(f"{API}/repositories/{repo_id}/").json()
    assert repo["content_unit_counts"] == {"iso": 1} and repo["last_unit_added"]
    [assoc] = search(api, repo_id, {}).json()
    unit = assoc["metadata"]
    assert {k: unit[k] for k in key} == key
    assert (stack.storage / unit["_storage_path"]).read_bytes() == data
    assert api.delete(f"{UPLOADS}{upload_id}/").json() is None
    assert upload_id not in api.get(UPLOADS).json()["upload_ids"]
    assert_error(api.delete(f"{UPLOADS}{upload_id}/"), 404, "PLP0009")


def test_wrong_checksum_is_rejected_and_stores_nothing(api, stack, data):
    repo_id = new_repo(api)
    upload_id = upload_out_of_order(api, data, pieces=3)
    name = f"bad-{uuid.uuid4().hex[:6]}.iso"
    wrong = hashlib.sha256(b"something else").hexdigest()
    [report] = api.wait_report(import_upload(api, repo_id, upload_id,
                                             {"name": name, "checksum": wrong,
                                              "size": len(data)}))
    assert report["state"] == "error"
    assert report["error"]["code"] == "PLP0047", report["error"]
    assert api.get(f"{API}/repositories/{repo_id}/").json()["content_unit_counts"] == {}
    found = api.post(f"{API}/content/units/iso/search/",
                     json={"criteria": {"filters": {"name": name}}}).json()
    assert found == []
    digest = hashlib.sha256(data).hexdigest()
    assert not (stack.storage / "content" / "iso" / digest[:2] / digest[2:]).exists()


def test_bad_offsets_and_ids(api, stack):
    upload_id = start_upload(api)
    for offset in ("-1", "abc", "1.5", "0x10"):
        body = assert_error(put_chunk(api, upload_id, offset, b"x"), 400, "PLP1010")
        assert body["property_names"] == ["offset"]
    assert_error(put_chunk(api, uuid.uuid4().hex, 0, b"x"), 404, "PLP0009")
    for bad in ("%2e%2e", "..%2F..%2Fetc", "A" * 32, "0" * 33, "0" * 31 + "."):
        response = put_chunk(api, bad, 0, b"x")
        # An id holding "/" matches no upload route (the published-content route answers 405).
        assert response.status_code in (404, 405), (bad, response.text)
        assert response.json()["error"]["code"].startswith("PLP")
    assert sorted(p.name for p in stack.storage.iterdir()) == [
        "content", "published", "tmp", "uploads", "working"]
    assert_error(api.delete(f"{UPLOADS}{uuid.uuid4().hex}/"), 404, "PLP0009")


def test_import_upload_bad_requests(api):
    repo_id = new_repo(api)
    upload_id = start_upload(api)
    url = f"{API}/repositories/{repo_id}/actions/import_upload/"
    key = {"name": "a.iso", "checksum": "0" * 64, "size": 0}
    assert_error(api.post(url, json={"upload_id": upload_id, "unit_type_id": "iso"}), 400,
                 "PLP1004")
    assert_error(api.post(url, json={"upload_id": uuid.uuid4().hex, "unit_type_id": "iso",
                                     "unit_key": key}), 404, "PLP0009")
    assert_error(api.post(url, json={"upload_id": upload_id, "unit_type_id": "nosuchtype",
                                     "unit_key": key}), 404, "PLP0009")
    bare = f"up-{uuid.uuid4().hex[:8]}"
    assert api.post(f"{API}/repositories/", json={"id": bare}).status_code == 201
    assert_error(api.post(f"{API}/repositories/{bare}/actions/import_upload/",
                          json={"upload_id": upload_id, "unit_type_id": "iso",
                                "unit_key": key}), 400, "PLP0044")


def test_abandoned_uploads_expire(api, stack):
    upload_id = start_upload(api)
    old = time.time() - 3 * 86400
    os.utime(stack.storage / "uploads" / upload_id, (old, old))
    deadline = time.monotonic() + 20
    while upload_id in api.get(UPLOADS).json()["upload_ids"]:
        assert time.monotonic() < deadline, "the scheduler did not expire the upload"
        time.sleep(0.2)
