"""Every ``pulp2ng-admin`` line of the README parses against the real command tree.

The README's curl blocks run verbatim (tests/integration/test_readme.py); its pulp2ng-admin
blocks need servers and upstreams of their own, so here each line is only parsed: its
commands must exist and its options be accepted, as they would be by the installed script.
"""

from __future__ import annotations

import re
import shlex
import warnings
from pathlib import Path

import click
import pytest

from pulp2ng.admin.cli import cli

README = Path(__file__).resolve().parents[2] / "README.md"


def admin_lines() -> list[str]:
    """The README's ``pulp2ng-admin …`` commands, continuation lines joined, comments cut."""
    text = re.sub(r"\\\n\s*", " ", README.read_text())
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("pulp2ng-admin ") and "$(" not in line and "<" not in line:
            lines.append(line)
    return lines


def words(line: str) -> list[str]:
    return shlex.split(line, comments=True)[1:]


def parse(args: list[str]) -> click.Command:
    """Walk ``args`` down the command tree as click would, without running anything: each
    group's options are parsed, then the named subcommand's, and so on."""
    ctx = cli.make_context("pulp2ng-admin", list(args))
    command: click.Command = cli
    while isinstance(command, click.Group):
        with warnings.catch_warnings():  # click 8.2 folds protected_args into args
            warnings.simplefilter("ignore", DeprecationWarning)
            rest = [*ctx.protected_args, *ctx.args]
        if not rest:
            break
        sub = command.get_command(ctx, rest[0])
        assert sub is not None, f"no command {rest[0]!r} in {ctx.command_path!r}"
        command = sub
        ctx = command.make_context(rest[0], rest[1:], parent=ctx)
    return command


def test_the_readme_shows_the_admin_for_every_content_type():
    sections = {words(line)[0] for line in admin_lines()}
    assert {"iso", "rpm", "python", "docker", "ostree"} <= sections, sections


@pytest.mark.parametrize("line", admin_lines())
def test_a_readme_admin_line_parses(line, tmp_path, monkeypatch):
    args = words(line)
    monkeypatch.chdir(tmp_path)
    for flag, value in zip(args, args[1:]):  # the files a line uploads, as the reader has
        if flag in ("--file", "-f"):
            (tmp_path / value).write_bytes(b"")
    command = parse(args)
    assert not isinstance(command, click.Group), f"{line!r} names a group, not a command"
