"""The downloader's TLS, proxy and retry keys against a real HTTPS upstream, a real proxy
and an upstream that fails on purpose.

Certificates are made with the ``openssl`` CLI: a CA, a server certificate for 127.0.0.1 and
a client certificate. A sync that cannot verify its upstream, or is refused by it or by the
proxy, fails with nothing stored.
"""

import subprocess
import sys
import time
import uuid

import pytest
import requests

from tests.conftest import FIXTURES, require_tool
from tests.integration.test_iso import iso_repo, published, unique_upstream

API = "/pulp/api/v2"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    openssl = require_tool("openssl")
    d = tmp_path_factory.mktemp("pki")

    def run(*args):
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=d)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=pulp2ng test CA")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, ext in (("server", ["-extfile", "san.ext"]), ("client", [])):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", "-subj", f"/CN={name}")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", *ext)
    return {p.stem + p.suffix.replace(".", "_"): p for p in d.iterdir()}


@pytest.fixture
def proxy(tmp_path):
    """``proxy(auth=None)`` starts a forwarding proxy; returns ``(port, access_log)``."""
    procs = []

    def start(auth=None):
        tag = uuid.uuid4().hex[:8]
        port_file, log = tmp_path / f"proxy-port-{tag}", tmp_path / f"proxy-{tag}.log"
        log.touch()
        args = ["--basic-auth", auth] if auth else []
        procs.append(subprocess.Popen(
            [sys.executable, str(FIXTURES / "http_proxy.py"), "--port-file", str(port_file),
             "--access-log", str(log), *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 10
        while not (port_file.exists() and port_file.read_text().strip()):
            assert time.monotonic() < deadline, "proxy did not start"
            time.sleep(0.02)
        return int(port_file.read_text()), log

    yield start
    for proc in procs:
        proc.terminate()


def sync_state(api, repo_id):
    """The sync's state and error description, once its auto-publish (if any) ended too."""
    report = api.wait_all(api.start_sync(repo_id))[0]
    return report["state"], (report.get("error") or {}).get("description", "")


def assert_nothing_stored(api, repo_id):
    repo = api.get(f"{API}/repositories/{repo_id}/").json()
    assert repo["content_unit_counts"] == {}
    assert requests.get(f"{api.base}/pulp/isos/{repo_id}/PULP_MANIFEST").status_code == 404


def test_https_upstream_needs_its_ca_unless_validation_is_off(api, serve, tmp_path, pki):
    rows = unique_upstream(tmp_path / "up", count=2)
    feed, _ = serve(tmp_path / "up", "--tls-cert", str(pki["server_pem"]),
                    "--tls-key", str(pki["server_key"]))
    assert feed.startswith("https://")

    untrusted = iso_repo(api, feed)                     # the system CAs do not know ours
    state, error = sync_state(api, untrusted)
    assert state == "error" and "certificate" in error.lower(), error
    assert_nothing_stored(api, untrusted)

    trusted = iso_repo(api, feed, ssl_ca_cert=pki["ca_pem"].read_text())
    assert sync_state(api, trusted)[0] == "finished"
    assert published(api, trusted)[1] == rows

    unchecked = iso_repo(api, feed, ssl_validation=False)
    assert sync_state(api, unchecked)[0] == "finished"


def test_client_certificate_is_presented_and_its_key_never_echoed(api, serve, tmp_path, pki):
    rows = unique_upstream(tmp_path / "up", count=2)
    feed, _ = serve(tmp_path / "up", "--tls-cert", str(pki["server_pem"]),
                    "--tls-key", str(pki["server_key"]), "--tls-client-ca", str(pki["ca_pem"]))
    ca = pki["ca_pem"].read_text()

    anonymous = iso_repo(api, feed, ssl_ca_cert=ca)
    state, error = sync_state(api, anonymous)
    assert state == "error", error
    assert_nothing_stored(api, anonymous)

    key = pki["client_key"].read_text()
    repo_id = iso_repo(api, feed, ssl_ca_cert=ca, ssl_client_cert=pki["client_pem"].read_text(),
                       ssl_client_key=key)
    assert sync_state(api, repo_id)[0] == "finished"
    assert published(api, repo_id)[1] == rows
    importer = api.get(f"{API}/repositories/{repo_id}/importers/iso_importer/")
    assert importer.json()["config"]["ssl_client_key"] == "*****"
    assert "PRIVATE KEY" not in importer.text


def test_downloads_go_through_the_proxy_with_its_credentials(api, serve, tmp_path, proxy):
    rows = unique_upstream(tmp_path / "up", count=3)
    feed, upstream_log = serve(tmp_path / "up")
    port, log = proxy(auth="squid:s3cret")

    denied = iso_repo(api, feed, proxy_host="127.0.0.1", proxy_port=port,
                      proxy_username="squid", proxy_password="wrong")
    state, error = sync_state(api, denied)
    assert state == "error" and "407" in error, error
    assert_nothing_stored(api, denied)

    repo_id = iso_repo(api, feed, proxy_host="http://127.0.0.1", proxy_port=port,
                       proxy_username="squid", proxy_password="s3cret")
    assert sync_state(api, repo_id)[0] == "finished"
    assert published(api, repo_id)[1] == rows
    through = log.read_text().splitlines()
    for name in ["PULP_MANIFEST", *rows]:
        assert f"{feed}{name} ok" in through, through
    importer = api.get(f"{API}/repositories/{repo_id}/importers/iso_importer/").json()
    assert importer["config"]["proxy_password"] == "*****"


def test_registry_client_shares_the_downloaders_retries(serve, tmp_path):
    """The container importer's registry protocol runs on the downloader's retry policy."""
    from pulp2ng.importers.docker.errors import RegistryError
    from pulp2ng.importers.docker.registry import RegistryClient
    from pulp2ng.plugin import CallConfig, Downloader

    (tmp_path / "reg" / "v2").mkdir(parents=True)
    (tmp_path / "reg" / "v2" / "index.html").write_text("{}")
    for retries, ok in ((2, True), (0, False)):
        feed, log = serve(tmp_path / "reg", "--fail", "^/v2/$=503", "--fail-first", "2")
        with Downloader(CallConfig(repo={"retries": retries}), tmp_path) as downloader:
            client = RegistryClient(feed, downloader.session, retrying=downloader.retrying)
            if ok:
                client.ping()
            else:
                with pytest.raises(RegistryError, match="503"):
                    client.ping()
        assert log.read_text().count(" 503") == (2 if ok else 1)
