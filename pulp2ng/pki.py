"""The private certificate authority: the API's HTTPS certificate and login certificates.

On first start every API process calls :func:`ensure_pki`, which creates (once, under a lock,
even while HTTPS is off) ``<state_dir>/pki/``:

* ``ca.crt`` / ``ca.key``: a private CA, the issuer of everything below;
* ``server.crt`` / ``server.key``: the HTTPS listener's certificate for the bind address
  (SAN: the host, the host of ``[server] public_url``, ``127.0.0.1``, ``::1`` and
  ``localhost``); issued again when either changes or the certificate nears its end.

Keys are written mode 0600 through a temporary file renamed into place, so a reader never
sees half a key, and a ``fcntl`` lock serialises creation when several processes start.

``POST actions/login/`` issues a client certificate (:meth:`CertificateAuthority.issue_login`)
whose subject names the user (``CN=<login>``) and carries the user's ``cert_token``
(``serialNumber`` attribute). :class:`LoginCertificates` maps a verified peer certificate back
to the login; the token is compared with the user's current one on every request, so deleting
the user or changing their password (which unsets the token) revokes their certificates at once.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import ipaddress
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pulp2ng.errors import NotAuthenticated
from pulp2ng.secrets import make_private_dir

CA_DAYS = 3650
SERVER_DAYS = 825
#: A server certificate closer than this to its end is issued again at start.
SERVER_RENEW_DAYS = 30
#: Client certificates start this far in the past, for clocks slightly behind ours.
BACKDATE = datetime.timedelta(minutes=5)
#: Parsed and signature-checked login certificates are remembered this long (the token is
#: still compared with the user's on every request).
VERIFY_CACHE_SECONDS = 300.0
VERIFY_CACHE_MAX = 10_000
#: Who a client certificate names: a user (no OU) or a consumer (``OU=consumers``).
USER, CONSUMER = "user", "consumers"


@dataclass(frozen=True)
class PkiPaths:
    """Where the HTTPS listener's files are (the generated ones, or the configured ones)."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_ca: Path  # what client certificates are verified against at the handshake


