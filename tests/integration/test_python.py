"""Python content (issue 5, seed 002): sync from a PyPI-compatible index with the seed's
include/exclude forms, publish an index pip installs from, chain pulp2ng to pulp2ng, and
reject faulty upstreams with nothing stored."""

import hashlib
import os
import re
import subprocess
import sys
import time
import uuid

import pytest
import requests

from tests.conftest import FIXTURES

API = "/pulp/api/v2"
SPECS = ["Django==1.11", "Django==2.0", "Django==2.0.1", "Django==2.1", "Django==2.2b1",
         "Django==3.0", "pip-tools==1.11", "pip-tools==1.12", "pip-tools==2.0",
         "pip-tools==2.1", "scipy==1.0", "scipy==1.1", "shelf-reader==0.1",
         "shelf-reader==0.2:scipy>=1.0"]
#: A pip that sees only the index it is given (see tests/fixtures/README.md).
PIP_ENV = {k: v for k, v in os.environ.items() if k != "PIP_FIND_LINKS"} | {
    "PIP_CONFIG_FILE": "/dev/null", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def both(*releases):
    """Wheel and sdist file names of ``name-version`` releases (normalised names)."""
    return {f for r in releases for f in (f"{r}-py3-none-any.whl", f"{r}.tar.gz")}


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("pydist") / "dist"
    args = [a for spec in SPECS for a in ("--spec", spec)]
    subprocess.run([sys.executable, str(FIXTURES / "make_py_packages.py"), str(out), *args],
                   check=True, capture_output=True)
    return out


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def upstream(dist, serve, tmp_path):
    """``make(*serve_args, edit=None)`` serves a fresh static index of ``dist``:
    returns ``(feed, access_log, tree)``; ``edit(tree)`` runs before serving starts."""

    def make(*args, edit=None):
        tree = tmp_path / f"pypi-{uuid.uuid4().hex[:6]}"
        tree.mkdir()
        feed, log = serve(tree, *args)
        subprocess.run([sys.executable, str(FIXTURES / "make_simple_index.py"), str(dist),
                        str(tree), "--base-url", feed], check=True, capture_output=True)
        if edit:
            edit(tree)
        return feed, log, tree

    return make


def python_repo(api, feed, relative_url=None, **config):
    repo_id = f"py-{uuid.uuid4().hex[:8]}"
    dist_config = {"relative_url": relative_url} if relative_url else {}
    response = api.post(f"{API}/repositories/", json={
        "id": repo_id, "importer_type_id": "python_importer",
        "importer_config": {"feed": feed, **config},
        "distributors": [{"distributor_type_id": "python_distributor",
                          "distributor_id": "python_distributor",
                          "distributor_config": dist_config, "auto_publish": True}]})
    assert response.status_code == 201, response.text
    return repo_id


def counts(api, repo_id):
    return api.get(f"{API}/repositories/{repo_id}/").json()["content_unit_counts"]


def published_files(api, repo_id):
    """File names listed by the published PEP 503 pages (root page, then every project)."""
    simple = f"{api.base}/pulp/python/web/{repo_id}/simple/"
    root = requests.get(simple, headers={"Accept": "text/html"})
    if root.status_code == 404:
        return None
    names = re.findall(r'<a href="([^"/]+)/">', root.text)
    files = set()
    for name in names:
        page = requests.get(f"{simple}{name}/", headers={"Accept": "text/html"})
        assert page.status_code == 200
        files |= set(re.findall(r">([^<>]+\.(?:whl|tar\.gz))</a>", page.text))
    return files


def test_seed_include_and_exclude_forms(api, upstream, dist):
    feed, _log, _tree = upstream()
    django20 = sha256(dist / "django-2.0-py3-none-any.whl")
    scipy11 = sha256(dist / "scipy-1.1-py3-none-any.whl")
    scipy10 = sha256(dist / "scipy-1.0-py3-none-any.whl")
    md5 = hashlib.md5((dist / "scipy-1.0.tar.gz").read_bytes()).hexdigest()
    cases = {
        "simple": ({"includes": [{"name": "django", "version_specifier": "~=2.0"}]},
                   both("django-2.0", "django-2.0.1", "django-2.1")),
        # The simple API lists sha256 only, so the md5 entry matches nothing here.
        "complex": ({"includes": [
            {"name": "django", "version_specifier": "~=2.0,!=2.0.1",
             "digests": [{"type": "sha256", "digest": django20}]},
            {"name": "pip-tools", "version_specifier": ">=1.12,<=2.0"},
            {"name": "scipy", "digests": [{"type": "md5", "digest": md5},
                                          {"type": "sha256", "digest": scipy11}]},
            {"name": "shelf-reader"}]},
            {"django-2.0-py3-none-any.whl", "scipy-1.1-py3-none-any.whl"}
            | both("pip_tools-1.12", "pip_tools-2.0", "shelf_reader-0.1", "shelf_reader-0.2")),
        "exclude": ({"includes": [{"name": "django", "version_specifier": ""},
                                  {"name": "scipy", "version_specifier": ""}],
                     "excludes": [{"name": "django", "version_specifier": "~=1.0"},
                                  {"name": "scipy", "digests": [
                                      {"type": "sha256", "digest": scipy10}]}]},
                    both("django-2.0", "django-2.0.1", "django-2.1", "django-3.0", "scipy-1.1")
                    | {"scipy-1.0.tar.gz"}),
        "pep508": ({"includes": ["django~=2.0,!=2.0.1", "scipy", "Shelf_Reader"],
                    "excludes": ["scipy"], "package_types": ["bdist_wheel"],
                    "prereleases": True},
                   {"django-2.0-py3-none-any.whl", "django-2.1-py3-none-any.whl",
                    "django-2.2b1-py3-none-any.whl", "shelf_reader-0.1-py3-none-any.whl",
                    "shelf_reader-0.2-py3-none-any.whl"}),
        "package_names": ({"package_names": "pip-tools, scipy", "keep_latest_packages": 1},
                          both("pip_tools-2.1", "scipy-1.1")),
    }
    repos = {case: python_repo(api, feed, **config) for case, (config, _) in cases.items()}
    tasks = {case: api.start_sync(repo_id) for case, repo_id in repos.items()}
    for case, (_config, expected) in cases.items():
        reports = api.wait_all(tasks[case])
        assert [r["state"] for r in reports] == ["finished", "finished"], (case, reports)
        assert reports[0]["result"]["added_count"] == len(expected), case
        assert counts(api, repos[case]) == {"python_package": len(expected)}, case
        assert published_files(api, repos[case]) == expected, case


def test_sync_publish_pip_install_chain_and_noop(api, upstream, dist, tmp_path):
    feed, log, _tree = upstream()
    config = {"includes": ["django~=2.0", "shelf-reader", "scipy"]}
    repo_id = python_repo(api, feed, **config)
    sync_report, publish_report = api.sync(repo_id)
    assert sync_report["state"] == "finished", sync_report
    assert publish_report["state"] == "finished", publish_report
    steps = {s["step_type"]: s for s in sync_report["progress_report"]["python_importer"]}
    assert steps["sync_step_download_metadata"]["num_success"] == 3
    downloads = steps["sync_step_download_packages"]
    # Files stored by other tests' repositories are linked, not downloaded again.
    assert steps["get_local"]["items_total"] == 14
    assert downloads["num_success"] == downloads["items_total"] <= 14
    assert all(s["state"] == "FINISHED" for s in steps.values())
    expected = both("django-2.0", "django-2.0.1", "django-2.1", "shelf_reader-0.1",
                    "shelf_reader-0.2", "scipy-1.0", "scipy-1.1")
    assert published_files(api, repo_id) == expected

    web = f"{api.base}/pulp/python/web/{repo_id}/"
    page = requests.get(web + "simple/django/",
                        headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert page.headers["Content-Type"].startswith("application/vnd.pypi.simple.v1+json")
    files = {f["filename"]: f for f in page.json()["files"]}
    wheel = files["django-2.0-py3-none-any.whl"]
    assert wheel["hashes"]["sha256"] == sha256(dist / "django-2.0-py3-none-any.whl")
    assert wheel["core-metadata"] and wheel["requires-python"] == ">=3.7"
    metadata = requests.get(requests.compat.urljoin(page.url, wheel["url"]) + ".metadata")
    assert metadata.status_code == 200 and b"\nName: Django\n" in metadata.content
    assert hashlib.sha256(metadata.content).hexdigest() == wheel["core-metadata"]["sha256"]
    html = requests.get(web + "simple/django/", headers={"Accept": "text/html"}).text
    assert "#sha256=" in html and 'data-requires-python="&gt;=3.7"' in html
    api_json = requests.get(web + "pypi/django/json").json()
    assert set(api_json["releases"]) == {"2.0", "2.0.1", "2.1"}

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    index = ["--index-url", web + "simple/", "--no-cache-dir", "--only-binary", ":all:"]
    subprocess.run([*pip, "install", *index, "shelf-reader==0.2"], check=True, env=PIP_ENV,
                   capture_output=True)
    freeze = subprocess.run([*pip, "freeze"], check=True, env=PIP_ENV, capture_output=True,
                            text=True).stdout
    assert "shelf-reader==0.2" in freeze.lower().replace("_", "-") and "scipy==1.1" in freeze
    req = tmp_path / "req.txt"
    req.write_text(f"django==2.0 --hash=sha256:{wheel['hashes']['sha256']}\n")
    subprocess.run([*pip, "download", *index, "--require-hashes", "--no-deps", "-d",
                    str(tmp_path / "dl"), "-r", str(req)], check=True, env=PIP_ENV,
                   capture_output=True)
    assert (tmp_path / "dl" / "django-2.0-py3-none-any.whl").is_file()

    # A second pulp2ng repository syncs from the first one's published tree.
    second = python_repo(api, web, includes=["django~=2.0,!=2.0.1", "shelf-reader"])
    reports = api.sync(second)
    assert [r["state"] for r in reports] == ["finished", "finished"], reports
    assert published_files(api, second) == both("django-2.0", "django-2.1", "shelf_reader-0.1",
                                                "shelf_reader-0.2")

    # A no-op re-sync reads the index pages again but downloads no file.
    before = log.read_text().splitlines()
    reports = api.sync(repo_id)
    assert reports[0]["state"] == "finished"
    assert reports[0]["result"]["added_count"] == 0
    fetched = log.read_text().splitlines()[len(before):]
    assert fetched and not [line for line in fetched if "/packages/" in line], fetched


def test_mirror_and_additive(api, upstream):
    feed, _log, _tree = upstream()
    additive = python_repo(api, feed, includes=["scipy==1.0"])
    mirror = python_repo(api, feed, includes=["scipy==1.0"], remove_missing=True)
    for repo_id in (additive, mirror):
        assert api.sync(repo_id)[0]["state"] == "finished"
        assert published_files(api, repo_id) == both("scipy-1.0")
    removed = {}
    for repo_id in (additive, mirror):
        reports = api.sync(repo_id, includes=["scipy==1.1"])
        assert reports[0]["state"] == "finished"
        removed[repo_id] = reports[0]["result"]["removed_count"]
    assert removed == {additive: 0, mirror: 2}
    assert published_files(api, additive) == both("scipy-1.0", "scipy-1.1")
    assert published_files(api, mirror) == both("scipy-1.1")


# The faults hit pip-tools 1.11, which no other test stores: a stored file is never fetched.
def _corrupt(tree):
    path = tree / "packages" / "pip_tools-1.11-py3-none-any.whl"
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF  # same size, other bytes
    path.write_bytes(bytes(data))


def _malformed(tree):
    (tree / "simple" / "pip-tools" / "index.json").write_text('{"meta": {"api-version": "1.1"}, ')


def _hostile(href):
    def edit(tree):
        page = tree / "simple" / "pip-tools"
        (page / "index.json").unlink()
        link = f'<a href="{href}#sha256={"0" * 64}">pip_tools-1.11.tar.gz</a>'
        (page / "index.html").write_text(f"<html><body>{link}</body></html>")
    return edit


@pytest.mark.parametrize("fault, args, edit, message, config", [
    ("sha256 mismatch", (), _corrupt, "Checksum mismatch", {}),
    ("404 file", ("--fail", r"pip_tools-1\.11\.tar\.gz$=404"), None, "HTTP 404", {}),
    ("malformed JSON", (), _malformed, "invalid JSON", {}),
    ("parent links", (), _hostile("../../../../etc/pip_tools-1.11.tar.gz"), "climbs above", {}),
    ("other host", (), _hostile("http://203.0.113.9/pip_tools-1.11.tar.gz"),
     "not in allowed_hosts", {"allowed_hosts": ["files.example.org"]}),
])
def test_upstream_faults_store_and_publish_nothing(api, stack, upstream, fault, args, edit,
                                                   message, config):
    feed, log, _tree = upstream(*args, edit=edit)
    repo_id = python_repo(api, feed, includes=["django==2.0", "pip-tools==1.11"], **config)
    units_before, files_before = all_python_units(api), stored_files(stack)
    reports = api.sync(repo_id)
    assert [r["state"] for r in reports] == ["error"], (fault, reports)
    assert message in reports[0]["error"]["description"], reports[0]["error"]
    assert counts(api, repo_id) == {}
    assert published_files(api, repo_id) is None
    # All or nothing: the good file of the pair was not kept either, as a unit or on disk.
    assert all_python_units(api) == units_before
    assert stored_files(stack) == files_before


def all_python_units(api):
    found = api.post(f"{API}/content/units/python_package/search/",
                     json={"criteria": {"fields": ["filename"]}})
    assert found.status_code == 200, found.text
    return {u["filename"] for u in found.json()}


def stored_files(stack):
    root = stack.storage / "content" / "python_package"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def local_index(tmp_path, *specs, payload_kb=None, base_url=None):
    """A PEP 503/691 tree of freshly built wheels (names no other test stores)."""
    dist, tree = tmp_path / "dist", tmp_path / "tree"
    extra = ["--payload-kb", str(payload_kb)] if payload_kb else []
    args = [a for spec in specs for a in ("--spec", spec)]
    subprocess.run([sys.executable, str(FIXTURES / "make_py_packages.py"), str(dist),
                    "--no-sdist", *extra, *args], check=True, capture_output=True)
    subprocess.run([sys.executable, str(FIXTURES / "make_simple_index.py"), str(dist),
                    str(tree), "--base-url", base_url or tree.as_uri()], check=True,
                   capture_output=True)
    return dist, tree


def stored_units(api, filenames):
    found = api.post(f"{API}/content/units/python_package/search/", json={
        "criteria": {"filters": {"filename": {"$in": sorted(filenames)}},
                     "fields": ["filename"]}})
    assert found.status_code == 200, found.text
    return {u["filename"] for u in found.json()}


def test_file_feed_syncs_a_local_tree(api, tmp_path):
    name = f"localonly-{uuid.uuid4().hex[:6]}"
    dist, tree = local_index(tmp_path, f"{name}==1.0", f"{name}==1.1")
    repo_id = python_repo(api, tree.as_uri() + "/", includes=[f"{name}>=1.1"])
    reports = api.sync(repo_id)
    assert [r["state"] for r in reports] == ["finished", "finished"], reports
    steps = {s["step_type"]: s for s in reports[0]["progress_report"]["python_importer"]}
    assert steps["sync_step_download_packages"]["num_success"] == 1  # read from disk
    wheel = f"{name.replace('-', '_')}-1.1-py3-none-any.whl"
    assert published_files(api, repo_id) == {wheel}
    page_url = f"{api.base}/pulp/python/web/{repo_id}/simple/{name}/"
    page = requests.get(page_url,
                        headers={"Accept": "application/vnd.pypi.simple.v1+json"}).json()
    url = requests.compat.urljoin(page_url, page["files"][0]["url"])
    assert hashlib.sha256(requests.get(url).content).hexdigest() == sha256(dist / wheel)
    # A feed must name a local tree or an http(s) index; other forms are refused up front.
    response = api.post(f"{API}/repositories/", json={
        "id": f"py-{uuid.uuid4().hex[:8]}", "importer_type_id": "python_importer",
        "importer_config": {"feed": "file://host/tree/"}})
    assert response.status_code == 400, response.text


def test_cancel_running_sync_stores_nothing(api, tmp_path):
    name = f"cancelprobe-{uuid.uuid4().hex[:6]}"
    _dist, tree = local_index(tmp_path, *(f"{name}==1.{i}" for i in range(4)), payload_kb=256)
    files = {f"{name.replace('-', '_')}-1.{i}-py3-none-any.whl" for i in range(4)}
    # Four 256 KiB wheels, one at a time at 50 kB/s: about 20 s unless canceled.
    repo_id = python_repo(api, tree.as_uri(), max_speed=50_000, max_downloads=1)
    task_id = api.start_sync(repo_id)
    deadline = time.monotonic() + 30
    while True:
        steps = {s["step_type"]: s["state"] for s in
                 api.task(task_id)["progress_report"].get("python_importer", [])}
        if steps.get("sync_step_download_packages") == "IN_PROGRESS":
            break
        assert time.monotonic() < deadline, steps
        time.sleep(0.05)
    assert api.delete(f"{API}/tasks/{task_id}/").status_code == 200
    report = api.wait_task(task_id, timeout=30)
    assert report["state"] == "canceled" and report["spawned_tasks"] == [], report
    assert counts(api, repo_id) == {}
    assert stored_units(api, files) == set()
    # The next sync (unthrottled) takes everything.
    reports = api.sync(repo_id, max_speed=0)
    assert [r["state"] for r in reports] == ["finished", "finished"], reports
    assert counts(api, repo_id) == {"python_package": 4}
    assert published_files(api, repo_id) == files
