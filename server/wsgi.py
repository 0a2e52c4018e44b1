"""Serving the app with waitress, plus one fix for clients that probe HTTPS first.

skopeo and podman, told ``--tls-verify=false``, first try TLS on the port and fall back to
plain HTTP when that fails. A TLS ClientHello carries no HTTP header terminator, so waitress
would wait for more bytes until the client's handshake timeout (10 s per call). Like Go's
HTTP server, we answer a ClientHello at once with a plain 400, so the fallback is immediate.

With ``[server] https`` on, :func:`serve_https_in_thread` adds the HTTPS listener (cheroot,
see :func:`make_https_server` for why) in the same process, serving the same app.
"""

from __future__ import annotations

import logging

from waitress import create_server
from waitress.channel import HTTPChannel

TLS_HANDSHAKE = 0x16
_REFUSAL = (b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
            b"Client sent an HTTP request to an HTTP server with TLS; use http://\n")


class PlainHTTPChannel(HTTPChannel):
    def received(self, data):
        if data and data[0] == TLS_HANDSHAKE and self.request is None and not self.requests:
            self.write_soon(_REFUSAL)
            self.close_when_flushed = True
            return False
        return super().received(data)


def serve(app, host: str, port: int, threads: int = 16) -> None:
    # Uploads stream to disk chunk by chunk, so one PUT may be as large as a client likes
    # (waitress buffers bodies in temporary files, never in memory; its default cap is 1 GiB).
    server = create_server(app, host=host, port=port, threads=threads, ident="pulp2ng",
                           max_request_body_size=1 << 40)
    server.channel_class = PlainHTTPChannel
    server.run()


def make_https_server(app, host: str, port: int, cert: str, key: str, client_ca: str,
                      threads: int = 200):
    """The HTTPS listener: cheroot with its builtin TLS adapter.

    Why cheroot and not waitress or gunicorn: a login certificate authenticates only if the
    application sees the certificate the client presented. cheroot's builtin adapter puts
    the handshake's verified peer certificate in the WSGI environ (``SSL_CLIENT_VERIFY``,
    ``SSL_CLIENT_CERT``); waitress has no TLS at all, and gunicorn verifies client
    certificates but never hands them to the application. Client certificates are optional
    at the handshake (``CERT_OPTIONAL``: basic auth still works over HTTPS) and, when sent,
    must chain to ``client_ca`` (the private CA) and be within their validity, or the
    handshake fails.

    Its thread pool (``threads``: ``[server] agent_connections``) is its own, apart from
    waitress's: consumer agents hold long-polls open here (``consumers/<id>/agent/``) and
    never take a thread from the plain-HTTP API. Idle keep-alive connections hold no thread
    (cheroot parks them in its connection manager); the listen backlog matches the pool so
    a burst of reconnecting agents is queued, not dropped.
    """
    import ssl

    from cheroot import wsgi
    from cheroot.ssl.builtin import BuiltinSSLAdapter

    from pulp2ng.server.certauth import mark_tls

    adapter = BuiltinSSLAdapter(str(cert), str(key), certificate_chain=str(client_ca))
    adapter.context.verify_mode = ssl.CERT_OPTIONAL
    adapter.context.minimum_version = ssl.TLSVersion.TLSv1_2
    server = wsgi.Server((host, port), mark_tls(app), numthreads=threads,
                         server_name="pulp2ng", request_queue_size=max(threads, 5))
    server.ssl_adapter = adapter
    # cheroot prints refused handshakes (a foreign or expired client certificate) to stderr;
    # send them through logging like everything else.
    log = logging.getLogger("pulp2ng.https")
    server.error_log = lambda msg="", level=logging.INFO, traceback=False: log.log(
        level, "%s", msg, exc_info=traceback)
    return server


def serve_https_in_thread(app, host: str, port: int, cert, key, client_ca, threads: int = 200):
    """Start the HTTPS listener on a daemon thread (after binding, so errors surface here)."""
    import threading

    server = make_https_server(app, host, port, cert, key, client_ca, threads)
    server.prepare()
    thread = threading.Thread(target=server.serve, name="https", daemon=True)
    thread.start()
    return server
