"""``pulp2ng-agent handler-config``: the handlers' settings in the agent's config.json, which
the daemon hands each handler; unknown settings are refused so a typo is not silently kept."""

from __future__ import annotations

import json

from pulp2ng.agent.cli import main
from pulp2ng.agent.state import State


def registered(tmp_path) -> State:
    ca = tmp_path / "ca.pem"
    ca.write_text("CA\n")
    state = State(tmp_path / "state")
    state.save("c1", "https://pulp.example:24818", ca, "CERT\n")
    return state


def handlers(state: State) -> dict:
    return json.loads((state.dir / "config.json").read_text())["handlers"]


def test_set_show_and_unset_a_handler_setting(tmp_path, capsys):
    state = registered(tmp_path)
    args = ["--state-dir", str(state.dir), "handler-config"]
    assert main([*args, "ostree.repo", "srv/ostree/repo"]) == 0
    assert main([*args, "docker.layout", "/var/lib/oci"]) == 0
    assert handlers(state) == {"ostree": {"repo": "srv/ostree/repo"},
                               "docker": {"layout": "/var/lib/oci"}}
    capsys.readouterr()
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out) == handlers(state)
    assert main([*args, "ostree.repo", "--unset"]) == 0
    assert "ostree.repo = 'ostree/repo'" in capsys.readouterr().out  # the default again
    assert handlers(state) == {"docker": {"layout": "/var/lib/oci"}}
    assert json.loads((state.dir / "config.json").read_text())["id"] == "c1"  # rest kept
    assert (state.dir / "config.json").stat().st_mode & 0o777 == 0o600


def test_unknown_settings_and_missing_values_are_refused(tmp_path, capsys):
    state = registered(tmp_path)
    args = ["--state-dir", str(state.dir), "handler-config"]
    assert main([*args, "ostree.rpeo", "x"]) == 2
    assert "no handler setting 'ostree.rpeo'" in capsys.readouterr().err
    assert main([*args, "nosuchtype.repo", "x"]) == 2
    assert main([*args, "python.venv"]) == 2
    assert main([*args, "python.venv", "v", "--unset"]) == 2
    assert handlers(state) == {}


def test_handler_config_needs_a_registration(tmp_path, capsys):
    assert main(["--state-dir", str(tmp_path / "none"), "handler-config"]) == 2
    assert "not registered" in capsys.readouterr().err
