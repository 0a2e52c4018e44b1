"""The Celery application: one generic task that runs a status document by id, and one that
runs an internal job (no status document; see :mod:`pulp2ng.tasking.internal`)."""

from __future__ import annotations

from celery import Celery

from pulp2ng.tasking.broker import broker_url, require_client_library, transport_settings


def make_celery(settings) -> Celery:
    """Build the Celery app from settings; tasks carry only a task id, as JSON."""
    require_client_library(broker_url(settings))
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
        task_default_queue=settings.get("broker", "queue"),
        # A dispatch while the broker is unreachable must fail within a few seconds (the
        # API answers 503), not retry for long: three quick tries, each bounded by
        # ``[broker] timeout`` (broker_connection_timeout, set by transport_settings).
        task_publish_retry=True,
        task_publish_retry_policy={
            "max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5,
        },
    )
    app.conf.update(**transport_settings(settings))
    if broker_url(settings).startswith(("amqp://", "amqps://", "pyamqp://")):
        # Publisher confirms: a message written to a connection the broker already dropped
        # raises (and is retried) instead of vanishing, so a dispatch never answers 202
        # for a message RabbitMQ never got.
        options = dict(app.conf.broker_transport_options or {})
        options.setdefault("confirm_publish", True)
        app.conf.broker_transport_options = options

    @app.task(name="pulp2ng.execute", bind=True)
    def execute(self, task_id: str):
        from pulp2ng.tasking.runner import run_task

        run_task(self.app.pulp2ng_platform(), task_id)

    @app.task(name="pulp2ng.internal", bind=True)
    def internal(self, name: str, kwargs: dict):
        from pulp2ng.tasking.internal import run_job

        run_job(self.app.pulp2ng_platform(), name, kwargs)

    return app
