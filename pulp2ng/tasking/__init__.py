"""Tasking: task status documents in MongoDB, per-resource FIFO reservations, and Celery.

The flow is one path for every asynchronous operation::

    dispatch()  -> status ``waiting`` (with a FIFO sequence number) -> reservations.kick()
    kick()      -> the oldest waiting task of a free resource takes the reservation and its
                   Celery message is sent; tasks without a resource are sent at once
    worker      -> ``waiting`` -> ``running`` (compare-and-set, so a message delivered twice
                   never runs twice) -> the registered function -> ``finished``/``error``
    release()   -> the finishing worker hands the resource to the next waiting task

There is no dispatcher process and no polling loop: whoever frees a resource starts the next
task on it. Workers heartbeat; any live process that sees a silent worker fails its tasks and
releases their resources (see :mod:`pulp2ng.tasking.workers`).
"""
