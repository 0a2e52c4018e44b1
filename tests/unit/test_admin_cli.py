"""pulp2ng-admin without a server: what it imports, its settings, and its helpers."""

import os
import stat
import subprocess
import sys

import pytest

from pulp2ng.admin import settings
from pulp2ng.plugin.admin import AdminError, criteria, progress_steps, task_summary

SERVER_SIDE = ("flask", "pymongo", "bson", "celery", "kombu", "waitress", "cheroot")


def test_the_cli_and_its_sections_import_no_server_parts():
    """It runs on an admin's laptop: only the REST API, never the database or Flask.

    Every module of the helpers' package is imported by name, so that one its ``__init__``
    does not (yet) import is checked too.
    """
    code = ("import sys, importlib, pkgutil, pulp2ng.admin.cli, pulp2ng.importers.iso.admin; "
            "import pulp2ng.plugin.admin as helpers; "
            "[importlib.import_module(m.name) for m in "
            "pkgutil.iter_modules(helpers.__path__, helpers.__name__ + '.')]; "
            "from pulp2ng.admin.cli import cli; "
            "assert all(cli.get_command(None, s) for s in ('iso', 'python', 'docker', 'ostree', "
            "'rpm')); "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_SIDE!r} "
            "or m.startswith(('pulp2ng.db', 'pulp2ng.server', 'pulp2ng.platform', "
            "'pulp2ng.controllers', 'pulp2ng.tasking', 'pulp2ng.plugin.conduits'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


@pytest.fixture
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    for key in settings.KEYS:
        monkeypatch.delenv(f"PULP2NG_ADMIN_{key.upper()}", raising=False)
    return tmp_path / "pulp2ng"


def test_settings_file_then_environment_then_flags(config_home, monkeypatch):
    config_home.mkdir()
    (config_home / "admin.conf").write_text(
        "[admin]\nserver = https://file:1\nusername = fileuser\npassword = filepw\nca = /f.pem\n")
    loaded = settings.load({})
    assert (loaded.server, loaded.username, loaded.password, loaded.ca) == (
        "https://file:1", "fileuser", "filepw", "/f.pem")
    monkeypatch.setenv("PULP2NG_ADMIN_SERVER", "https://env:2")
    monkeypatch.setenv("PULP2NG_ADMIN_USERNAME", "envuser")
    loaded = settings.load({"server": None})
    assert (loaded.server, loaded.username, loaded.password) == (
        "https://env:2", "envuser", "filepw")
    loaded = settings.load({"server": "http://flag:3", "password": "flagpw"})
    assert (loaded.server, loaded.username, loaded.password) == (
        "http://flag:3", "envuser", "flagpw")


def test_a_bad_settings_file_is_one_clear_error(config_home):
    config_home.mkdir()
    (config_home / "admin.conf").write_text("[admin]\nserver = http://x\nsevrer = typo\n")
    with pytest.raises(AdminError, match="unknown setting.*sevrer"):
        settings.load({})
    (config_home / "admin.conf").write_text("server = no section\n")
    with pytest.raises(AdminError, match="cannot read"):
        settings.load({})


def test_the_login_certificate_is_stored_0600_and_used(config_home):
    cert, key = settings.store_login("CERT", "KEY")
    for path in (cert, key):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert settings.load({}).cert == (str(cert), str(key))
    assert settings.remove_login() is True
    assert not cert.exists() and not key.exists()
    assert settings.load({}).cert is None
    assert settings.remove_login() is False


def test_criteria_options_build_pulp_criteria():
    kwargs = {"filters": '{"size": {"$gt": 1}}', "str_eq": ("name=a.iso",),
              "match": ("checksum=^ab",), "sort": ("name,descending", "size"),
              "fields": "name, size", "limit": 5, "skip": None, "other": 1}
    assert criteria(kwargs) == {
        "filters": {"size": {"$gt": 1}, "name": "a.iso", "checksum": {"$regex": "^ab"}},
        "sort": [["name", "descending"], ["size", "ascending"]],
        "fields": ["name", "size"], "limit": 5}
    assert kwargs == {"other": 1}


def test_progress_steps_read_the_iso_and_step_list_reports():
    iso = {"iso_importer": {"state": "isos_in_progress", "num_isos": 6, "num_isos_finished": 2,
                            "total_bytes": 600, "finished_bytes": 150},
           "iso_distributor": {"state": "in_progress"}}
    steps = {s.key: (s.completed, s.total, s.unit) for s in progress_steps(iso)}
    assert steps == {"iso_importer/isos": (2, 6, "isos"),
                     "iso_importer/bytes": (150, 600, "bytes"),
                     "iso_distributor/state": (0, None, "state")}
    python = {"python_importer": [{"description": "Downloading", "num_processed": 3,
                                   "items_total": 4}]}
    assert [(s.description, s.completed, s.total) for s in progress_steps(python)] == [
        ("Downloading", 3, 4)]


def test_task_summary_names_the_action_the_resource_and_the_counts():
    report = {"state": "finished", "tags": ["pulp:repository:zoo", "pulp:action:sync"],
              "result": {"added_count": 3, "removed_count": 0, "updated_count": 1}}
    assert task_summary(report) == (
        "Sync of repository zoo: finished (added 3, removed 0, updated 1)")
