"""Seed 004's sample requests, replayed as written, against the harness/demo plugins."""

import json

API = "/pulp/api/v2"

# Verbatim from the seed, including its trailing comma (invalid JSON).
CREATE_SAMPLE = """ {
  "display_name": "Harness Repository: harness_repo_1",
  "id": "harness_repo_1",
  "importer_type_id": "harness_importer",
  "importer_config": {
    "num_units": "5",
    "write_files": "true"
  },
  "distributors": [{
  		"distributor_id": "dist_1",
  		"distributor_type_id": "harness_distributor",
  		"distributor_config": {
    		"publish_dir": "/tmp/harness-publish",
    		"write_files": "true"
  		},
  		"auto_publish": false
  	}],
 }"""

UPDATE_SAMPLE = """ {
  "delta": {
   "display_name" : "Updated"
  },
  "importer_config": {
   "demo_key": "demo_value"
  },
  "distributor_configs": {
   "demo_distributor": {
     "demo_key": "demo_value"
   }
  }
 }"""

IMPORTER_SAMPLE = """ {
  "importer_type_id": "harness_importer",
  "importer_config": {
    "num_units": "5",
    "write_files": "true"
  }
 }"""

DISTRIBUTOR_SAMPLE = """ {
  "distributor_id": "dist_1",
  "distributor_type_id": "harness_distributor",
  "distributor_config": {
    "publish_dir": "/tmp/harness-publish",
    "write_files": "true"
  },
  "auto_publish": false
 }"""

UPDATE_IMPORTER_SAMPLE = """ {
  "importer_config": {
    "demo_key": "demo_value"
  }
 }"""

UPDATE_DISTRIBUTOR_SAMPLE = """ {
  "distributor_config": {
    "demo_key": "demo_value"
  },
  "delta": {
    "auto_publish": true
  }
 }"""

JSON = {"Content-Type": "application/json"}


def post_raw(api, path, text):
    return api.post(path, data=text.encode(), headers=JSON)


def test_create_sample(api):
    api.delete(f"{API}/repositories/harness_repo_1/")
    response = post_raw(api, f"{API}/repositories/", CREATE_SAMPLE)
    # The seed's sample carries a trailing comma; Pulp 2 rejected it as invalid JSON too.
    assert response.status_code == 400 and response.json()["error"]["code"] == "PLP1009"
    fixed = CREATE_SAMPLE.replace("}],\n }", "}]\n }")
    response = post_raw(api, f"{API}/repositories/", fixed)
    assert response.status_code == 201, response.text
    body = response.json()
    expected = {"scratchpad": {}, "display_name": "Harness Repository: harness_repo_1",
                "description": None, "_ns": "repos", "notes": {}, "content_unit_counts": {},
                "id": "harness_repo_1", "_href": "/pulp/api/v2/repositories/harness_repo_1/"}
    assert {k: body[k] for k in expected} == expected
    assert "$oid" in body["_id"]
    dist = api.get(f"{API}/repositories/harness_repo_1/distributors/dist_1/").json()
    assert dist["config"] == json.loads(fixed)["distributors"][0]["distributor_config"]
    api.wait_report(api.delete(f"{API}/repositories/harness_repo_1/"))


def test_importer_and_distributor_samples(api):
    api.wait_report(api.delete(f"{API}/repositories/zoo/")) if api.get(
        f"{API}/repositories/zoo/").status_code == 200 else None
    assert api.post(f"{API}/repositories/", json={"id": "zoo"}).status_code == 201

    [report] = api.wait_report(post_raw(api, f"{API}/repositories/zoo/importers/", IMPORTER_SAMPLE))
    assert report["state"] == "finished"
    result = report["result"]
    assert result["importer_type_id"] == "harness_importer" and result["repo_id"] == "zoo"
    assert result["config"] == {"num_units": "5", "write_files": "true"}
    assert result["id"] == "harness_importer" and result["scratchpad"] is None
    assert result["last_sync"] is None and result["_ns"] == "repo_importers"
    assert set(report["tags"]) == {"pulp:action:update_importer", "pulp:repository:zoo",
                                   "pulp:repository_importer:harness_importer"}

    response = post_raw(api, f"{API}/repositories/zoo/distributors/", DISTRIBUTOR_SAMPLE)
    assert response.status_code == 201
    dist = response.json()
    assert dist["id"] == "dist_1" and dist["auto_publish"] is False
    assert dist["last_publish"] is None and dist["repo_id"] == "zoo"

    [report] = api.wait_report(api.request(
        "PUT", f"{API}/repositories/zoo/importers/harness_importer/",
        data=UPDATE_IMPORTER_SAMPLE.encode(), headers=JSON))
    assert report["result"]["config"]["demo_key"] == "demo_value"
    assert set(report["tags"]) == {"pulp:action:update_importer", "pulp:repository:zoo",
                                   "pulp:repository_importer:harness_importer"}

    [report] = api.wait_report(api.request(
        "PUT", f"{API}/repositories/zoo/distributors/dist_1/",
        data=UPDATE_DISTRIBUTOR_SAMPLE.encode(), headers=JSON))
    assert report["result"]["auto_publish"] is True
    assert set(report["tags"]) == {"pulp:action:update_distributor", "pulp:repository:zoo",
                                   "pulp:repository_distributor:dist_1"}

    [report] = api.wait_report(api.delete(f"{API}/repositories/zoo/distributors/dist_1/"))
    assert set(report["tags"]) == {"pulp:action:remove_distributor", "pulp:repository:zoo",
                                   "pulp:repository_distributor:dist_1"}
    [report] = api.wait_report(api.delete(f"{API}/repositories/zoo/importers/harness_importer/"))
    assert set(report["tags"]) == {"pulp:action:delete_importer", "pulp:repository:zoo",
                                   "pulp:repository_importer:harness_importer"}
    [report] = api.wait_report(api.delete(f"{API}/repositories/zoo/"))
    assert set(report["tags"]) == {"pulp:action:delete", "pulp:repository:zoo"}


def test_update_sample(api):
    body = {"id": "demo_repo", "importer_type_id": "demo_importer",
            "distributors": [{"distributor_type_id": "demo_distributor",
                              "distributor_id": "demo_distributor"}]}
    if api.get(f"{API}/repositories/demo_repo/").status_code == 200:
        api.wait_report(api.delete(f"{API}/repositories/demo_repo/"))
    assert api.post(f"{API}/repositories/", json=body).status_code == 201
    response = api.request("PUT", f"{API}/repositories/demo_repo/",
                           data=UPDATE_SAMPLE.encode(), headers=JSON)
    assert response.status_code == 202
    report = response.json()
    assert report["result"]["display_name"] == "Updated" and report["result"]["id"] == "demo_repo"
    [task] = api.wait_report(response)
    assert task["state"] == "finished"
    assert task["result"]["config"] == {"demo_key": "demo_value"}
    imp = api.get(f"{API}/repositories/demo_repo/importers/demo_importer/").json()
    assert imp["config"] == {"demo_key": "demo_value"}
    api.wait_report(api.delete(f"{API}/repositories/demo_repo/"))
