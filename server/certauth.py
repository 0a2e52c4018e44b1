"""Who a request is, before basic auth: a trusted proxy's header, or a client certificate.

:class:`Identifier` is called by ``server/auth.py`` first; it answers a login, or None to fall
through to basic auth (``flask.g.auth_method`` says which one answered), or raises :class:`NotAuthenticated` for a certificate that was verified
at the handshake but no longer authenticates (revoked: user deleted or password changed).

The peer certificate comes from the WSGI environ that cheroot's builtin TLS adapter fills
(``SSL_CLIENT_VERIFY``, ``SSL_CLIENT_CERT``); it is believed only when the request came over
our TLS listener, which marks its environ with :data:`TLS_LISTENER` (see :func:`mark_tls`),
since a plain-HTTP server's environ never carries a verified certificate.
"""

from __future__ import annotations

import ipaddress

from flask import g, request

from pulp2ng.errors import NotAuthenticated
from pulp2ng.pki import CONSUMER

TLS_LISTENER = "pulp2ng.tls_listener"


def mark_tls(app):
    """WSGI middleware for the HTTPS listener: marks requests that came over TLS."""
    def wrapped(environ, start_response):
        environ[TLS_LISTENER] = True
        return app(environ, start_response)
    return wrapped


def peer_certificate(environ) -> str | None:
    """The PEM certificate the client presented and the handshake verified, or None."""
    if environ.get(TLS_LISTENER) is not True or environ.get("SSL_CLIENT_VERIFY") != "SUCCESS":
        return None
    return environ.get("SSL_CLIENT_CERT") or None


def parse_networks(value: str) -> list:
    """``"127.0.0.1, 10.0.0.0/8"`` → networks (a bare address is a /32 or /128)."""
    return [ipaddress.ip_network(item, strict=False)
            for item in value.replace(",", " ").split() if item]


class Identifier:
    def __init__(self, store, certificates, trusted_header: str = "", trusted_proxies=()):
        self.store = store
        self.certificates = certificates
        self.header = trusted_header.strip()
        self.proxies = list(trusted_proxies)

    @classmethod
    def from_settings(cls, settings, store, certificates) -> "Identifier":
        auth = settings.values.get("auth", {})
        return cls(store, certificates, auth.get("trusted_header", ""),
                   parse_networks(auth.get("trusted_proxies", "")))

    def from_trusted_proxy(self, remote_addr: str | None) -> bool:
        if not (self.header and self.proxies and remote_addr):
            return False
        try:
            address = ipaddress.ip_address(remote_addr.split("%")[0])
        except ValueError:
            return False
        return any(address in net for net in self.proxies)

    def __call__(self) -> str | None:
        environ = request.environ
        if self.from_trusted_proxy(environ.get("REMOTE_ADDR")):
            # werkzeug reads REMOTE_USER and Remote-User alike (both are HTTP_REMOTE_USER;
            # waitress drops header names with underscores, so proxies send dashes).
            login = request.headers.get(self.header)
            if login:
                if not self.store.user_exists(login):
                    raise NotAuthenticated("The user named by the trusted header does not exist")
                g.auth_method = "trusted_header"
                return login
        cert = peer_certificate(environ)
        if cert is not None:
            kind, name = self.certificates.identify(cert)
            if kind == CONSUMER:
                # A consumer is no user: server/auth.py lets it reach its own resources only.
                g.consumer, g.auth_method = name, "consumer_certificate"
                return None
            g.auth_method = "certificate"
            return name
        return None
