"""Consumer payloads and handlers against the real stack and the real clients (issue 19).

Each test publishes a repository the way that type's own integration tests do, asks the
platform for the binding payload (:func:`consumer_payload`, through a Platform built
in-process on the stack's settings, as the consumers API will), lets the handler write its
client configuration under ``tmp_path``, and then drives the real client through what was
written: pip with ``PIP_CONFIG_FILE``, skopeo with ``--registries-conf``, ostree through the
added remote, the file handler's verified downloads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from pulp2ng.config import load_settings
from pulp2ng.controllers.consumer_payloads import consumer_payload
from pulp2ng.distributors.docker.handler import DockerHandler
from pulp2ng.distributors.iso.handler import IsoHandler
from pulp2ng.distributors.ostree.handler import OSTreeHandler
from pulp2ng.distributors.python.handler import PythonHandler
from pulp2ng.errors import MissingResource
from pulp2ng.plugin import HandlerError
from tests.conftest import FIXTURES, require_tool
from tests.integration.test_docker import create_repo as docker_repo
from tests.integration.test_iso import iso_repo, unique_upstream
from tests.integration.test_ostree import X86, ARM, ostree_repo, synced
from tests.integration.test_ostree import upstream_src  # noqa: F401  (fixture)
from tests.integration.test_python import dist, python_repo  # noqa: F401  (fixture)
from tests.unit.docker.conftest import images, registry  # noqa: F401  (fixtures)


@pytest.fixture(scope="module")
def platform(stack):
    """A Platform on the stack's database and state dir, as the API process builds one."""
    from pulp2ng.platform import Platform

    return Platform.from_settings(load_settings(environ=stack.env))


def binding(repo_id, distributor_id, type_id, details, binding_config=None) -> dict:
    return {"repo_id": repo_id, "distributor_id": distributor_id, "type_id": type_id,
            "details": details, "binding_config": binding_config or {}}


def files_under(root) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_payload_of_unknown_repository_or_distributor(api, platform):
    with pytest.raises(MissingResource):
        consumer_payload(platform, f"nope-{uuid.uuid4().hex[:6]}", "d")


# -- python -----------------------------------------------------------------------------------


