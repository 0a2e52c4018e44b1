"""The pure parts of consumer bindings: handler file rules, payload shapes, server addresses."""

from __future__ import annotations

import os
import threading
import time

import pytest

from pulp2ng.config import load_settings
from pulp2ng.controllers.consumer_payloads import server_info
from pulp2ng.distributors.docker.distributor import DockerDistributor
from pulp2ng.distributors.docker.handler import DockerHandler
from pulp2ng.distributors.iso.distributor import IsoDistributor
from pulp2ng.distributors.ostree.distributor import OSTreeDistributor
from pulp2ng.distributors.python.distributor import PythonDistributor
from pulp2ng.distributors.python.handler import PythonHandler
from pulp2ng.loader import load_handlers
from pulp2ng.plugin import CallConfig, Handler, HandlerCanceled, HandlerError

HTTP = {"base_url": "http://pulp.example:24817", "https_url": None, "ca_cert": None}
HTTPS = {"base_url": "http://pulp.example:24817", "https_url": "https://pulp.example:24818",
         "ca_cert": "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n"}


def test_paths_escaping_the_root_are_refused(tmp_path):
    handler = Handler(tmp_path / "root")
    (tmp_path / "root").mkdir()
    for bad in (("..", "x"), ("/etc/passwd",), ("a", "..", "..", "x")):
        with pytest.raises(HandlerError):
            handler.path(*bad)
    os.symlink(tmp_path, tmp_path / "root" / "out")
    with pytest.raises(HandlerError):
        handler.write_file(handler.root / "out" / "x", "no")
    with pytest.raises(HandlerError):
        Handler(tmp_path / "root", {"dir": "/tmp/elsewhere"}).config_path("dir", "d")
    assert not (tmp_path / "x").exists()


def test_a_cancel_kills_the_client_tool_and_what_it_started(tmp_path):
    handler = Handler(tmp_path)
    pids = tmp_path / "pids"
    threading.Timer(0.5, handler.cancel_event.set).start()
    started = time.monotonic()
    with pytest.raises(HandlerCanceled):
        handler.run(["sh", "-c", f"sleep 30 & echo $! > {pids}; sleep 30"])
    assert time.monotonic() - started < 5
    child = int(pids.read_text())
    time.sleep(0.2)
    assert _gone(child)  # the tool's own child was killed too
    with pytest.raises(HandlerCanceled):  # nothing more starts once canceled
        handler.run(["true"])


