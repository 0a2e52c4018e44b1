"""Pure platform pieces: settings layering, criteria, intervals, call config."""

import datetime as dt
import io

import pytest

from pulp2ng.config import load_settings
from pulp2ng.controllers.schedules import parse_interval
from pulp2ng.db.criteria import parse_criteria, parse_unit_association_criteria
from pulp2ng.errors import InvalidCriteria, InvalidValue
from pulp2ng.importers.iso.manifest import iter_manifest
from pulp2ng.plugin import CallConfig, ContentValidationError, safe_relative_path


def test_settings_layers_file_then_environment(tmp_path):
    conf = tmp_path / "server.conf"
    conf.write_text("[tasks]\nworkers = 7\n[server]\nport = 1234\n")
    settings = load_settings(conf, environ={"PULP2NG_SERVER_PORT": "4321"})
    assert settings.getint("tasks", "workers") == 7          # file beats defaults
    assert settings.getint("server", "port") == 4321         # environment beats file
    assert settings.get("server", "host") == "127.0.0.1"     # default kept
    via_env = load_settings(environ={"PULP2NG_CONFIG": str(conf)})
    assert via_env.getint("tasks", "workers") == 7
    assert via_env.as_environ()["PULP2NG_TASKS_WORKERS"] == "7"


def test_criteria_are_validated_and_translated():
    c = parse_criteria({"filters": {"created": {"$gte": {"$date": "2020-01-01T00:00:00Z"}},
                                    "$or": [{"a": 1}, {"b": {"$in": [1, 2]}}]},
                        "sort": [["id", "descending"], "name"], "limit": 5, "skip": "2",
                        "fields": ["id"]})
    assert c.filters["created"]["$gte"] == dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    assert c.sort == [("id", -1), ("name", 1)] and (c.limit, c.skip) == (5, 2)
    assert c.renamed({"id": "_id"}).sort[0] == ("_id", -1)
    for bad, field in [({"filters": {"$where": "1"}}, "criteria.filters.$where"),
                       ({"filters": {"a": {"$in": 3}}}, "criteria.filters.a.$in"),
                       ({"sort": [["a", "up"]]}, "criteria.sort"),
                       ({"limit": -1}, "criteria.limit"),
                       ({"fields": "id"}, "criteria.fields"),
                       ({"bogus": 1}, "criteria.bogus")]:
        with pytest.raises(InvalidCriteria) as err:
            parse_criteria(bad)
        assert err.value.property_names == [field]
    uac = parse_unit_association_criteria({"type_ids": ["iso"],
                                           "filters": {"unit": {"name": "x"}}})
    assert uac.unit.filters == {"name": "x"} and uac.type_ids == ["iso"]
    with pytest.raises(InvalidCriteria):
        parse_unit_association_criteria({"filters": {"units": {}}})


def test_iso8601_intervals():
    assert parse_interval("PT1H") == (dt.timedelta(hours=1), None, None)
    interval, start, runs = parse_interval("R5/2015-01-01T00:00:00Z/PT6H")
    assert (interval, runs) == (dt.timedelta(hours=6), 5)
    assert start == dt.datetime(2015, 1, 1, tzinfo=dt.timezone.utc)
    assert parse_interval("2014-01-28T10:35:08Z/P1D")[0] == dt.timedelta(days=1)
    for bad in ["", "P", "PT", "R0/PT1H", "Rx/PT1H", "tomorrow", "PT0S", "a/b/c/d"]:
        with pytest.raises(InvalidValue):
            parse_interval(bad)


def test_call_config_layers_and_booleans():
    config = CallConfig({"a": 1, "b": 1, "c": 1, "d": 1}, {"b": 2, "c": 2, "d": 2},
                        {"c": 3, "d": 3, "flag": "False"}, {"d": 4})
    assert [config.get(k) for k in "abcd"] == [1, 2, 3, 4]
    assert config.flatten() == {"a": 1, "b": 2, "c": 3, "d": 4, "flag": "False"}
    assert config.get_boolean("flag") is False and config.get_boolean("nope", True) is True
    with pytest.raises(ValueError):
        CallConfig(repo={"x": "maybe"}).get_boolean("x")


def test_safe_relative_paths():
    assert safe_relative_path("a/b.iso") == "a/b.iso"
    for bad in ["", "/abs", "../x", "a/../b", "a//b", "./a", "a\\b", "a\x00b", "a/"]:
        assert safe_relative_path(bad) is None


def test_manifest_parser_streams_and_rejects():
    sha = "a" * 64
    rows = b"".join(f"f{i}.iso,{sha},{i}\n".encode() for i in range(3))
    assert [e.name for e in iter_manifest(io.BytesIO(rows))] == ["f0.iso", "f1.iso", "f2.iso"]
    for bad, needle in [(f"x,{sha},1\nx,{sha},2\n", "twice"), ("x,y\n", "Malformed"),
                        (f"../x,{sha},1\n", "Unsafe"), (b"\xff\xfe,,\n", "UTF-8")]:
        data = bad if isinstance(bad, bytes) else bad.encode()
        with pytest.raises(ContentValidationError, match=needle):
            list(iter_manifest(io.BytesIO(data)))


def test_embedded_broker_polls_slowly_only_when_idle():
    from pulp2ng.tasking.broker import IDLE_AFTER, Transport
    from pulp2ng.tasking.celery_app import make_celery

    settings = load_settings(environ={"PULP2NG_DATABASE_URL": "mongodb://127.0.0.1:1/"})
    connection = make_celery(settings).connection_for_read()
    transport = connection.transport
    assert isinstance(transport, Transport)
    assert (transport.polling_interval, transport.idle_polling_interval) == (0.01, 0.25)
    busy_since = transport._last_message
    assert transport.pause(busy_since + IDLE_AFTER / 2) == 0.01
    assert transport.pause(busy_since + IDLE_AFTER * 2) == 0.25


def test_rabbitmq_broker_keeps_kombus_transport():
    from pulp2ng.tasking.broker import Transport
    from pulp2ng.tasking.celery_app import make_celery

    settings = load_settings(environ={"PULP2NG_DATABASE_URL": "mongodb://127.0.0.1:1/",
                                      "PULP2NG_BROKER_URL": "amqp://guest@127.0.0.1:1//"})
    assert not isinstance(make_celery(settings).connection_for_read().transport, Transport)
