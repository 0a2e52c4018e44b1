"""The private CA: created once however many processes start together, keys 0600, the
server certificate follows the bind address; login certificates map back to their user only
while the user's token is unchanged; the trusted-proxy address check."""

from __future__ import annotations

import ipaddress
import multiprocessing

import pytest
from cryptography import x509

from pulp2ng import pki
from pulp2ng.config import load_settings
from pulp2ng.errors import NotAuthenticated
from pulp2ng.server.certauth import Identifier, parse_networks, peer_certificate


def settings_for(tmp_path, host="127.0.0.1", **server):
    return load_settings(environ={}).with_overrides(
        storage={"state_dir": str(tmp_path / "state")}, server={"host": host, **server})


def _ensure(state_dir: str, queue) -> None:
    settings = load_settings(environ={}).with_overrides(storage={"state_dir": state_dir})
    paths = pki.ensure_pki(settings)
    queue.put(paths.ca_cert.read_bytes())


def test_concurrent_first_starts_make_one_ca(tmp_path):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_ensure, args=(str(tmp_path / "state"), queue))
             for _ in range(6)]
    for p in procs:
        p.start()
    cas = {queue.get(timeout=60) for _ in procs}
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert len(cas) == 1
    directory = tmp_path / "state" / "pki"
    assert (directory / "ca.key").stat().st_mode & 0o777 == 0o600
    assert (directory / "server.key").stat().st_mode & 0o777 == 0o600
    assert not [p for p in directory.iterdir() if p.name.endswith(".tmp")]


def _san(path):
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


def test_the_server_certificate_follows_the_bind_address(tmp_path):
    paths = pki.ensure_pki(settings_for(tmp_path))
    ca_before = paths.ca_cert.read_bytes()
    first = paths.server_cert.read_bytes()
    assert pki.ensure_pki(settings_for(tmp_path)).server_cert.read_bytes() == first  # kept
    pki.ensure_pki(settings_for(tmp_path, host="pulp.example.com"))
    san = _san(paths.server_cert)
    assert "pulp.example.com" in san.get_values_for_type(x509.DNSName)
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    pki.ensure_pki(settings_for(tmp_path, host="192.0.2.7"))
    assert ipaddress.ip_address("192.0.2.7") in _san(paths.server_cert).get_values_for_type(
        x509.IPAddress)
    assert paths.ca_cert.read_bytes() == ca_before  # the CA never changes


def test_the_server_certificate_names_the_public_url_host(tmp_path):
    """Consumers are given https://<public_url host>:<https_port>: it must verify."""
    paths = pki.ensure_pki(settings_for(tmp_path, host="0.0.0.0",
                                        public_url="http://pulp.example.com:24817"))
    assert "pulp.example.com" in _san(paths.server_cert).get_values_for_type(x509.DNSName)
    first = paths.server_cert.read_bytes()
    pki.ensure_pki(settings_for(tmp_path, host="0.0.0.0", public_url="https://10.231.7.1/"))
    ips = _san(paths.server_cert).get_values_for_type(x509.IPAddress)
    assert ipaddress.ip_address("10.231.7.1") in ips and paths.server_cert.read_bytes() != first
    kept = paths.server_cert.read_bytes()
    pki.ensure_pki(settings_for(tmp_path, host="0.0.0.0", public_url="https://10.231.7.1/"))
    assert paths.server_cert.read_bytes() == kept


def test_configured_files_replace_the_generated_ones(tmp_path):
    paths = pki.ensure_pki(settings_for(tmp_path, ssl_cert="/etc/c.pem", ssl_key="/etc/k.pem",
                                        ssl_ca="/etc/ca.pem"))
    assert (str(paths.server_cert), str(paths.server_key), str(paths.client_ca)) == (
        "/etc/c.pem", "/etc/k.pem", "/etc/ca.pem")
    assert paths.ca_key.exists()  # logins still sign with the private CA


class FakeStore:
    def __init__(self):
        self.tokens: dict[str, str | None] = {"alice": None}
        self.reads = 0

    def ensure_cert_token(self, login):
        if login not in self.tokens:
            return None
        self.tokens[login] = self.tokens[login] or "t0ken"
        return self.tokens[login]

    def find_cert_token(self, login):
        self.reads += 1
        return self.tokens.get(login)


def test_login_certificates_are_revoked_by_their_token_at_once():
    store = FakeStore()
    certificates = pki.LoginCertificates(store, pki.CertificateAuthority.create(), 7)
    body = certificates.issue("alice")
    assert certificates.login_for(body["certificate"]) == "alice"
    assert certificates.login_for(body["certificate"]) == "alice"  # cached parse,
    assert store.reads == 2                                         # fresh token read
    store.tokens["alice"] = None  # password changed
    with pytest.raises(NotAuthenticated):
        certificates.login_for(body["certificate"])
    del store.tokens["alice"]  # user deleted
    with pytest.raises(NotAuthenticated):
        certificates.login_for(body["certificate"])
    with pytest.raises(NotAuthenticated):
        certificates.issue("alice")


def test_a_certificate_of_another_ca_does_not_authenticate():
    store = FakeStore()
    certificates = pki.LoginCertificates(store, pki.CertificateAuthority.create(), 7)
    certificates.issue("alice")
    _, foreign = pki.CertificateAuthority.create().issue_login("alice", "t0ken", 7)
    with pytest.raises(NotAuthenticated):
        certificates.login_for(foreign)


def test_the_trusted_header_needs_a_configured_proxy_address():
    ident = Identifier(None, None, "REMOTE_USER", parse_networks("10.0.0.0/8, 127.0.0.1"))
    assert ident.from_trusted_proxy("127.0.0.1")
    assert ident.from_trusted_proxy("10.1.2.3")
    assert not ident.from_trusted_proxy("192.168.1.1")
    assert not ident.from_trusted_proxy("not-an-address")
    assert not Identifier(None, None, "", parse_networks("127.0.0.1")).from_trusted_proxy(
        "127.0.0.1")
    assert not Identifier(None, None, "REMOTE_USER", []).from_trusted_proxy("127.0.0.1")


def test_a_peer_certificate_counts_only_from_the_tls_listener():
    environ = {"SSL_CLIENT_VERIFY": "SUCCESS", "SSL_CLIENT_CERT": "PEM"}
    assert peer_certificate(environ) is None
    assert peer_certificate({**environ, "pulp2ng.tls_listener": True}) == "PEM"
    assert peer_certificate({"pulp2ng.tls_listener": True, "SSL_CLIENT_VERIFY": "NONE"}) is None
