"""Unknown importer/distributor keys are kept (as Pulp 2 kept them) and named as warnings."""

from __future__ import annotations

API = "/pulp/api/v2"


def test_typo_in_importer_config_is_kept_and_named(api, repo_factory):
    repo = repo_factory(importer_type_id="iso_importer",
                        importer_config={"feed": "http://127.0.0.1:9/", "remove_misssing": True},
                        distributors=[{"distributor_type_id": "iso_distributor",
                                       "distributor_id": "d", "distributor_config":
                                       {"relative_url": "x", "serve_htps": True}}])
    assert len(repo["warnings"]) == 2
    assert "'remove_misssing'" in repo["warnings"][0] and "iso_importer" in repo["warnings"][0]
    assert "'serve_htps'" in repo["warnings"][1] and "distributors[0]" in repo["warnings"][1]
    imp = api.get(f"{API}/repositories/{repo['id']}/importers/iso_importer/").json()
    assert imp["config"]["remove_misssing"] is True

    response = api.put(f"{API}/repositories/{repo['id']}/importers/iso_importer/",
                       json={"importer_config": {"max_downloadz": 3, "validate": False}})
    assert response.status_code == 202
    assert [w for w in response.json()["warnings"] if "'max_downloadz'" in w]
    assert not [w for w in response.json()["warnings"] if "'validate'" in w]
    assert api.wait_report(response)[0]["state"] == "finished"

    response = api.put(f"{API}/repositories/{repo['id']}/",
                       json={"importer_config": {"feeed": "x"},
                             "distributor_configs": {"d": {"relative_urll": "y"}}})
    assert response.status_code == 202
    warnings = response.json()["warnings"]
    assert any("'feeed'" in w for w in warnings) and any("'relative_urll'" in w for w in warnings)
    api.wait_report(response)

    response = api.put(f"{API}/repositories/{repo['id']}/distributors/d/",
                       json={"distributor_config": {"relative_url": "z", "bogus": 1}})
    assert response.status_code == 202
    assert [w for w in response.json()["warnings"] if "'bogus'" in w]
    api.wait_report(response)


def test_known_keys_give_no_warnings(api, repo_factory):
    repo = repo_factory(importer_type_id="python_importer",
                        importer_config={"feed": "http://127.0.0.1:9/", "package_names": "a",
                                         "max_downloads": 2, "proxy_password": "p"},
                        distributors=[{"distributor_type_id": "python_distributor",
                                       "distributor_id": "p"}])
    assert "warnings" not in repo
    response = api.post(f"{API}/repositories/{repo['id']}/distributors/",
                        json={"distributor_type_id": "python_distributor",
                              "distributor_id": "q", "distributor_config":
                              {"relative_url": "elsewhere"}})
    assert response.status_code == 201 and "warnings" not in response.json()


def test_python_importer_keeps_an_unknown_key(api, repo_factory):
    repo = repo_factory(importer_type_id="python_importer",
                        importer_config={"feed": "http://127.0.0.1:9/", "packages_names": "a"})
    assert any("'packages_names'" in w for w in repo["warnings"])
