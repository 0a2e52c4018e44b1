"""What a command receives and how it prints. The :class:`Admin` (``@pass_admin``) holds the
settings, the client (``admin.client``, built on first use), ``--json`` and the consoles:
``admin.output(body, human)`` prints the API's body unchanged under ``--json`` or the human
rendering otherwise, and :func:`table`, :func:`details` and :func:`counts` are the renderings
sections share. The Admin lives here rather than beside the client because choosing the
output is its job, and the renderings take it.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable, Iterable

import click
from rich.console import Console
from rich.table import Table

from pulp2ng.plugin.admin.client import Client, Settings


class Admin:
    """What every command gets: settings, the client, ``--json`` and the consoles."""

    def __init__(self, settings: Settings, as_json: bool = False):
        self.settings = settings
        self.json = as_json
        self.console = Console(highlight=False)
        if not self.console.is_terminal and "COLUMNS" not in os.environ:
            self.console.width = 200  # piped: wide rows rather than wrapped ids
        self.stderr = Console(stderr=True, highlight=False)
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            settings = self.settings
            if (settings.username and settings.password is None and not settings.cert
                    and sys.stdin.isatty()):
                settings.password = click.prompt(f"Password for {settings.username}",
                                                 hide_input=True, err=True)
            self._client = Client(settings)
        return self._client

    def output(self, body: Any, human: Callable[[Any], None]) -> None:
        """The API's body unchanged under ``--json``, else ``human(body)``."""
        if self.json:
            print_json(body)
        else:
            human(body)

    def say(self, message: str) -> None:
        """A human message (suppressed under ``--json``, which prints only bodies)."""
        if not self.json:
            self.console.print(message, markup=False)


pass_admin = click.make_pass_decorator(Admin)


def print_json(body: Any) -> None:
    click.echo(json.dumps(body, indent=2, sort_keys=False))


def table(admin: Admin, columns: list[str], rows: Iterable[Iterable[Any]],
          title: str | None = None, empty: str = "Nothing to show.") -> None:
    rows = list(rows)
    if not rows:
        admin.console.print(empty, markup=False)
        return
    out = Table(title=title, title_justify="left")
    for column in columns:
        out.add_column(column, overflow="fold")  # fold, never cut, an id
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    admin.console.print(out)


def details(admin: Admin, pairs: Iterable[tuple[str, Any]], title: str | None = None) -> None:
    """A two-column key/value table (one object)."""
    out = Table(show_header=False, title=title, title_justify="left")
    out.add_column(style="bold")
    out.add_column(overflow="fold")
    for key, value in pairs:
        if isinstance(value, (dict, list)):
            value = json.dumps(value, sort_keys=True) if value else "-"
        out.add_row(key, "-" if value in (None, "") else str(value))
    admin.console.print(out)


def counts(content_unit_counts: dict | None) -> str:
    return ", ".join(f"{t}: {n}" for t, n in sorted((content_unit_counts or {}).items())) or "0"


def human_size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)
