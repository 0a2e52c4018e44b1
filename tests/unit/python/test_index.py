"""IndexClient against a real static index served over HTTP on 127.0.0.1."""

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

from pathlib import Path

import pytest
import requests

from pulp2ng.importers.python.errors import IndexFormatError, UnsafeLinkError
from pulp2ng.importers.python.index import IndexClient

FIXTURES = str(Path(__file__).resolve().parents[2] / "fixtures")
ALPHA_FILES = [
    "fixture_alpha-0.1.0-py3-none-any.whl", "fixture_alpha-0.1.0.tar.gz",
    "fixture_alpha-0.2.0-py3-none-any.whl", "fixture_alpha-0.2.0.tar.gz",
    "fixture_alpha-1.0.0-py3-none-any.whl", "fixture_alpha-1.0.0.tar.gz",
]


@contextlib.contextmanager
def serve_static(root, workdir):
    """Run serve_static.py on a random port; yields ``(base_url, access_log)``.

    The server is stopped by PID when the block ends, whatever happened inside it.
    """
    port_file, log = os.path.join(workdir, "port"), os.path.join(workdir, "access.log")
    proc = subprocess.Popen(
        [sys.executable, f"{FIXTURES}/serve_static.py", str(root), "--port", "0",
         "--port-file", port_file, "--access-log", log],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("serve_static.py did not start")
            time.sleep(0.02)
        with open(port_file) as fh:
            port = int(fh.read())
        yield f"http://127.0.0.1:{port}/", log
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def make_packages(outdir, *extra):
    """The shared fixture builder (raw backend); returns outdir."""
    args = [sys.executable, f"{FIXTURES}/make_py_packages.py", str(outdir)]
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    for spec in extra:
        subprocess.run(args + ["--spec", spec], check=True, capture_output=True, timeout=60)
    return outdir


def sha256_of(path):
    """Hex sha256 of a file."""
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    """A static PyPI tree from make_simple_index.py, served; yields (url, root, dist, log)."""
    dist = make_packages(tmp_path_factory.mktemp("dist"))
    root = tmp_path_factory.mktemp("pypi")
    with serve_static(root, tmp_path_factory.mktemp("srv")) as (url, log):
        subprocess.run(
            [sys.executable, f"{FIXTURES}/make_simple_index.py", str(dist), str(root),
             "--base-url", url, "--yank", "fixture_alpha-0.1.0.tar.gz:broken"],
            check=True, capture_output=True, timeout=60,
        )
        yield url, root, dist, log


@pytest.fixture
def session():
    """A session that ignores proxy settings and netrc from the environment."""
    with requests.Session() as s:
        s.trust_env = False
        yield s


def read_log(log):
    """Access log lines written so far."""
    with open(log) as fh:
        return fh.read().splitlines()


def test_list_projects_pep691_and_pep503(index, session):
    url, _root, _dist, log = index
    client = IndexClient(url, session)
    expected = ["fixture-alpha", "fixture-beta", "fixture-gamma"]
    assert client.list_projects() == expected
    assert read_log(log)[-1] == "GET /simple/ 200 pep691-json"
    assert client.list_projects(api="pep503") == expected
    assert read_log(log)[-1] == "GET /simple/ 200"


@pytest.mark.parametrize("api", ["auto", "pep691", "pep503", "pypi-json"])
def test_project_files_every_api(index, session, api):
    url, _root, dist, _log = index
    files = IndexClient(url, session).project_files("Fixture_Alpha", api=api)
    assert sorted(f.filename for f in files) == ALPHA_FILES
    for f in files:
        assert f.url == f"{url}packages/{f.filename}"
        assert f.sha256 == sha256_of(dist / f.filename)
        assert f.requires_python == ">=3.7"
        assert f.yanked == (f.filename == "fixture_alpha-0.1.0.tar.gz")
    yanked = next(f for f in files if f.yanked)
    assert yanked.yanked_reason == "broken"
    wheel = next(f for f in files if f.filename == "fixture_alpha-1.0.0-py3-none-any.whl")
    if api == "pypi-json":
        assert not wheel.has_metadata
        assert len(wheel.hashes["md5"]) == 32
        assert wheel.size == os.path.getsize(dist / wheel.filename)
        return
    meta_bytes = session.get(wheel.metadata_url).content
    assert wheel.has_metadata
    assert wheel.metadata_sha256 == hashlib.sha256(meta_bytes).hexdigest()
    sdist = next(f for f in files if f.filename == "fixture_alpha-1.0.0.tar.gz")
    assert not sdist.has_metadata and sdist.metadata_url is None
    expected_size = None if api == "pep503" else os.path.getsize(dist / wheel.filename)
    assert wheel.size == expected_size


def test_auto_falls_back_to_json_api_when_simple_page_is_missing(index, session):
    url, root, _dist, log = index
    project = root / "pypi" / "only-json"
    project.mkdir(parents=True)
    (project / "json").write_text(json.dumps({"info": {"name": "only-json"}, "releases": {
        "1.0": [{"filename": "only_json-1.0.tar.gz", "url": f"{url}packages/only_json-1.0.tar.gz",
                 "digests": {"sha256": "a" * 64}, "requires_python": None}]}}))
    files = IndexClient(url, session).project_files("Only.JSON")
    assert [(f.filename, f.sha256) for f in files] == [("only_json-1.0.tar.gz", "a" * 64)]
    assert read_log(log)[-2:] == ["GET /simple/only-json/ 404", "GET /pypi/only-json/json 200"]
    assert IndexClient(url, session).project_files("does-not-exist") == []


def test_pulp2_published_json_layout(index, session):
    """Pulp 2 publishes ``pypi/<name>/json/index.json`` with paths below ``packages/``."""
    url, root, _dist, _log = index
    repo = root / "pulp" / "python" / "web" / "repo1"
    (repo / "pypi" / "shelf-reader" / "json").mkdir(parents=True)
    (repo / "pypi" / "shelf-reader" / "json" / "index.json").write_text(json.dumps({
        "info": {"name": "shelf-reader", "author": "x", "summary": "y"},
        "releases": {"0.1": [{
            "filename": "shelf-reader-0.1.tar.gz", "packagetype": "sdist",
            "path": "source/s/shelf-reader/shelf-reader-0.1.tar.gz",
            "md5_digest": "b" * 32, "checksum": "c" * 128, "checksum_type": "sha512"}]}}))
    client = IndexClient(url + "pulp/python/web/repo1/", session)
    [file] = client.project_files("shelf-reader")
    assert file.url == (url + "pulp/python/web/repo1/packages/source/s/shelf-reader/"
                        "shelf-reader-0.1.tar.gz")
    assert file.hashes == {"md5": "b" * 32, "sha512": "c" * 128}
    assert file.sha256 is None


def write_page(root, name, html=None, json_doc=None):
    """Put a hostile project page into the served tree."""
    page = root / "simple" / name
    page.mkdir(parents=True, exist_ok=True)
    if html is not None:
        (page / "index.html").write_text(html)
    if json_doc is not None:
        (page / "index.json").write_text(json_doc)


def anchor(href, text="evil-1.0.tar.gz"):
    """One PEP 503 page with one link."""
    return f"<!DOCTYPE html><html><body><a href=\"{href}\">{text}</a></body></html>"


@pytest.mark.parametrize("href", [
    "../../../../../etc/passwd",
    "../../../../x/evil-1.0.tar.gz",
    "../../packages/%2e%2e/%2E%2E/evil-1.0.tar.gz",
    "http://evil.example/evil-1.0.tar.gz",
    "//evil.example/packages/evil-1.0.tar.gz",
    "http://127.0.0.2:1/evil-1.0.tar.gz",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "../../packages/..%5cevil-1.0.tar.gz",
])
def test_unsafe_links_are_rejected(index, session, href):
    """With ``allowed_hosts: []`` (only the index host); the other checks hold for any list."""
    url, root, _dist, _log = index
    name = f"evil-{abs(hash(href))}"
    write_page(root, name, html=anchor(href))
    with pytest.raises(UnsafeLinkError) as excinfo:
        IndexClient(url, session, allowed_hosts=[]).project_files(name, api="pep503")
    assert href in str(excinfo.value)


def test_link_outside_a_subpath_index_is_rejected(index, session):
    """A Pulp 2 repo's index may not send the client to a sibling repo."""
    url, root, _dist, _log = index
    base = root / "pulp" / "python" / "web" / "repo2"
    write_page(base, "x", html=anchor("../../../repo1/packages/evil-1.0.tar.gz"))
    client = IndexClient(url + "pulp/python/web/repo2/", session)
    with pytest.raises(UnsafeLinkError, match="outside the index"):
        client.project_files("x", api="pep503")


def test_allowed_hosts_narrow_the_file_hosts(index, session):
    """Like pip, any file host by default (PyPI's files are on another host); a list narrows."""
    url, root, _dist, _log = index
    write_page(root, "cdn", html=anchor("https://files.example.org/p/ab/cdn-1.0.tar.gz#sha256="
                                        + "d" * 64, text="cdn-1.0.tar.gz"))
    expected = ("https://files.example.org/p/ab/cdn-1.0.tar.gz", "d" * 64)
    [file] = IndexClient(url, session).project_files("cdn")
    assert (file.url, file.sha256) == expected
    with pytest.raises(UnsafeLinkError, match="not in allowed_hosts .'other.example.org'."):
        IndexClient(url, session, allowed_hosts=["other.example.org"]).project_files("cdn")
    client = IndexClient(url, session, allowed_hosts=["files.example.org"])
    [file] = client.project_files("cdn")
    assert (file.url, file.sha256) == expected


@pytest.mark.parametrize("filename", ["../evil-1.0.tar.gz", "a/evil-1.0.tar.gz",
                                      "..\\evil-1.0.tar.gz", ".."])
def test_unsafe_filenames_in_json_are_rejected(index, session, filename):
    url, root, _dist, _log = index
    name = f"badname-{abs(hash(filename))}"
    doc = {"meta": {"api-version": "1.1"}, "name": name, "versions": ["1.0"], "files": [
        {"filename": filename, "url": "../../packages/evil-1.0.tar.gz", "hashes": {}}]}
    write_page(root, name, html=anchor("x"), json_doc=json.dumps(doc))
    with pytest.raises(UnsafeLinkError, match="unsafe file name"):
        IndexClient(url, session).project_files(name)


@pytest.mark.parametrize("json_doc, message", [
    ('{"meta": {"api-version": "1.1"}, "files": [', "invalid JSON"),
    ('{"meta": {"api-version": "2.0"}, "files": []}', "api-version"),
    ('{"files": []}', "api-version"),
    ('{"meta": {"api-version": "1.0"}, "files": {}}', "'files' is not a list"),
    ('{"meta": {"api-version": "1.0"}, "files": [{"url": "x"}]}', "string 'filename'"),
    ('{"meta": {"api-version": "1.0"}, "files": [{"filename": "e-1.tar.gz", "url": "e",'
     ' "hashes": {"sha256": "zz"}}]}', "not hex"),
    ('{"meta": {"api-version": "1.0"}, "files": [{"filename": "e-1.tar.gz", "url": "e",'
     ' "hashes": {}, "size": "big"}]}', "'size'"),
    ('[1, 2]', "api-version"),
])
def test_malformed_json_pages(index, session, json_doc, message):
    url, root, _dist, _log = index
    name = f"badjson-{abs(hash(json_doc))}"
    write_page(root, name, html=anchor("x"), json_doc=json_doc)
    with pytest.raises(IndexFormatError, match=message):
        IndexClient(url, session).project_files(name)


def test_malformed_html_and_json_api(index, session):
    url, root, _dist, _log = index
    write_page(root, "notutf8", html="")
    (root / "simple" / "notutf8" / "index.html").write_bytes(b"<a href='x'>\xff\xfe</a>")
    with pytest.raises(IndexFormatError, match="not valid text"):
        IndexClient(url, session).project_files("notutf8", api="pep503")
    write_page(root, "badhash", html=anchor("../../packages/b-1.tar.gz#sha256=nothex"))
    with pytest.raises(IndexFormatError, match="not hex"):
        IndexClient(url, session).project_files("badhash", api="pep503")
    (root / "pypi" / "badapi").mkdir(parents=True)
    (root / "pypi" / "badapi" / "json").write_text('{"info": {}, "releases": []}')
    with pytest.raises(IndexFormatError, match="'releases' is not an object"):
        IndexClient(url, session).project_files("badapi", api="pypi-json")


def test_base_tag_and_html_escaping(index, session):
    url, root, _dist, _log = index
    write_page(root, "based", html=(
        '<html><head><base href="../../packages/"></head><body>'
        '<a href="based-1.0.tar.gz#sha256=' + "e" * 64 + '" data-requires-python="&gt;=3.8"'
        ' data-core-metadata="true">based-1.0.tar.gz</a></body></html>'))
    [file] = IndexClient(url, session).project_files("based")
    assert file.url == f"{url}packages/based-1.0.tar.gz"
    assert file.requires_python == ">=3.8"
    assert file.has_metadata and file.metadata_sha256 is None


def test_simple_url_as_base(index, session):
    url, _root, _dist, _log = index
    client = IndexClient(url + "simple/", session)
    assert client.root_url == url
    assert len(client.project_files("fixture-gamma")) == 2


@pytest.mark.parametrize("api", ["auto", "pep503"])
def test_file_feed_reads_a_local_tree(index, session, api):
    """A file:// feed: the same tree read from disk, links resolved to file:// URLs."""
    from pulp2ng.importers.python.local import LocalIndexAdapter

    _url, root, _dist, _log = index
    session.mount("file://", LocalIndexAdapter(str(root)))
    client = IndexClient(Path(root).as_uri(), session)
    assert client.list_projects(api=api) == ["fixture-alpha", "fixture-beta", "fixture-gamma"]
    files = {f.filename: f for f in client.project_files("fixture_alpha", api=api)}
    assert sorted(files) == ALPHA_FILES
    wheel = files["fixture_alpha-0.1.0-py3-none-any.whl"]
    assert wheel.url == (Path(root) / "packages" / wheel.filename).as_uri()
    assert files["fixture_alpha-0.1.0.tar.gz"].yanked
    if api == "auto":  # 404 from the simple page and the JSON API: no such project
        assert client.project_files("no-such-project", api=api) == []


def test_file_feed_links_stay_in_the_tree(index, session, tmp_path):
    from pulp2ng.importers.python.local import LocalIndexAdapter

    page = tmp_path / "tree" / "simple" / "evil"
    page.mkdir(parents=True)
    session.mount("file://", LocalIndexAdapter(str(tmp_path / "tree")))
    client = IndexClient((tmp_path / "tree").as_uri(), session)
    for href, message in [("file:///etc/passwd-1.0.tar.gz", "outside the index"),
                          ("http://127.0.0.1/evil-1.0.tar.gz", "does not use file"),
                          ("../../../../evil-1.0.tar.gz", "outside the index")]:
        (page / "index.html").write_text(f'<a href="{href}">evil-1.0.tar.gz</a>')
        with pytest.raises(UnsafeLinkError, match=message):
            client.project_files("evil")
    # The adapter itself refuses paths outside its root.
    assert session.get((tmp_path / "elsewhere").as_uri()).status_code == 404
