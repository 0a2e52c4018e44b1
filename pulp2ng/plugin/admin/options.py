"""Click options that several sections share, and the functions that turn them back into API
bodies: pulp-admin's ``--x false`` spelling, the downloader (importer) options, a section's own
config options, search criteria and ``--bg``. Each decorator has its reader
(:func:`importer_config`, :func:`pop_config`, :func:`criteria`) that pops its parameters out
of a command's kwargs, so the two stay side by side.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from pulp2ng.plugin.admin.client import AdminError


class _Bool(click.ParamType):
    name = "true|false"

    def convert(self, value, param, ctx):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "y", "1", "on"):
            return True
        if text in ("false", "no", "n", "0", "off"):
            return False
        self.fail(f"{value!r} is not true or false", param, ctx)


BOOL = _Bool()


def bool_option(*names: str, help: str):
    """``--x`` alone means true; ``--x false`` (pulp-admin's spelling) sets false."""
    return click.option(*names, type=BOOL, is_flag=False, flag_value="true", default=None,
                        help=help)


def _pem(path: str | None) -> str | None:
    """A PEM file's contents (pulp takes certificates as text); ``""`` unsets the key."""
    if path is None or path == "":
        return path
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise AdminError(f"cannot read {path}: {exc.strerror}") from None


#: (option names, importer config key, click type, help, transform)
_DOWNLOADER = [
    (("--feed",), "feed", str, "URL of the upstream repository", None),
    (("--validate",), "validate", BOOL, "verify each download's size and checksum", None),
    (("--max-downloads",), "max_downloads", click.IntRange(min=1),
     "number of concurrent downloads", None),
    (("--max-speed",), "max_speed", click.FloatRange(min=0, min_open=True),
     "bandwidth cap in bytes per second", None),
    (("--feed-ca-cert",), "ssl_ca_cert", click.Path(dir_okay=False),
     "file with the CA certificate (PEM) that signed the feed's", _pem),
    (("--verify-feed-ssl",), "ssl_validation", BOOL, "verify the feed's TLS certificate",
     None),
    (("--feed-cert",), "ssl_client_cert", click.Path(dir_okay=False),
     "file with the client certificate (PEM) presented to the feed", _pem),
    (("--feed-key",), "ssl_client_key", click.Path(dir_okay=False),
     "file with the client certificate's key (PEM)", _pem),
    (("--proxy-host",), "proxy_host", str, "proxy URL, scheme included", None),
    (("--proxy-port",), "proxy_port", click.IntRange(min=1), "proxy port", None),
    (("--proxy-user",), "proxy_username", str, "proxy user name", None),
    (("--proxy-pass",), "proxy_password", str, "proxy password", None),
    (("--basic-auth-username", "--basic-auth-user"), "basic_auth_username", str,
     "user name for HTTP basic auth to the feed", None),
    (("--basic-auth-password", "--basic-auth-pass"), "basic_auth_password", str,
     "password for HTTP basic auth to the feed", None),
]


def _param_name(names: tuple[str, ...]) -> str:
    return "dl_" + names[0].lstrip("-").replace("-", "_")


def downloader_options(func):
    """The standard importer (downloader) options; read them with :func:`importer_config`.

    An option given as an empty string unsets the key on ``repo update``.
    """
    for names, key, kind, help_text, _ in reversed(_DOWNLOADER):
        if kind is BOOL:
            func = click.option(*names, _param_name(names), type=BOOL, is_flag=False,
                                flag_value="true", default=None, help=help_text)(func)
        else:
            func = click.option(*names, _param_name(names), type=kind, default=None,
                                help=help_text)(func)
    return func


def importer_config(kwargs: dict) -> dict:
    """Pops the :func:`downloader_options` out of a command's kwargs into a config dict."""
    config = {}
    for names, key, _, _, transform in _DOWNLOADER:
        value = kwargs.pop(_param_name(names), None)
        if value is None:
            continue
        if transform:
            value = transform(value)
        config[key] = None if value == "" else value
    return config


def pop_config(kwargs: dict, keys: dict, lists: tuple = (), files: tuple = ()) -> dict:
    """Config keys from a command's own options: ``keys`` maps option to config key.

    Options not given are left out; ``''`` unsets (None). Options in ``lists`` are
    comma-separated lists, and in ``files`` paths whose (PEM or armoured) text is the value.
    """
    config = {}
    for option, key in keys.items():
        value = kwargs.pop(option, None)
        if value is None:
            continue
        if value == "":
            config[key] = None
        elif option in lists:
            config[key] = [v.strip() for v in value.split(",") if v.strip()]
        elif option in files:
            config[key] = _pem(value)
        else:
            config[key] = value
    return config


def criteria_options(func):
    """pulp-admin's search options; turn them into criteria with :func:`criteria`."""
    options = [
        click.option("--filters", help="a Mongo filter document, as JSON"),
        click.option("--str-eq", "str_eq", multiple=True, metavar="FIELD=VALUE",
                     help="match a field exactly (repeatable)"),
        click.option("--match", multiple=True, metavar="FIELD=REGEX",
                     help="match a field against a regular expression (repeatable)"),
        click.option("--sort", multiple=True, metavar="FIELD[,descending]",
                     help="sort by a field (repeatable)"),
        click.option("--fields", help="comma-separated fields to return"),
        click.option("--limit", type=click.IntRange(min=1), help="at most this many"),
        click.option("--skip", type=click.IntRange(min=0), help="skip this many"),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def criteria(kwargs: dict) -> dict:
    """Pops the :func:`criteria_options` out of kwargs: ``{filters, sort, fields, limit, skip}``."""
    filters: dict = {}
    raw = kwargs.pop("filters", None)
    if raw:
        try:
            filters = json.loads(raw)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--filters") from None
        if not isinstance(filters, dict):
            raise click.BadParameter("must be a JSON object", param_hint="--filters")
    for option, op in (("str_eq", None), ("match", "$regex")):
        for item in kwargs.pop(option, ()):
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise click.BadParameter(f"{item!r} is not FIELD=VALUE",
                                         param_hint=f"--{option.replace('_', '-')}")
            filters[name] = value if op is None else {op: value}
    out: dict = {"filters": filters}
    sort = []
    for item in kwargs.pop("sort", ()):
        name, _, direction = item.partition(",")
        if direction not in ("", "ascending", "descending"):
            raise click.BadParameter(f"{item!r}: the direction is ascending or descending",
                                     param_hint="--sort")
        sort.append([name, direction or "ascending"])
    if sort:
        out["sort"] = sort
    fields = kwargs.pop("fields", None)
    if fields:
        out["fields"] = [f.strip() for f in fields.split(",") if f.strip()]
    for key in ("limit", "skip"):
        value = kwargs.pop(key, None)
        if value is not None:
            out[key] = value
    return out


def bg_option(func):
    return click.option("--bg", is_flag=True,
                        help="do not follow the task: print its id and return")(func)
