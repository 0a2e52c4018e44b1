"""HTTPS and certificate login against the real HTTPS listener of a real stack.

``POST actions/login/`` hands out a key and a client certificate signed by the private CA;
presented over HTTPS (curl ``--cert/--key --cacert`` and requests), it authenticates as its
user until the user is deleted or their password changes (``cert_token`` unset, done here on
the ``users`` collection directly). Foreign-CA and expired certificates are refused. A trusted
proxy's header authenticates only when configured for the request's address.
"""

from __future__ import annotations

import datetime
import subprocess
import uuid

import pymongo
import pytest
import requests
from cryptography import x509
from cryptography.x509.oid import NameOID

from pulp2ng.pki import CertificateAuthority
from tests.conftest import require_tool
from tests.stack import Stack

API = "/pulp/api/v2"
REFUSED = (requests.exceptions.SSLError, requests.exceptions.ConnectionError)


@pytest.fixture(scope="module")
def https_stack(database, tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("https"), database, workers=0, https=True,
              extra_env={"PULP2NG_AUTH_TRUSTED_HEADER": "REMOTE_USER",
                         "PULP2NG_AUTH_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1",
                         "PULP2NG_AUTH_LOGIN_CERT_DAYS": "3"})
    yield s
    s.stop()


@pytest.fixture(scope="module")
def users(https_stack, database):
    client = pymongo.MongoClient(database)
    yield client[https_stack.name]["users"]
    client.close()


@pytest.fixture
def user(https_stack):
    """A fresh user ``(login, password)`` who may read repositories, made with the users API."""
    api = https_stack.api
    login, password = f"u-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    assert api.post(f"{API}/users/", json={"login": login, "password": password}
                    ).status_code == 201
    assert api.post(f"{API}/permissions/actions/grant_to_user/", json={
        "login": login, "resource": "/v2/repositories/", "operations": ["READ"]}
    ).status_code == 200
    yield login, password
    api.delete(f"{API}/users/{login}/")


