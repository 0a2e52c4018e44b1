"""Published pages, read back by a real pip and by our own IndexClient."""

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys

import pytest
import requests

from pulp2ng.distributors.python import pages
from pulp2ng.importers.python.index import IndexClient
from pulp2ng.importers.python.metadata import core_metadata_bytes, read_metadata

from .test_index import make_packages, read_log, serve_static, sha256_of

PIP = [sys.executable, "-m", "pip"]


def package_dicts(dist):
    """Metadata dicts of every built file, laid out the way Pulp 2 published them."""
    result = []
    for fn in sorted(os.listdir(dist)):
        meta = read_metadata(dist / fn)
        path = f"packages/source/{meta['name'][0]}/{meta['name']}/{fn}"
        record = dict(meta, filename=fn, path=path, sha256=sha256_of(dist / fn),
                      size=os.path.getsize(dist / fn))
        if fn.endswith(".whl"):
            record["metadata_sha256"] = hashlib.sha256(core_metadata_bytes(dist / fn)).hexdigest()
        result.append(record)
    return result


def write(path, text):
    """Write a page, creating its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())


def publish(dist, records, root, with_json):
    """Write the publish tree: files, .metadata, simple pages and the JSON API."""
    for rec in records:
        write(root / rec["path"], (dist / rec["filename"]).read_bytes())
        if rec.get("metadata_sha256"):
            write(root / (rec["path"] + ".metadata"), core_metadata_bytes(dist / rec["filename"]))
    projects = pages.group_by_project(records)
    write(root / "simple" / "index.html", pages.simple_root_html(projects))
    if with_json:
        write(root / "simple" / "index.json", pages.simple_root_json(projects))
    for norm, files in projects.items():
        write(root / "simple" / norm / "index.html", pages.simple_project_html(norm, files))
        if with_json:
            write(root / "simple" / norm / "index.json", pages.simple_project_json(norm, files))
        write(root / "pypi" / norm / "json", pages.pypi_project_json(norm, files))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Real packages and their metadata dicts."""
    dist = make_packages(tmp_path_factory.mktemp("dist"), "fixture-alpha==1.1.0rc1")
    return dist, package_dicts(dist)


@pytest.fixture(scope="module", params=["json", "html"])
def published(request, built, tmp_path_factory):
    """The published tree served over HTTP: with PEP 691 JSON pages, or HTML only."""
    dist, records = built
    root = tmp_path_factory.mktemp(f"published-{request.param}")
    publish(dist, records, root, with_json=request.param == "json")
    with serve_static(root, tmp_path_factory.mktemp("srv")) as (url, log):
        yield {"url": url, "log": log, "records": records, "dist": dist,
               "json": request.param == "json"}


