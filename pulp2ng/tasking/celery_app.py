"""The Celery application: one generic task that runs a status document by id."""

from __future__ import annotations

import pymongo
from celery import Celery
from kombu.transport.mongodb import Channel as MongoChannel
from pymongo.errors import CollectionInvalid


def broker_url(settings) -> str:
    """``broker.url``, or the database itself through kombu's MongoDB transport."""
    url = settings.get("broker", "url")
    if url:
        return url
    db_url = settings.get("database", "url")
    base, _, query = db_url.partition("?")
    base = base.rstrip("/")
    if base.count("/") > 2:  # mongodb://host/dbname → replace the database name
        base = base.rsplit("/", 1)[0]
    return f"{base}/{settings.get('database', 'name')}_broker" + (f"?{query}" if query else "")


def prepare_broker(settings) -> None:
    """Create the MongoDB transport's capped broadcast collection before any worker connects.

    kombu checks for it and then creates it as each connection opens, so two workers starting
    together can race and one dies with ``CollectionInvalid`` (on real MongoDB as on the
    embedded server). Creating it once here, tolerating a concurrent creator, closes the window.
    """
    url = broker_url(settings)
    if not url.startswith(("mongodb://", "mongodb+srv://")):
        return
    with pymongo.MongoClient(url) as client:
        try:
            client.get_default_database().create_collection(
                MongoChannel.broadcast_collection, capped=True,
                size=MongoChannel.capped_queue_size)
        except CollectionInvalid:
            pass  # already there, possibly created by a process starting alongside


def make_celery(settings) -> Celery:
    """Build the Celery app from settings; tasks carry only a task id, as JSON."""
    app = Celery("pulp2ng", broker=broker_url(settings), set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        # A message is acknowledged after the task ran; with one message prefetched per
        # worker no task waits behind a busy worker while another is idle. A message that is
        # redelivered after a crash finds its status ``running`` and is dropped (the dead
        # worker's reaper fails it), so a task never runs twice.
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        # Cancel is cooperative through the status document; no remote control needed.
        worker_enable_remote_control=False,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "polling_interval": settings.getfloat("broker", "mongodb_polling_interval")
        },
        task_default_queue=settings.get("broker", "queue"),
    )

    @app.task(name="pulp2ng.execute", bind=True)
    def execute(self, task_id: str):
        from pulp2ng.tasking.runner import run_task

        run_task(self.app.pulp2ng_platform(), task_id)

    return app
