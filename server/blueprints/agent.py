"""``consumers/<id>/agent/``: where a consumer's agent fetches its requests and reports.

The agent (``pulp2ng-agent run``) connects out to the HTTPS listener with its consumer
certificate: ``server/auth.py`` lets that certificate reach ``consumers/<its id>/`` only, and a
request of another consumer is a 404 here. The long-poll is held only on the HTTPS listener,
whose thread pool (cheroot, ``[server] agent_connections`` threads) is not the plain-HTTP
API's (waitress): waiting agents never hold the REST API's threads. Over plain HTTP a poll
answers at once.
"""

from __future__ import annotations

import threading

from flask import current_app, jsonify, request

from pulp2ng import representations as rep
from pulp2ng.controllers import agent_requests
from pulp2ng.server import schemas
from pulp2ng.server.arguments import Blueprint
from pulp2ng.server.blueprints.common import platform
from pulp2ng.server.certauth import TLS_LISTENER

blp = Blueprint("agent", __name__, url_prefix="/pulp/api/v2",
                description="The consumer agent's requests: long-poll, heartbeat, result")
_MAILBOX = "pulp2ng.agent_mailbox"
_mailbox_lock = threading.Lock()


def _mailbox() -> agent_requests.Mailbox:
    extensions = current_app.extensions
    with _mailbox_lock:
        if _MAILBOX not in extensions:
            extensions[_MAILBOX] = agent_requests.Mailbox(platform())
        return extensions[_MAILBOX]


@blp.route("/consumers/<consumer_id>/agent/requests/", methods=["GET"])
@blp.arguments(schemas.AgentPollSchema, location="query")
@blp.response(200, schemas.AgentRequestSchema(many=True))
def poll(query, consumer_id):
    """Claim the consumer's waiting requests, oldest first, holding the poll up to ``wait``
    seconds (at most 25, HTTPS only) for one to come; ``[]`` when none came. Each is
    ``running`` from now on, leased to the agent for ``lease_seconds``."""
    over_tls = request.environ.get(TLS_LISTENER) is True
    wait = query.get("wait", 0.0) if over_tls else 0.0
    return jsonify(agent_requests.take_requests(platform(), consumer_id, wait, _mailbox()))


@blp.route("/consumers/<consumer_id>/agent/requests/<task_id>/heartbeat/", methods=["POST"])
@blp.response(200, schemas.AgentLeaseSchema)
def heartbeat(consumer_id, task_id):
    """Renew the lease of a request the agent is working on; answers its state."""
    return jsonify(agent_requests.heartbeat(platform(), consumer_id, task_id))


@blp.route("/consumers/<consumer_id>/agent/requests/<task_id>/", methods=["POST"])
@blp.arguments(schemas.AgentResultSchema)
@blp.response(200, schemas.TaskSchema)
def result(body, consumer_id, task_id):
    """Report a request's outcome: the task ends ``finished`` (``result`` = ``details``) or
    ``error`` (PLP0082); a bind's binding action is marked, a confirmed unbind deletes the
    binding; ``profiles`` replace the consumer's profiles of those content types."""
    doc = agent_requests.complete(platform(), consumer_id, task_id, body)
    return jsonify(rep.task(doc))
