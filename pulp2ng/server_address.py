"""Where this pulp2ng answers, from the server settings: for consumer payloads and for
published files that carry absolute URLs (a yum ``.repo`` file)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from pulp2ng.pki import ca_cert_pem

_ANY_ADDRESS = ("", "0.0.0.0", "::", "[::]")


def server_info(settings) -> dict:
    """``{"base_url", "https_url", "ca_cert"}`` as :meth:`Distributor.create_consumer_payload`
    documents, from ``[server] public_url`` (empty: ``http://<host>:<port>``)."""
    server = settings.values["server"]
    public = (server.get("public_url") or "").strip().rstrip("/")
    if public:
        base = public
    else:
        host = server["host"]
        host = socket.getfqdn() if host in _ANY_ADDRESS else host
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        base = f"http://{host}:{server['port']}"
    https_url = None
    if base.startswith("https://"):
        https_url = base
    elif settings.getboolean("server", "https"):
        netloc = urlsplit(base).netloc.rsplit("@", 1)[-1]
        host = netloc.rsplit(":", 1)[0] if not netloc.endswith("]") else netloc
        https_url = f"https://{host}:{server['https_port']}"
    return {"base_url": base, "https_url": https_url,
            "ca_cert": ca_cert_pem(settings) if https_url else None}
