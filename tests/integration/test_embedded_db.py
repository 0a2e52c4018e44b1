"""``pulp2ng db`` serving other hosts (issue 22): a bind address, refused beyond loopback
without authentication, and TLS passed through to SecantusDB."""

import os
import signal
import socket
import subprocess
import sys
import time

import pymongo
import pytest

from pulp2ng.pki import CertificateAuthority
from tests.stack import free_port, port_open


def db_environ(state, **settings) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULP2NG_")}
    env["PULP2NG_STORAGE_STATE_DIR"] = str(state)
    env.update({f"PULP2NG_DATABASE_{k.upper()}": v for k, v in settings.items()})
    return env


def start_db(tmp_path, *args, **settings) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pulp2ng.cli", "db", *args],
        env=db_environ(tmp_path / "state", **settings), stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "db.log", "wb"))


def wait_listening(proc, tmp_path, port: int) -> None:
    deadline = time.monotonic() + 60
    while not port_open("127.0.0.1", port):
        assert proc.poll() is None, (tmp_path / "db.log").read_text()
        assert time.monotonic() < deadline, "pulp2ng db did not start"
        time.sleep(0.2)
    # Listening is not serving yet: the first start provisions the user, then restarts.
    deadline = time.monotonic() + 60
    while "embedded database on" not in (tmp_path / "db.log").read_text():
        assert proc.poll() is None, (tmp_path / "db.log").read_text()
        assert time.monotonic() < deadline, "pulp2ng db did not report ready"
        time.sleep(0.2)


def stop(proc) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def routable_address() -> str | None:
    """A non-loopback IPv4 address of this host, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing interface
        except OSError:
            return None
        address = sock.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def client(port, credentials=None, host="127.0.0.1", query=""):
    auth = f"{credentials[0]}:{credentials[1]}@" if credentials else ""
    return pymongo.MongoClient(
        f"mongodb://{auth}{host}:{port}/?directConnection=true&authSource=admin{query}",
        serverSelectionTimeoutMS=3000)


def credentials_of(tmp_path) -> tuple[str, str]:
    user, password = (tmp_path / "state" / "db-credentials").read_text().strip().split(":", 1)
    return user, password


@pytest.mark.parametrize("how", ["flag", "setting"])
def test_public_bind_without_auth_is_refused(tmp_path, how):
    port = free_port()
    args = ["--host", "0.0.0.0", "--port", str(port)] if how == "flag" else []
    settings = {"embedded_auth": "false"}
    if how == "setting":
        settings.update(embedded_host="0.0.0.0", embedded_port=str(port))
    proc = start_db(tmp_path, *args, **settings)
    try:
        code = proc.wait(30)
    finally:
        stop(proc)
    message = (tmp_path / "db.log").read_text()
    assert code == 2
    assert "refusing to bind the embedded database to 0.0.0.0" in message
    assert "embedded_auth" in message
    assert not port_open("127.0.0.1", port)
    assert not (tmp_path / "state" / "db").exists()  # refused before touching the data


def test_run_refuses_a_public_embedded_bind_without_auth(tmp_path):
    env = db_environ(tmp_path / "state", embedded_host="0.0.0.0", embedded_auth="false")
    env.update(PULP2NG_SERVER_PORT=str(free_port()),
               PULP2NG_STORAGE_DIR=str(tmp_path / "storage"))
    done = subprocess.run([sys.executable, "-m", "pulp2ng.cli", "run"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "refusing to bind the embedded database to 0.0.0.0" in done.stderr


def test_public_bind_with_auth_serves_only_its_user(tmp_path):
    port = free_port()
    proc = start_db(tmp_path, "--host", "0.0.0.0", "--port", str(port))
    try:
        wait_listening(proc, tmp_path, port)
        user, password = credentials_of(tmp_path)
        hosts = ["127.0.0.1"] + ([routable_address()] if routable_address() else [])
        for host in hosts:
            known = client(port, (user, password), host)
            known.pulp2ng.probe.insert_one({"host": host})
            assert known.pulp2ng.probe.find_one({"host": host})
            known.close()
            anonymous = client(port, host=host)
            with pytest.raises(pymongo.errors.OperationFailure):
                anonymous.pulp2ng.probe.find_one()
            anonymous.close()
        wrong = client(port, (user, "not-the-password"))
        with pytest.raises(pymongo.errors.OperationFailure):
            wrong.pulp2ng.probe.find_one()
        wrong.close()
        assert password not in (tmp_path / "db.log").read_text()
    finally:
        stop(proc)
    assert proc.returncode == 0


def test_tls_is_passed_through(tmp_path):
    ca = CertificateAuthority.create("test CA")
    key_pem, cert_pem = ca.issue_server("127.0.0.1")
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    (tmp_path / "server.pem").write_bytes(cert_pem)
    (tmp_path / "server.key").write_bytes(key_pem)
    port = free_port()
    proc = start_db(tmp_path, "--host", "0.0.0.0", "--port", str(port),
                    embedded_tls_cert=str(tmp_path / "server.pem"),
                    embedded_tls_key=str(tmp_path / "server.key"))
    try:
        wait_listening(proc, tmp_path, port)
        assert "with TLS" in (tmp_path / "db.log").read_text()
        credentials = credentials_of(tmp_path)
        secure = client(port, credentials, query=f"&tls=true&tlsCAFile={tmp_path / 'ca.pem'}")
        secure.pulp2ng.probe.insert_one({"over": "tls"})
        assert secure.pulp2ng.probe.find_one({"over": "tls"})
        secure.close()
        plain = client(port, credentials)
        with pytest.raises(pymongo.errors.PyMongoError):
            plain.pulp2ng.probe.find_one()
        plain.close()
    finally:
        stop(proc)
