"""The ``pulp2ng-admin`` entry point: global options, the command tree and error handling.

Every failure ends as one line on stderr and a non-zero exit (2 for bad usage, 1 otherwise,
130 after Ctrl-C), never a traceback: an admin reads the line, a script reads the code.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import click

from pulp2ng import __version__
from pulp2ng.admin import commands, settings
from pulp2ng.plugin.admin import Admin, AdminError

GROUP = "pulp2ng.admin"


class RootGroup(click.Group):
    """Built-in commands plus the type sections plugins register under ``pulp2ng.admin``.

    A section is imported only when it is run or listed by ``--help``; one that fails to load
    is reported and left out rather than breaking the other commands.
    """

    def _sections(self) -> dict:
        return {ep.name: ep for ep in entry_points(group=GROUP)}

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self._sections()))

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        ep = self._sections().get(name)
        if ep is None:
            return None
        try:
            command = ep.load()
        except Exception as exc:  # a broken plugin must not take the CLI down
            click.echo(f"Warning: the {name!r} section ({ep.value}) failed to load: {exc}",
                       err=True)
            return None
        if not isinstance(command, click.Command):
            click.echo(f"Warning: the {name!r} section ({ep.value}) is not a click command",
                       err=True)
            return None
        return command


@click.group(cls=RootGroup, context_settings={"help_option_names": ["-h", "--help"],
                                              "max_content_width": 100})
@click.option("--server", metavar="URL", help="the pulp2ng API, e.g. https://pulp:24818")
@click.option("--ca", type=click.Path(dir_okay=False),
              help="CA certificate file that signed the server's certificate")
@click.option("--username", "-u", help="user name for HTTP basic auth")
@click.option("--password", "-p", help="password (prompted for when only -u is given)")
@click.option("--json", "as_json", is_flag=True,
              help="print the API's JSON bodies unchanged instead of tables")
@click.version_option(__version__, prog_name="pulp2ng-admin")
@click.pass_context
def cli(ctx, server, ca, username, password, as_json):
    """Administer a pulp2ng server through its REST API, as pulp-admin did for Pulp 2.

    Settings come from ~/.config/pulp2ng/admin.conf ([admin] server, ca, username, password),
    then PULP2NG_ADMIN_SERVER/_CA/_USERNAME/_PASSWORD, then these options. After 'login' the
    stored certificate authenticates over HTTPS while no password is given.
    """
    ctx.obj = Admin(settings.load({"server": server, "ca": ca, "username": username,
                                   "password": password}), as_json=as_json)


commands.register(cli)


def main(argv=None) -> int:
    """Run the command line; returns (and exits with) the exit code."""
    code = _run(argv)
    sys.exit(code)


def _run(argv) -> int:
    no_args_help = getattr(click.exceptions, "NoArgsIsHelpError", ())
    try:
        result = cli.main(args=argv, prog_name="pulp2ng-admin", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except no_args_help as exc:  # a bare group: its help is what the admin wants
        click.echo(exc.ctx.get_help())
        return 0
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        click.echo(f"Error: {exc.format_message()}{hint}", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(f"Error: {exc.format_message()}", err=True)
        return exc.exit_code
    except click.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except AdminError as exc:
        click.echo(f"Error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    main()
