"""``pulp2ng-agent``: the consumer side of pulp2ng (Pulp 2's goferd plus ``pulp-consumer``).

It registers the host as a consumer, keeps the consumer's key and certificate, and runs the
daemon that carries out the server's requests (bind, unbind, install…) with the content
types' handlers (``pulp2ng.handlers`` entry points, the handler API under ``pulp2ng.plugin``).
The agent connects *out* to the API over HTTPS with its certificate and long-polls; the host
needs no broker account, no database credentials and no inbound port.

This package imports only the standard library and ``requests`` (never Flask nor pymongo):
it runs on consumer hosts that have no server parts.
"""
