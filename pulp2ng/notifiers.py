"""The three ways an event leaves pulp2ng: an HTTP POST, an e-mail, an AMQP message.

Each sender gets the listener's ``notifier_config`` with its secrets opened and the event body
``{event_type, payload, call_report}``, and raises on any failure: retrying is the caller's
business (:mod:`pulp2ng.controllers.events`). Every network wait is bounded by ``TIMEOUT``,
so a dead receiver costs a worker thread seconds, not forever.
"""

from __future__ import annotations

import json
import smtplib
from email.message import EmailMessage

import requests

#: Seconds any one attempt may wait on the network.
TIMEOUT = 10.0
#: The exchange an amqp listener publishes to when its config names none.
DEFAULT_EXCHANGE = "pulp2ng.events"


class DeliveryFailed(Exception):
    """The receiver answered, but not with a success."""


def send_http(config: dict, body: dict, settings) -> None:
    """POST the body as JSON; any status but 2xx is a failure."""
    auth = None
    if config.get("username"):
        auth = (config["username"], config.get("password") or "")
    response = requests.post(config["url"], json=body, auth=auth, timeout=TIMEOUT)
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"HTTP {response.status_code} from {config['url']}")


def send_email(config: dict, body: dict, settings) -> None:
    """Mail the body (pretty JSON) to ``addresses`` through the ``[email]`` SMTP server."""
    message = EmailMessage()
    message["From"] = settings.get("email", "from")
    message["To"] = ", ".join(config["addresses"])
    message["Subject"] = config.get("subject") or f"pulp2ng event: {body['event_type']}"
    message.set_content(json.dumps(body, indent=2, sort_keys=True))
    with smtplib.SMTP(settings.get("email", "host"), settings.getint("email", "port"),
                      timeout=TIMEOUT) as smtp:
        smtp.send_message(message)


def send_amqp(config: dict, body: dict, settings) -> None:
    """Publish the body as JSON to a durable topic exchange, routing key = event type."""
    from kombu import Connection, Exchange

    from pulp2ng.tasking.broker import broker_url

    url = config.get("url") or broker_url(settings)
    exchange = Exchange(config.get("exchange") or DEFAULT_EXCHANGE, type="topic", durable=True)
    with Connection(url, connect_timeout=TIMEOUT) as connection:
        connection.ensure_connection(max_retries=1)
        producer = connection.Producer()
        producer.publish(body, exchange=exchange, routing_key=body["event_type"],
                         serializer="json", declare=[exchange], delivery_mode=2,
                         retry=True, retry_policy={"max_retries": 1}, timeout=TIMEOUT)


SENDERS = {"http": send_http, "email": send_email, "amqp": send_amqp}