def pki_dir(settings) -> Path:
    return settings.state_dir / "pki"


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` atomically: a private temporary file renamed into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class _DirLock:
    """An exclusive ``fcntl`` lock on ``<dir>/.lock`` (released by the kernel if we die)."""

    def __init__(self, directory: Path):
        self.path = directory / ".lock"

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)  # closing drops the lock


class CertificateAuthority:
    """The private CA's certificate and key; issues server and login certificates."""

    def __init__(self, cert: x509.Certificate, key):
        self.cert = cert
        self.key = key
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM)

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> "CertificateAuthority":
        cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
        key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
        return cls(cert, key)

    @classmethod
    def create(cls, name: str = "pulp2ng private CA") -> "CertificateAuthority":
        key = _new_key()
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pulp2ng"),
                             x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = _utcnow()
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                           critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    def _leaf(self, subject: x509.Name, public_key, days: float, usage, san=None,
              not_before: datetime.datetime | None = None) -> x509.Certificate:
        now = _utcnow()
        start = not_before or now - BACKDATE
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + BACKDATE + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, key_encipherment=False, key_cert_sign=False,
                crl_sign=False, content_commitment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self.key.public_key()), critical=False)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(self.key, hashes.SHA256())

    def issue_server(self, host: str, public_host: str | None = None) -> tuple[bytes, bytes]:
        """``(key_pem, cert_pem)`` of a server certificate for ``host``, ``public_host`` and
        loopback."""
        key = _new_key()
        cert = self._leaf(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]),
                          key.public_key(), SERVER_DAYS, ExtendedKeyUsageOID.SERVER_AUTH,
                          san=server_names(host, public_host))
        return _key_pem(key), cert.public_bytes(serialization.Encoding.PEM)

    def issue_login(self, login: str, token: str, days: float,
                    not_before: datetime.datetime | None = None,
                    kind: str = USER) -> tuple[bytes, bytes]:
        """``(key_pem, cert_pem)`` of a client certificate naming ``login`` (CN) with the
        holder's ``token`` (subject serialNumber), valid ``days`` from ``not_before``. A
        consumer's certificate carries ``OU=consumers``, so it never passes for a user's."""
        key = _new_key()
        subject = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pulp2ng"),
            *([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, CONSUMER)]
              if kind == CONSUMER else []),
            x509.NameAttribute(NameOID.COMMON_NAME, login),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, token),
        ])
        cert = self._leaf(subject, key.public_key(), days, ExtendedKeyUsageOID.CLIENT_AUTH,
                          not_before=not_before)
        return _key_pem(key), cert.public_bytes(serialization.Encoding.PEM)

    def issued(self, cert: x509.Certificate) -> bool:
        """Did this CA sign ``cert``?"""
        if cert.issuer != self.cert.subject:
            return False
        try:
            cert.verify_directly_issued_by(self.cert)
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True


def server_names(host: str, public_host: str | None = None) -> list[x509.GeneralName]:
    """SAN entries for a listener bound to ``host``: the host, loopback, for a wildcard bind
    (``0.0.0.0``, ``::``) the machine's name, and ``public_host`` (``[server] public_url``'s
    host: consumers are given ``https://<public host>:<https_port>``, so it must verify)."""
    names: list[x509.GeneralName] = [x509.DNSName("localhost"),
                                     x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                     x509.IPAddress(ipaddress.ip_address("::1"))]
    for name in (host, public_host):
        try:
            ip = ipaddress.ip_address(name or "")
        except ValueError:
            if name and name != "localhost" and x509.DNSName(name) not in names:
                names.append(x509.DNSName(name))
            continue
        if ip.is_unspecified:
            hostname = socket.gethostname()
            if hostname and hostname != "localhost" and x509.DNSName(hostname) not in names:
                names.append(x509.DNSName(hostname))
        elif x509.IPAddress(ip) not in names:
            names.append(x509.IPAddress(ip))
    return names


def _public_url_host(settings) -> str | None:
    """The host of ``[server] public_url`` (None when unset or unparsable)."""
    url = (settings.values["server"].get("public_url") or "").strip()
    try:
        return urlsplit(url).hostname if url else None
    except ValueError:
        return None


def _server_cert_fits(path: Path, ca: CertificateAuthority, host: str,
                      public: str | None) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    left = cert.not_valid_after_utc - _utcnow()
    return (ca.issued(cert) and left > datetime.timedelta(days=SERVER_RENEW_DAYS)
            and set(server_names(host, public)) <= set(san))


def ensure_pki(settings) -> PkiPaths:
    """Create the private CA and the server certificate if missing (idempotent, safe when
    several processes start at once) and return the paths the HTTPS listener uses."""
    directory = make_private_dir(pki_dir(settings))
    ca_cert, ca_key = directory / "ca.crt", directory / "ca.key"
    server_cert, server_key = directory / "server.crt", directory / "server.key"
    host, public = settings.get("server", "host"), _public_url_host(settings)
    with _DirLock(directory):
        if ca_cert.exists() and ca_key.exists():
            ca = CertificateAuthority.load(ca_cert, ca_key)
        else:
            ca = CertificateAuthority.create()
            _write(ca_key, _key_pem(ca.key), 0o600)
            _write(ca_cert, ca.cert_pem, 0o644)
        if not (server_key.exists() and _server_cert_fits(server_cert, ca, host, public)):
            key_pem, cert_pem = ca.issue_server(host, public)
            _write(server_key, key_pem, 0o600)
            _write(server_cert, cert_pem + ca.cert_pem, 0o644)  # the chain, leaf first
    server = settings.values["server"]
    return PkiPaths(
        ca_cert=ca_cert, ca_key=ca_key,
        server_cert=Path(server.get("ssl_cert") or server_cert),
        server_key=Path(server.get("ssl_key") or server_key),
        client_ca=Path(server.get("ssl_ca") or ca_cert),
    )


def ca_cert_pem(settings) -> str | None:
    """The private CA's certificate (PEM) for clients to trust, or None before the first start
    created it; never creates anything (consumers are told, the CA is not made here)."""
    try:
        return (pki_dir(settings) / "ca.crt").read_text()
    except FileNotFoundError:
        return None


def load_ca(settings) -> CertificateAuthority:
    paths = ensure_pki(settings)
    return CertificateAuthority.load(paths.ca_cert, paths.ca_key)


class LoginCertificates:
    """Issue login certificates and map a verified peer certificate back to its login.

    ``store`` needs ``ensure_cert_token(login)`` and ``find_cert_token(login)``
    (:class:`pulp2ng.db.certificates.CertificateQueries`).
    """

    def __init__(self, store, ca: CertificateAuthority, days: float):
        self.store = store
        self.ca = ca
        self.days = days
        self._cache: dict[bytes, tuple[str, str, str, datetime.datetime, float]] = {}
        self._lock = threading.Lock()

    def issue(self, login: str) -> dict:
        """``{key, certificate}`` (PEM strings) for ``login``, as ``actions/login/`` answers."""
        token = self.store.ensure_cert_token(login)
        if token is None:  # the user was deleted meanwhile
            raise NotAuthenticated("The user does not exist")
        key_pem, cert_pem = self.ca.issue_login(login, token, self.days)
        return {"key": key_pem.decode(), "certificate": cert_pem.decode()}

    def issue_consumer(self, consumer_id: str, token: str, days: float) -> str:
        """A consumer's key and certificate as one PEM string, as Pulp 2's registration
        answered it; valid while the consumer document keeps ``token``."""
        key_pem, cert_pem = self.ca.issue_login(consumer_id, token, days, kind=CONSUMER)
        return (key_pem + cert_pem).decode()

    def login_for(self, cert_pem: str | bytes) -> str:
        """The user a peer certificate authenticates, or :class:`NotAuthenticated`."""
        kind, login = self.identify(cert_pem)
        if kind != USER:
            raise NotAuthenticated("A consumer certificate does not authenticate a user")
        return login

    def identify(self, cert_pem: str | bytes) -> tuple[str, str]:
        """``(USER or CONSUMER, name)`` a peer certificate authenticates, or
        :class:`NotAuthenticated`.

        The parse and signature check are cached per certificate; the holder's current token
        is read on every call (one indexed read), so a revoked certificate fails at once."""
        raw = cert_pem.encode() if isinstance(cert_pem, str) else cert_pem
        digest = hashlib.sha256(raw.strip()).digest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is None or now - hit[4] > VERIFY_CACHE_SECONDS:
            hit = (*self._parse(raw), now)
            with self._lock:
                if len(self._cache) >= VERIFY_CACHE_MAX:
                    self._cache.clear()
                self._cache[digest] = hit
        kind, login, token, not_after, _ = hit
        if _utcnow() >= not_after:
            raise NotAuthenticated("The client certificate has expired")
        current = self.store.find_cert_token(login) if kind == USER else \
            self.store.find_consumer_cert_token(login)
        if current is None or current != token:
            raise NotAuthenticated("The client certificate was revoked or its holder is gone")
        return kind, login

    def _parse(self, raw: bytes) -> tuple[str, str, str, datetime.datetime]:
        try:
            cert = x509.load_pem_x509_certificate(raw)
        except ValueError:
            raise NotAuthenticated("The client certificate cannot be read") from None
        if not self.ca.issued(cert):
            raise NotAuthenticated("The client certificate was not issued by this server")
        logins = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        tokens = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
        if len(logins) != 1 or len(tokens) != 1:
            raise NotAuthenticated("The client certificate is not a login certificate")
        if cert.not_valid_before_utc > _utcnow():
            raise NotAuthenticated("The client certificate is not valid yet")
        units = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
        kind = CONSUMER if [u.value for u in units] == [CONSUMER] else USER
        if units and kind == USER:
            raise NotAuthenticated("The client certificate names neither a user nor a consumer")
        return kind, str(logins[0].value), str(tokens[0].value), cert.not_valid_after_utc
