"""The broker URL's client library is checked at start (issue 22: redis:// failed deep in
kombu when the library was missing)."""

import sys

import pytest

from pulp2ng.tasking.broker import require_client_library


def test_redis_broker_without_the_library_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "redis", None)  # makes `import redis` raise ImportError
    with pytest.raises(SystemExit, match=r"pulp2ng\[redis\]"):
        require_client_library("redis://127.0.0.1:6379/0")
    require_client_library("amqp://guest:guest@127.0.0.1:5672//")  # needs no extra library
    require_client_library("")


def test_redis_library_is_installed_with_the_test_extra():
    require_client_library("redis://127.0.0.1:6379/0")
