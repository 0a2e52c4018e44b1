"""Python uploads (import_upload of a wheel or sdist) and copies between repositories.

Kept apart from test_python.py, which covers syncs.
"""

import hashlib
import subprocess
import sys
import uuid

import pytest

from tests.conftest import FIXTURES
from tests.integration.test_python import counts, published_files, stored_units

API = "/pulp/api/v2"


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    out = tmp_path_factory.mktemp("pyup") / "dist"
    subprocess.run([sys.executable, str(FIXTURES / "make_py_packages.py"), str(out),
                    "--spec", "upload-demo==1.0", "--spec", "upload-demo==2.0"],
                   check=True, capture_output=True)
    return out


def new_repo(api, repo_id=None):
    repo_id = repo_id or f"pyup-{uuid.uuid4().hex[:8]}"
    response = api.post(f"{API}/repositories/", json={
        "id": repo_id, "importer_type_id": "python_importer", "importer_config": {},
        "distributors": [{"distributor_type_id": "python_distributor",
                          "distributor_id": "python_distributor", "auto_publish": True}]})
    assert response.status_code == 201, response.text
    return repo_id


def upload(api, repo_id, path, unit_key):
    created = api.post(f"{API}/content/uploads/")
    assert created.status_code == 201, created.text
    upload_id = created.json()["upload_id"]
    put = api.put(f"{API}/content/uploads/{upload_id}/0/", data=path.read_bytes())
    assert put.status_code == 200, put.text
    response = api.post(f"{API}/repositories/{repo_id}/actions/import_upload/", json={
        "upload_id": upload_id, "unit_type_id": "python_package", "unit_key": unit_key,
        "unit_metadata": {}})
    reports = api.wait_report(response)
    api.delete(f"{API}/content/uploads/{upload_id}/")
    return reports[0]


def publish(api, repo_id):
    response = api.post(f"{API}/repositories/{repo_id}/actions/publish/",
                        json={"id": "python_distributor"})
    assert [r["state"] for r in api.wait_report(response)] == ["finished"]


def test_upload_wheel_and_sdist_then_copy(api, wheels):
    repo_id = new_repo(api)
    files = ["upload_demo-1.0-py3-none-any.whl", "upload_demo-1.0.tar.gz",
             "upload_demo-2.0-py3-none-any.whl"]
    for name in files:
        path = wheels / name
        key = {"filename": name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        report = upload(api, repo_id, path, key)
        assert report["state"] == "finished", report
    assert counts(api, repo_id) == {"python_package": 3}
    publish(api, repo_id)
    assert published_files(api, repo_id) == set(files)

    dest = new_repo(api)
    response = api.post(f"{API}/repositories/{dest}/actions/associate/", json={
        "source_repo_id": repo_id,
        "criteria": {"type_ids": ["python_package"],
                     "filters": {"unit": {"version": "1.0"}}}})
    assert [r["state"] for r in api.wait_report(response)] == ["finished"]
    assert counts(api, dest) == {"python_package": 2}
    publish(api, dest)
    assert published_files(api, dest) == set(files[:2])


@pytest.mark.parametrize("problem", ["sha256", "md5", "pulp2 checksum", "checksumtype",
                                     "filename"])
def test_upload_must_match_its_unit_key(api, wheels, problem):
    repo_id = new_repo(api)
    path = wheels / "upload_demo-1.0-py3-none-any.whl"
    key = {"filename": path.name, "sha256": "0" * 64}
    message = "does not match the unit key"
    if problem == "md5":
        key = {"filename": path.name, "md5": "0" * 32}
    elif problem == "pulp2 checksum":
        key = {"filename": path.name, "checksum": "0" * 64, "checksumtype": "sha256"}
    elif problem == "checksumtype":
        key = {"filename": path.name, "checksum": "0" * 8, "checksumtype": "crc32"}
        message = "checksumtype 'crc32'"
    elif problem == "filename":
        key = {"filename": "upload_demo-3.0-py3-none-any.whl"}
        message = "does not match its metadata"
    report = upload(api, repo_id, path, key)
    assert report["state"] == "error", report
    assert message in report["error"]["description"], report["error"]
    assert report["error"]["code"] == "PLP0047"
    assert counts(api, repo_id) == {}
    if problem == "filename":   # the claimed file was never stored under any repository
        assert stored_units(api, [key["filename"]]) == set()