def login_files(stack, tmp_path, auth) -> tuple[str, str, dict]:
    """POST actions/login/ with basic ``auth``; the cert and key written to files."""
    response = requests.post(f"{stack.api.base}{API}/actions/login/", auth=auth, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    tag = uuid.uuid4().hex[:8]
    cert, key = tmp_path / f"cert-{tag}.pem", tmp_path / f"key-{tag}.pem"
    cert.write_text(body["certificate"])
    key.write_text(body["key"])
    return str(cert), str(key), body


def https_get(stack, path, cert=None, **kwargs) -> requests.Response:
    return requests.get(f"{stack.https_base}{API}{path}", cert=cert,
                        verify=str(stack.ca_cert), timeout=30, **kwargs)


def curl(stack, path, cert, key) -> subprocess.CompletedProcess:
    """curl over HTTPS with a client certificate; stdout ends with the status code."""
    return subprocess.run(
        [require_tool("curl"), "-s", "--cacert", str(stack.ca_cert), "--cert", cert,
         "--key", key, "-w", "\n%{http_code}", f"{stack.https_base}{API}{path}"],
        capture_output=True, text=True, timeout=60)


def assert_plp0025(response: requests.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "PLP0025"


def assert_refused(call) -> None:
    """Refused at the TLS handshake, or 401 PLP0025 after it."""
    try:
        response = call()
    except REFUSED:
        return
    assert_plp0025(response)


# -- the listener and the CA -------------------------------------------------------------------


def test_https_listener_serves_status_and_basic_auth(https_stack):
    assert https_get(https_stack, "/status/").json()["api_version"] == "2"
    assert requests.get(f"{https_stack.api.base}{API}/status/", timeout=30).status_code == 200
    assert https_get(https_stack, "/repositories/", auth=("admin", "admin")).status_code == 200
    assert_plp0025(https_get(https_stack, "/repositories/"))


def test_the_ca_and_server_certificate_are_made_under_the_state_dir(https_stack):
    pki = https_stack.root / "state" / "pki"
    for name in ("ca.key", "server.key"):
        assert (pki / name).stat().st_mode & 0o777 == 0o600
    server = x509.load_pem_x509_certificate((pki / "server.crt").read_bytes())
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert "127.0.0.1" in {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}


def test_the_ca_is_made_even_while_https_is_off(stack):
    assert (stack.root / "state" / "pki" / "ca.key").stat().st_mode & 0o777 == 0o600
    assert not stack.env.get("PULP2NG_SERVER_HTTPS")


# -- login --------------------------------------------------------------------------------------


def test_login_returns_a_key_and_a_certificate_naming_the_user(https_stack, user, tmp_path):
    _, _, body = login_files(https_stack, tmp_path, user)
    assert set(body) == {"key", "certificate"}
    assert body["key"].startswith("-----BEGIN PRIVATE KEY-----")
    cert = x509.load_pem_x509_certificate(body["certificate"].encode())
    ca = x509.load_pem_x509_certificate(https_stack.ca_cert.read_bytes())
    assert cert.issuer == ca.subject
    cert.verify_directly_issued_by(ca)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == user[0]
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert datetime.timedelta(days=3) <= lifetime <= datetime.timedelta(days=3, hours=1)
    # Login works on the HTTPS listener too (basic auth over TLS).
    response = requests.post(f"{https_stack.https_base}{API}/actions/login/", auth=user,
                             verify=str(https_stack.ca_cert), timeout=30)
    assert response.status_code == 200 and "certificate" in response.json()


def test_login_without_credentials_is_401(https_stack, user):
    assert_plp0025(requests.post(f"{https_stack.api.base}{API}/actions/login/", timeout=30))
    assert_plp0025(requests.post(f"{https_stack.https_base}{API}/actions/login/",
                                 verify=str(https_stack.ca_cert), timeout=30))
    assert_plp0025(requests.post(f"{https_stack.api.base}{API}/actions/login/",
                                 auth=(user[0], "wrong"), timeout=30))


# -- client certificates -----------------------------------------------------------------------


def test_a_login_certificate_authenticates_over_https(https_stack, user, tmp_path):
    cert, key, _ = login_files(https_stack, tmp_path, user)
    response = https_get(https_stack, "/repositories/", cert=(cert, key))
    assert response.status_code == 200, response.text
    assert response.json() == [] or isinstance(response.json(), list)
    done = curl(https_stack, "/repositories/", cert, key)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rsplit("\n", 1)[1] == "200", done.stdout
    # The same certificate again: a second login keeps the token, both certificates work.
    cert2, key2, _ = login_files(https_stack, tmp_path, user)
    assert https_get(https_stack, "/repositories/", cert=(cert2, key2)).status_code == 200
    assert https_get(https_stack, "/repositories/", cert=(cert, key)).status_code == 200
    # A certificate cannot renew itself (it would outlive login_cert_days).
    assert_plp0025(requests.post(f"{https_stack.https_base}{API}/actions/login/",
                                 cert=(cert, key), verify=str(https_stack.ca_cert), timeout=30))


def test_a_certificate_from_a_foreign_ca_is_refused(https_stack, user, users, tmp_path):
    login_files(https_stack, tmp_path, user)  # the user has a token; the CA is what differs
    token = users.find_one({"_id": user[0]})["cert_token"]
    foreign = CertificateAuthority.create("someone else's CA")
    key_pem, cert_pem = foreign.issue_login(user[0], token, 3)
    cert, key = tmp_path / "foreign.pem", tmp_path / "foreign.key"
    cert.write_bytes(cert_pem)
    key.write_bytes(key_pem)
    assert_refused(lambda: https_get(https_stack, "/repositories/", cert=(str(cert), str(key))))
    done = curl(https_stack, "/repositories/", str(cert), str(key))
    assert done.returncode != 0 or done.stdout.endswith("\n401"), done
    # The listener survives refused handshakes.
    assert https_get(https_stack, "/status/").status_code == 200


def test_an_expired_certificate_is_refused(https_stack, user, users, tmp_path):
    login_files(https_stack, tmp_path, user)
    token = users.find_one({"_id": user[0]})["cert_token"]
    pki = https_stack.root / "state" / "pki"
    ca = CertificateAuthority.load(pki / "ca.crt", pki / "ca.key")
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=10)
    key_pem, cert_pem = ca.issue_login(user[0], token, 2, not_before=past)
    cert, key = tmp_path / "expired.pem", tmp_path / "expired.key"
    cert.write_bytes(cert_pem)
    key.write_bytes(key_pem)
    assert_refused(lambda: https_get(https_stack, "/repositories/", cert=(str(cert), str(key))))
    done = curl(https_stack, "/repositories/", str(cert), str(key))
    assert done.returncode != 0 or done.stdout.endswith("\n401"), done
    # The same user with a current certificate from the same CA and token is accepted.
    key_pem, cert_pem = ca.issue_login(user[0], token, 2)
    cert.write_bytes(cert_pem)
    key.write_bytes(key_pem)
    assert https_get(https_stack, "/repositories/",
                     cert=(str(cert), str(key))).status_code == 200


def test_a_certificate_with_a_forged_token_is_401(https_stack, user, tmp_path):
    login_files(https_stack, tmp_path, user)
    pki = https_stack.root / "state" / "pki"
    ca = CertificateAuthority.load(pki / "ca.crt", pki / "ca.key")
    key_pem, cert_pem = ca.issue_login(user[0], "not-the-token", 2)
    cert, key = tmp_path / "forged.pem", tmp_path / "forged.key"
    cert.write_bytes(cert_pem)
    key.write_bytes(key_pem)
    assert_plp0025(https_get(https_stack, "/repositories/", cert=(str(cert), str(key))))


def test_a_password_change_revokes_the_certificates_at_once(https_stack, user, users, tmp_path):
    cert, key, _ = login_files(https_stack, tmp_path, user)
    assert https_get(https_stack, "/repositories/", cert=(cert, key)).status_code == 200
    assert https_stack.api.put(f"{API}/users/{user[0]}/",
                               json={"delta": {"password": "new"}}).status_code == 200
    assert_plp0025(https_get(https_stack, "/repositories/", cert=(cert, key)))
    done = curl(https_stack, "/repositories/", cert, key)
    assert done.stdout.endswith("\n401") and "PLP0025" in done.stdout, done
    # A new login gets a new token; the old certificate stays revoked.
    new_cert, new_key, _ = login_files(https_stack, tmp_path, (user[0], "new"))
    assert https_get(https_stack, "/repositories/", cert=(new_cert, new_key)).status_code == 200
    assert_plp0025(https_get(https_stack, "/repositories/", cert=(cert, key)))


def test_deleting_the_user_revokes_the_certificates_at_once(https_stack, user, users, tmp_path):
    cert, key, _ = login_files(https_stack, tmp_path, user)
    assert https_get(https_stack, "/repositories/", cert=(cert, key)).status_code == 200
    assert https_stack.api.delete(f"{API}/users/{user[0]}/").status_code == 200
    assert_plp0025(https_get(https_stack, "/repositories/", cert=(cert, key)))


def test_concurrent_logins_agree_on_one_token(https_stack, user, users, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        files = list(pool.map(lambda _: login_files(https_stack, tmp_path, user), range(8)))
    for cert, key, _ in files:
        assert https_get(https_stack, "/repositories/", cert=(cert, key)).status_code == 200
    assert users.find_one({"_id": user[0]})["cert_token"]


# -- a trusted proxy's header ----------------------------------------------------------------


def test_the_trusted_header_authenticates_from_a_trusted_proxy(https_stack, user):
    url = f"{https_stack.api.base}{API}/repositories/"
    assert requests.get(url, headers={"Remote-User": user[0]}, timeout=30).status_code == 200
    # An unknown login is refused, not created.
    assert_plp0025(requests.get(url, headers={"Remote-User": "nobody-" + uuid.uuid4().hex},
                                timeout=30))
    # It works on the HTTPS listener too.
    assert https_get(https_stack, "/repositories/",
                     headers={"Remote-User": user[0]}).status_code == 200


def test_the_header_is_ignored_when_not_configured(api):
    url = f"{api.base}{API}/repositories/"
    assert_plp0025(requests.get(url, headers={"Remote-User": "admin"}, timeout=30))