def pip_env(conf) -> dict:
    """A pip that reads only the handler's pip.conf (no find-links from the test env)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    return env | {"PIP_CONFIG_FILE": str(conf), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def test_python_binding_drives_pip(api, platform, dist, serve, tmp_path):  # noqa: F811
    tree = tmp_path / "pypi"
    tree.mkdir()
    feed, _ = serve(tree)
    subprocess.run([sys.executable, str(FIXTURES / "make_simple_index.py"), str(dist),
                    str(tree), "--base-url", feed], check=True, capture_output=True)
    # Only what this test installs: the shared stack's other tests (test_python's upstream
    # faults) need pip-tools never stored before them.
    repo_id = python_repo(api, feed, includes=["django==2.0", "shelf-reader==0.2", "scipy>=1.0"])
    assert [r["state"] for r in api.sync(repo_id, timeout=120)] == ["finished", "finished"]

    payload = consumer_payload(platform, repo_id, "python_distributor")
    web = f"{api.base}/pulp/python/web/{repo_id}/"
    assert payload == {"server_url": api.base, "tls": False, "ca_cert": None,
                       "credentials": None, "relative_path": repo_id, "url": web,
                       "index_url": web + "simple/", "host": "127.0.0.1",
                       "trusted_host": "127.0.0.1"}

    root = tmp_path / "root"
    handler = PythonHandler(root, {})
    handler.bind(binding(repo_id, "python_distributor", "python_distributor", payload))
    conf = root / "pip" / "pip.conf"
    text = conf.read_text()
    assert f"index-url = {web}simple/" in text and "127.0.0.1" in text and "cert" not in text

    # The real pip, configured only by the written file, fetches from pulp2ng.
    got = subprocess.run([sys.executable, "-m", "pip", "download", "-v", "--no-deps",
                          "--no-cache-dir", "--only-binary", ":all:", "-d", tmp_path / "dl",
                          "django==2.0"], env=pip_env(conf), capture_output=True, text=True)
    assert got.returncode == 0, got.stderr
    assert f"Looking in indexes: {web}simple/" in got.stdout
    assert (tmp_path / "dl" / "django-2.0-py3-none-any.whl").read_bytes() == (
        dist / "django-2.0-py3-none-any.whl").read_bytes()

    opts = {"args": ["--only-binary", ":all:", "--no-cache-dir"]}
    handler.install([{"type_id": "python_package",
                      "unit_key": {"name": "shelf-reader", "version": "0.2"}}], opts)
    installed = {d["name"].lower().replace("_", "-"): d["version"] for d in handler.profile()}
    assert installed["shelf-reader"] == "0.2" and installed["scipy"] == "1.1"
    handler.install([{"type_id": "python_package",
                      "unit_key": {"filename": "scipy-1.0-py3-none-any.whl"}}], opts)
    assert {d["name"]: d["version"] for d in handler.profile()}["scipy"] == "1.0"
    handler.update([{"type_id": "python_package", "unit_key": {"name": "scipy"}}], opts)
    assert {d["name"]: d["version"] for d in handler.profile()}["scipy"] == "1.1"
    handler.uninstall([{"type_id": "python_package", "unit_key": {"name": "shelf-reader"}}],
                      {})
    assert "shelf-reader" not in {d["name"].lower().replace("_", "-")
                                  for d in handler.profile()}

    # binding_config chooses extra-index-url; binding again replaces the first binding.
    handler.bind(binding(repo_id, "python_distributor", "python_distributor", payload,
                         {"pip_index": "extra"}))
    text = conf.read_text()
    assert "extra-index-url" in text and "\nindex-url" not in text

    handler.unbind(repo_id, "python_distributor")
    assert not (root / "pip").exists() or files_under(root / "pip") == set()
    assert not list((root / ".tmp").iterdir())


def test_python_binding_over_https_names_the_ca(make_stack, dist, serve, tmp_path):  # noqa: F811
    from pulp2ng.platform import Platform

    stack = make_stack(workers=1, https=True)
    platform = Platform.from_settings(load_settings(environ=stack.env))
    tree = tmp_path / "pypi"
    tree.mkdir()
    feed, _ = serve(tree)
    subprocess.run([sys.executable, str(FIXTURES / "make_simple_index.py"), str(dist),
                    str(tree), "--base-url", feed], check=True, capture_output=True)
    repo_id = python_repo(stack.api, feed)
    assert [r["state"] for r in stack.api.sync(repo_id, timeout=120)] == ["finished"] * 2

    payload = consumer_payload(platform, repo_id, "python_distributor")
    assert payload["tls"] and payload["server_url"] == stack.https_base
    assert payload["ca_cert"] == stack.ca_cert.read_text()
    assert payload["trusted_host"] is None
    plain = consumer_payload(platform, repo_id, "python_distributor", {"https": False})
    assert plain["server_url"] == stack.api.base and plain["ca_cert"] is None

    root = tmp_path / "root"
    PythonHandler(root, {}).bind(binding(repo_id, "python_distributor", "python_distributor",
                                         payload))
    conf = root / "pip" / "pip.conf"
    bundle = root / "pip" / "ca.pem"
    assert f"cert = {bundle}" in conf.read_text() and "trusted-host" not in conf.read_text()
    assert bundle.read_text().startswith(payload["ca_cert"].strip())
    # pip >= 24.2 (truststore) ignores ``cert``; the handler also names the bundle in
    # SSL_CERT_FILE, so do the same here.
    got = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                          "--no-cache-dir", "-d", tmp_path / "dl", "scipy==1.1",
                          "--only-binary", ":all:"],
                         env=pip_env(conf) | {"SSL_CERT_FILE": str(bundle)},
                         capture_output=True, text=True)
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "dl" / "scipy-1.1-py3-none-any.whl").is_file()


# -- docker -----------------------------------------------------------------------------------


def test_docker_binding_drives_skopeo(api, stack, platform, registry, tmp_path):  # noqa: F811
    skopeo = require_tool("skopeo")
    name = f"test/app-{uuid.uuid4().hex[:6]}"
    repo_id = docker_repo(api, registry.url, name, upstream_name="fixtures/app",
                          tags=["v1", "v2"])
    assert [r["state"] for r in api.sync(repo_id)] == ["finished", "finished"]

    payload = consumer_payload(platform, repo_id, "docker_web")
    host = f"127.0.0.1:{stack.port}"
    assert payload == {"server_url": api.base, "tls": False, "ca_cert": None,
                       "credentials": None, "relative_path": name, "registry": host,
                       "repository": name, "pull_spec": f"{host}/{name}",
                       "url": f"{api.base}/v2/{name}/", "protected": False}

    root = tmp_path / "root"
    handler = DockerHandler(root, {})
    handler.bind(binding(repo_id, "docker_web", "docker_distributor_web", payload))
    dropin = root / "containers" / "registries.conf.d" / f"pulp2ng-{repo_id}.conf"
    assert f'location = "{host}"' in dropin.read_text() and "insecure = true" in dropin.read_text()

    # The written config alone (no --tls-verify=false) lets skopeo use the plain-HTTP registry.
    # (skopeo 1.9 ignores CONTAINERS_REGISTRIES_CONF; --registries-conf works everywhere.)
    got = subprocess.run([skopeo, "--registries-conf", str(dropin), "inspect", "--raw",
                          f"docker://{host}/{name}:v1"], capture_output=True, text=True,
                         timeout=120)
    assert got.returncode == 0, got.stderr
    got = subprocess.run([skopeo, "--registries-conf", str(dropin), "inspect",
                          f"docker://{host}/{name}:v2"], capture_output=True, text=True,
                         timeout=120)
    assert got.returncode == 0, got.stderr
    digest_v2 = json.loads(got.stdout)["Digest"]

    handler.install([{"type_id": "docker_tag", "unit_key": {"name": "v1"}},
                     {"type_id": "docker_tag", "unit_key": {"name": "v2"}}], {})
    profile = handler.profile()
    assert [(p["repository"], p["tag"]) for p in profile] == [(name, "v1"), (name, "v2")]
    # skopeo converts to OCI when writing a layout, so the digest is the layout's own.
    assert all(p["digest"].startswith("sha256:") for p in profile) and digest_v2
    layout = root / "containers" / "oci"
    got = subprocess.run([skopeo, "inspect", f"oci:{layout}:{name}:v1"],
                         capture_output=True, text=True, timeout=60)
    assert got.returncode == 0, got.stderr

    # A tag the repository lacks fails and leaves the layout as it was.
    before = files_under(layout)
    with pytest.raises(HandlerError):
        handler.install([{"type_id": "docker_tag", "unit_key": {"name": "nope"}}], {})
    assert files_under(layout) == before and not list((root / ".tmp").iterdir())

    handler.uninstall([{"type_id": "docker_tag", "unit_key": {"name": "v1"}},
                       {"type_id": "docker_tag", "unit_key": {"name": "v2"}}], {})
    assert handler.profile() == []
    assert files_under(layout / "blobs") == set()

    handler.unbind(repo_id, "docker_web")
    assert not dropin.exists() and files_under(root / "containers" / "registries.conf.d") == set()


# -- ostree -----------------------------------------------------------------------------------


def test_ostree_binding_drives_ostree(api, platform, upstream_src, serve, tmp_path):  # noqa: F811
    import shutil

    ostree = require_tool("ostree")
    src, heads = upstream_src
    up = tmp_path / "up" / "repo"
    shutil.copytree(src, up, symlinks=True)
    feed, _ = serve(up.parent)
    repo_id = ostree_repo(api, feed + "repo/", depth=-1)
    synced(api, repo_id)

    payload = consumer_payload(platform, repo_id, "ostree_web_distributor")
    url = f"{api.base}/pulp/ostree/web/{repo_id}/"
    assert payload == {"server_url": api.base, "tls": False, "ca_cert": None,
                       "credentials": None, "relative_path": repo_id, "url": url,
                       "remote_name": repo_id, "gpg_verify": False, "gpg_keys": []}

    root = tmp_path / "root"
    handler = OSTreeHandler(root, {})
    handler.bind(binding(repo_id, "ostree_web_distributor", "ostree_web_distributor", payload))
    repo = root / "ostree" / "repo"

    def run(*args):
        proc = subprocess.run([ostree, f"--repo={repo}", *args], capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert run("remote", "show-url", repo_id).strip() == url
    run("pull", repo_id, X86)  # the real client, through the added remote
    assert run("rev-parse", f"{repo_id}:{X86}").strip() == heads[X86]

    handler.install([{"type_id": "ostree", "unit_key": {"branch": ARM}}], {})
    assert handler.profile() == sorted([
        {"remote": repo_id, "ref": ref, "commit": heads[ref]} for ref in (X86, ARM)],
        key=lambda p: p["ref"])
    handler.uninstall([{"type_id": "ostree", "unit_key": {"branch": X86}}], {})
    assert [p["ref"] for p in handler.profile()] == [ARM]

    # Binding again with another URL (a relative_path change) replaces the remote.
    moved = {**payload, "url": url.replace(repo_id, "elsewhere")}
    handler.bind(binding(repo_id, "ostree_web_distributor", "ostree_web_distributor", moved))
    assert run("remote", "show-url", repo_id).strip() == moved["url"]

    handler.unbind(repo_id, "ostree_web_distributor")
    assert run("remote", "list").strip() == ""
    assert files_under(root / "ostree" / "bindings") == set()


# -- iso --------------------------------------------------------------------------------------


def test_iso_binding_downloads_and_verifies(api, platform, serve, tmp_path, monkeypatch):
    rows = unique_upstream(tmp_path / "up", count=3)
    feed, _ = serve(tmp_path / "up")
    repo_id = iso_repo(api, feed)
    assert [r["state"] for r in api.sync(repo_id)] == ["finished", "finished"]

    payload = consumer_payload(platform, repo_id, "iso_distributor")
    url = f"{api.base}/pulp/isos/{repo_id}/"
    assert payload == {"server_url": api.base, "tls": False, "ca_cert": None,
                       "credentials": None, "relative_path": repo_id, "url": url,
                       "manifest_name": "PULP_MANIFEST", "manifest_url": url + "PULP_MANIFEST"}

    root = tmp_path / "root"
    handler = IsoHandler(root, {})
    handler.bind(binding(repo_id, "iso_distributor", "iso_distributor", payload))
    assert json.loads((root / "iso" / f"{repo_id}.json").read_text())["url"] == url

    handler.install([{"type_id": "iso", "unit_key": {"name": "file-1.iso"}},
                     {"type_id": "iso", "unit_key": {"name": "file-2.iso"}}], {})
    assert handler.profile() == [
        {"name": n, "checksum": rows[n][0], "size": rows[n][1]}
        for n in ("file-1.iso", "file-2.iso")]

    # A file whose bytes do not match the manifest: nothing of the install lands.
    real = IsoHandler._manifest

    def lying(self, b, timeout):
        entries = real(self, b, timeout)
        entries["file-3.iso"] = {**entries["file-3.iso"], "checksum": "0" * 64}
        return entries

    monkeypatch.setattr(IsoHandler, "_manifest", lying)
    with pytest.raises(HandlerError, match="does not match"):
        handler.install([{"type_id": "iso", "unit_key": {"name": "file-3.iso"}}], {})
    monkeypatch.undo()
    assert [p["name"] for p in handler.profile()] == ["file-1.iso", "file-2.iso"]
    assert not list((root / ".tmp").iterdir())
    with pytest.raises(HandlerError, match="no bound repository"):
        handler.install([{"type_id": "iso", "unit_key": {"name": "missing.iso"}}], {})

    (root / "iso" / "files" / "file-2.iso").write_bytes(b"changed")
    handler.update([], {})
    assert {p["name"]: p["checksum"] for p in handler.profile()}["file-2.iso"] == rows[
        "file-2.iso"][0]

    handler.uninstall([{"type_id": "iso", "unit_key": {"name": "file-1.iso"}}], {})
    assert [p["name"] for p in handler.profile()] == ["file-2.iso"]
    handler.unbind(repo_id, "iso_distributor")
    assert not (root / "iso" / f"{repo_id}.json").exists()
