"""Production packaging (issue 22): the systemd units and the Containerfile name commands
that exist, and carry the settings a service manager needs."""

import configparser
import json
import shlex
from pathlib import Path

import pytest

from pulp2ng.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
UNITS = ["pulp2ng-api.service", "pulp2ng-worker@.service", "pulp2ng-scheduler.service",
         "pulp2ng-db.service"]
#: systemd specifiers used in the units, with sample expansions.
SPECIFIERS = {"%i": "1", "%H": "host1.example.com"}


def console_scripts() -> dict[str, str]:
    setup = configparser.ConfigParser(interpolation=None)
    setup.read(ROOT / "setup.cfg")
    lines = setup["options.entry_points"]["console_scripts"].strip().splitlines()
    return dict(line.replace(" ", "").split("=", 1) for line in lines)


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((ROOT / "etc" / "systemd" / name).read_text())
    return parser


def expand(value: str) -> str:
    for spec, sample in SPECIFIERS.items():
        value = value.replace(spec, sample)
    return value


@pytest.mark.parametrize("name", UNITS)
def test_unit_starts_an_existing_command_under_a_dedicated_user(name):
    service = unit(name)["Service"]
    argv = shlex.split(expand(service["ExecStart"]))
    script = Path(argv[0])
    assert script.is_absolute() and script.name in console_scripts()
    assert console_scripts()[script.name] == "pulp2ng.cli:main"
    args = build_parser().parse_args(argv[1:])  # exits (fails the test) on an unknown one
    role = name.split(".")[0].removeprefix("pulp2ng-").rstrip("@")
    assert args.command == role
    if role == "worker":  # one unit per instance: a stable, distinct name each
        assert args.name == "worker-1@host1.example.com"
    assert service["Restart"] == "on-failure"
    assert service["User"] == service["Group"] == "pulp2ng"
    assert service["EnvironmentFile"].lstrip("-").startswith("/etc/pulp2ng/")
    assert service["Environment"] == "PULP2NG_CONFIG=/etc/pulp2ng/server.conf"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["CapabilityBoundingSet"] == ""
    assert "/var/lib/pulp2ng" in service["ReadWritePaths"].split()
    assert unit(name)["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.parametrize("name", UNITS)
def test_unit_is_started_once_its_health_check_passes(name):
    service = unit(name)["Service"]
    argv = shlex.split(expand(service["ExecStartPost"]))
    assert argv[0] == shlex.split(service["ExecStart"])[0]
    args = build_parser().parse_args(argv[1:])
    started = build_parser().parse_args(shlex.split(expand(service["ExecStart"]))[1:])
    assert args.command == "health" and args.target == started.command
    assert args.wait > 0
    if started.command == "worker":  # the check reads this instance's own heartbeat
        assert args.name == started.name


def test_the_units_user_is_declared():
    line = (ROOT / "etc" / "systemd" / "pulp2ng.sysusers.conf").read_text().splitlines()
    users = [entry.split()[1] for entry in line if entry.startswith("u ")]
    assert users == ["pulp2ng"]


def test_container_image_runs_any_role_from_its_own_files():
    text = (ROOT / "Containerfile").read_text()
    instructions = [line.split(None, 1) for line in text.splitlines()
                    if line and not line.startswith((" ", "#"))]
    entrypoint = [rest for word, rest in instructions if word == "ENTRYPOINT"]
    assert entrypoint == ['["pulp2ng"]'] and "pulp2ng" in console_scripts()
    cmd = [rest for word, rest in instructions if word == "CMD"][-1]
    assert build_parser().parse_args(json.loads(cmd)).command == "run"
    assert "[redis]" in text                                   # the Redis broker works
    assert not [rest for word, rest in instructions if word == "ADD"]  # no URL fetched
    assert [rest for word, rest in instructions if word == "USER"] == ["pulp2ng"]
    check = [rest for word, rest in instructions if word == "HEALTHCHECK"]
    assert len(check) == 1 and "CMD" in check[0]
    health = json.loads(check[0].split("CMD", 1)[1])
    assert health[0] == "pulp2ng"
    assert vars(build_parser().parse_args(health[1:]))["target"] == "container"
    # The units and the image install to the same place.
    assert "/opt/pulp2ng/bin" in text