def _gone(pid: int) -> bool:
    """No such process, or a zombie nobody reaped yet (it runs no more)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_run_reports_failures_and_timeouts(tmp_path):
    handler = Handler(tmp_path)
    assert handler.run(["sh", "-c", "echo out; echo err >&2"]).stdout == "out\n"
    with pytest.raises(HandlerError, match="failed \\(3\\): nope"):
        handler.run(["sh", "-c", "echo nope >&2; exit 3"])
    with pytest.raises(HandlerError, match="did not finish within 0.3 s"):
        handler.run(["sleep", "10"], timeout=0.3)
    with pytest.raises(HandlerError, match="not installed"):
        handler.run(["no-such-tool-here"])


def test_writes_are_atomic(tmp_path, monkeypatch):
    handler = Handler(tmp_path)
    target = handler.write_file(handler.path("a", "f.conf"), "old\n")

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        handler.write_file(target, "new\n")
    monkeypatch.undo()
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.conf"]  # no temp left


def test_loader_maps_distributor_types_to_handlers():
    handlers = load_handlers()
    assert {t: h.content_type for t, h in handlers.items()}.items() >= {
        "python_distributor": "python", "docker_distributor_web": "docker",
        "ostree_web_distributor": "ostree", "iso_distributor": "iso"}.items()


def payload(cls, server=HTTP, binding_config=None, config=None, repo=None):
    return cls().create_consumer_payload(repo or {"id": "r1", "importer": None},
                                         CallConfig(cls.default_config, {}, config or {}),
                                         binding_config or {}, server)


def test_payload_shapes():
    iso = payload(IsoDistributor, config={"relative_url": "a/b"})
    assert iso["url"] == "http://pulp.example:24817/pulp/isos/a/b/"
    assert iso["manifest_url"] == iso["url"] + "PULP_MANIFEST" and iso["credentials"] is None
    py = payload(PythonDistributor, HTTPS)
    assert py["index_url"] == "https://pulp.example:24818/pulp/python/web/r1/simple/"
    assert py["tls"] and py["ca_cert"] == HTTPS["ca_cert"] and py["trusted_host"] is None
    py = payload(PythonDistributor, HTTPS, {"https": "false"})
    assert not py["tls"] and py["ca_cert"] is None and py["trusted_host"] == "pulp.example"
    dkr = payload(DockerDistributor, HTTPS, config={"repo-registry-id": "lib/app"})
    assert (dkr["registry"], dkr["repository"], dkr["pull_spec"]) == (
        "pulp.example:24818", "lib/app", "pulp.example:24818/lib/app")
    assert dkr["tls"] and dkr["protected"] is False
    keys = ["-----BEGIN PGP PUBLIC KEY BLOCK-----\n..."]
    signed = {"id": "r1", "importer": {"importer_type_id": "ostree_web_importer",
                                       "config": {"gpg_verify": True, "gpg_keys": keys}}}
    ost = payload(OSTreeDistributor, repo=signed)
    assert ost["gpg_verify"] and ost["gpg_keys"] == keys and ost["remote_name"] == "r1"
    assert not payload(OSTreeDistributor, repo=signed,
                       binding_config={"gpg_verify": False})["gpg_verify"]
    assert not payload(OSTreeDistributor)["gpg_verify"]


def test_server_info_from_settings(tmp_path):
    env = {"PULP2NG_STORAGE_STATE_DIR": str(tmp_path)}
    assert server_info(load_settings(environ=env)) == {
        "base_url": "http://127.0.0.1:24817", "https_url": None, "ca_cert": None}
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.crt").write_text("PEM")
    info = server_info(load_settings(environ={
        **env, "PULP2NG_SERVER_PUBLIC_URL": "http://pulp.example/", "PULP2NG_SERVER_HTTPS": "true"}))
    assert info == {"base_url": "http://pulp.example", "https_url": "https://pulp.example:24818",
                    "ca_cert": "PEM"}


def test_pip_conf_follows_the_bindings(tmp_path):
    handler = PythonHandler(tmp_path)

    def bind(repo, mode, details):
        handler.bind({"repo_id": repo, "distributor_id": "d", "type_id": "python_distributor",
                      "details": details, "binding_config": {"pip_index": mode}})

    bind("a", "index", payload(PythonDistributor, HTTP, repo={"id": "a"}))
    bind("b", "extra", payload(PythonDistributor, HTTPS, repo={"id": "b"}))
    text = (tmp_path / "pip" / "pip.conf").read_text()
    assert "index-url = http://pulp.example:24817/pulp/python/web/a/simple/" in text
    assert "extra-index-url =\n    https://pulp.example:24818/pulp/python/web/b/simple/" in text
    assert "trusted-host =\n    pulp.example" in text and "cert = " in text
    assert (tmp_path / "pip" / "ca.pem").read_text().startswith(HTTPS["ca_cert"])
    handler.unbind("b", "d")
    assert "cert" not in (tmp_path / "pip" / "pip.conf").read_text()
    assert not (tmp_path / "pip" / "ca.pem").exists()
    handler.unbind("a", "d")
    assert list((tmp_path / "pip").iterdir()) == []
    with pytest.raises(HandlerError):
        bind("c", "sideways", payload(PythonDistributor, HTTP))


def test_docker_tls_binding_writes_the_ca_under_certs_d(tmp_path):
    handler = DockerHandler(tmp_path)
    details = payload(DockerDistributor, HTTPS)
    handler.bind({"repo_id": "r1", "distributor_id": "d", "type_id": "docker_distributor_web",
                  "details": details, "binding_config": {}})
    ca = tmp_path / "containers" / "certs.d" / "pulp.example:24818" / "ca.crt"
    assert ca.read_text() == HTTPS["ca_cert"]
    conf = (tmp_path / "containers" / "registries.conf.d" / "pulp2ng-r1.conf").read_text()
    assert 'location = "pulp.example:24818"' in conf and "insecure = false" in conf
    assert "--src-cert-dir" in handler.skopeo_args(handler._bindings()[0])
    handler.unbind("r1", "d")
    assert not ca.exists() and handler._bindings() == []