def pip(*args, cwd):
    """Run the venv's pip against nothing but our index (see fixtures README, 'gotchas')."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and "proxy" not in k.lower()}
    env["PIP_CONFIG_FILE"] = os.devnull
    return subprocess.run(
        [*PIP, *args, "--no-cache-dir", "--disable-pip-version-check", "--only-binary", ":all:"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )


def by_name(records, filename):
    """The record of one file."""
    return next(r for r in records if r["filename"] == filename)


def test_pip_download_pinned_version(published, tmp_path):
    url = published["url"]
    result = pip("download", "--no-deps", "--index-url", f"{url}simple/",
                 "fixture-alpha==0.2.0", "-d", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    wheel = "fixture_alpha-0.2.0-py3-none-any.whl"
    assert os.listdir(tmp_path / "out") == [wheel]
    assert sha256_of(tmp_path / "out" / wheel) == by_name(published["records"], wheel)["sha256"]
    log = read_log(published["log"])
    suffix = " pep691-json" if published["json"] else ""
    assert f"GET /simple/fixture-alpha/ 200{suffix}" in log
    assert f"GET /packages/source/f/fixture-alpha/{wheel}.metadata 200" in log  # PEP 658


def test_pip_skips_prerelease_and_resolves_latest(published, tmp_path):
    result = pip("download", "--no-deps", "--index-url", f"{published['url']}simple/",
                 "Fixture.Alpha", "-d", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert os.listdir(tmp_path / "out") == ["fixture_alpha-1.0.0-py3-none-any.whl"]


def test_pip_require_hashes(published, tmp_path):
    wheel = "fixture_beta-2.0.0-py3-none-any.whl"
    digest = by_name(published["records"], wheel)["sha256"]
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(f"Fixture_Beta==2.0.0 --hash=sha256:{digest}\n")
    bad.write_text(f"Fixture_Beta==2.0.0 --hash=sha256:{'0' * 64}\n")
    args = ["download", "--no-deps", "--require-hashes", "--index-url",
            f"{published['url']}simple/", "-d", str(tmp_path / "out")]
    result = pip(*args, "-r", str(good), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sha256_of(tmp_path / "out" / wheel) == digest
    shutil.rmtree(tmp_path / "out")
    result = pip(*args, "-r", str(bad), cwd=tmp_path)
    assert result.returncode != 0
    assert "DO NOT MATCH THE HASHES" in result.stderr


@pytest.mark.parametrize("api", ["auto", "pep503", "pypi-json"])
def test_round_trip_through_index_client(published, api):
    url, records = published["url"], published["records"]
    with requests.Session() as session:
        session.trust_env = False
        client = IndexClient(url, session)
        assert client.list_projects(api="pep503" if api == "pypi-json" else api) == [
            "fixture-alpha", "fixture-beta", "fixture-gamma"]
        for norm, expected in pages.group_by_project(records).items():
            files = {f.filename: f for f in client.project_files(norm, api=api)}
            assert sorted(files) == sorted(r["filename"] for r in expected)
            for rec in expected:
                got = files[rec["filename"]]
                assert got.url == url + rec["path"]
                assert got.sha256 == rec["sha256"]
                assert got.requires_python == rec["requires_python"] == ">=3.7"
                assert not got.yanked
                if api != "pypi-json":
                    assert got.metadata_sha256 == rec.get("metadata_sha256")
                    assert got.has_metadata == ("metadata_sha256" in rec)
                sized = api == "pypi-json" or (api == "auto" and published["json"])
                assert got.size == (rec["size"] if sized else None)


def test_pypi_json_document(built):
    _dist, records = built
    alpha = [r for r in records if r["name"] == "fixture-alpha"]
    doc = json.loads(pages.pypi_project_json("Fixture_Alpha", alpha))
    assert doc["info"]["version"] == "1.0.0"  # newest final release, not 1.1.0rc1
    assert doc["info"]["summary"] == "Fixture package fixture-alpha"
    assert list(doc["releases"]) == ["0.1.0", "0.2.0", "1.0.0", "1.1.0rc1"]
    assert [u["filename"] for u in doc["urls"]] == [
        "fixture_alpha-1.0.0-py3-none-any.whl", "fixture_alpha-1.0.0.tar.gz"]
    entry = doc["urls"][0]
    assert entry["path"] == "source/f/fixture-alpha/fixture_alpha-1.0.0-py3-none-any.whl"
    assert entry["url"] == "../../packages/" + entry["path"]
    assert (entry["packagetype"], entry["checksum_type"]) == ("bdist_wheel", "sha256")
    assert entry["digests"]["sha256"] == entry["checksum"]


def test_html_escaping_and_metadata_attributes(built):
    _dist, records = built
    beta = [r for r in records if r["name"] == "Fixture_Beta"]
    text = pages.simple_project_html("Fixture_Beta", beta)
    wheel = by_name(beta, "fixture_beta-2.0.0-py3-none-any.whl")
    assert 'data-requires-python="&gt;=3.7"' in text
    assert f'data-dist-info-metadata="sha256={wheel["metadata_sha256"]}"' in text
    assert f'data-core-metadata="sha256={wheel["metadata_sha256"]}"' in text
    assert f'#sha256={wheel["sha256"]}"' in text
    assert "<title>Links for fixture-beta</title>" in text
    odd = dict(wheel, requires_python='>=3.7"<script>', yanked="bad & old")
    text = pages.simple_project_html("fixture-beta", [odd])
    assert 'data-requires-python="&gt;=3.7&quot;&lt;script&gt;"' in text
    assert 'data-yanked="bad &amp; old"' in text


def test_output_is_deterministic(built):
    _dist, records = built
    alpha = [r for r in records if r["name"] == "fixture-alpha"]
    shuffled = list(alpha)
    random.Random(4).shuffle(shuffled)
    for render in (pages.simple_project_html, pages.simple_project_json, pages.pypi_project_json):
        assert render("fixture-alpha", alpha) == render("fixture-alpha", shuffled)
        with pytest.raises(ValueError, match="belongs to"):
            render("fixture-alpha", records)
    names = [r["name"] for r in records]
    assert pages.simple_root_html(names) == pages.simple_root_html(reversed(names))
    assert json.loads(pages.simple_root_json(names))["projects"] == [
        {"name": "fixture-alpha"}, {"name": "fixture-beta"}, {"name": "fixture-gamma"}]
    doc = json.loads(pages.simple_project_json("fixture-alpha", shuffled))
    assert doc["meta"] == {"api-version": "1.1"}
    assert doc["versions"] == ["0.1.0", "0.2.0", "1.0.0", "1.1.0rc1"]


def test_json_page_requires_size(built):
    _dist, records = built
    with pytest.raises(ValueError, match="size is required"):
        pages.simple_project_json(records[0]["name"], [dict(records[0], size=None)])
