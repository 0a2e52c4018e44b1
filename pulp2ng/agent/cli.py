"""``pulp2ng-agent``: register this host as a pulp2ng consumer and run its agent.

    pulp2ng-agent register --id ID --server https://HOST:PORT --ca CA.pem [--user LOGIN]
    pulp2ng-agent unregister
    pulp2ng-agent bind REPO DISTRIBUTOR      /  unbind REPO DISTRIBUTOR [--force]
    pulp2ng-agent status
    pulp2ng-agent handler-config [TYPE.KEY [VALUE] | TYPE.KEY --unset]
    pulp2ng-agent run [--root DIR] [--once]
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from pathlib import Path

import requests

from pulp2ng.agent.client import ApiError, Client
from pulp2ng.agent.state import NotRegistered, State, default_state_dir

log = logging.getLogger("pulp2ng.agent")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="pulp2ng-agent", description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=None,
                        help=f"where the key, certificate and config live "
                             f"(default {default_state_dir()})")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    reg = sub.add_parser("register", help="register this host as a consumer")
    reg.add_argument("--id", required=True, help="the consumer id")
    reg.add_argument("--server", required=True, help="https://HOST:PORT of the API")
    reg.add_argument("--ca", required=True, type=Path, help="the server's CA certificate")
    reg.add_argument("--user", default="admin", help="login that may create consumers")
    reg.add_argument("--password-file", type=Path, help="read the password from this file")
    reg.add_argument("--display-name")
    sub.add_parser("unregister", help="delete this consumer on the server and forget it")
    for name in ("bind", "unbind"):
        p = sub.add_parser(name, help=f"{name} this consumer to a repository's distributor")
        p.add_argument("repo_id")
        p.add_argument("distributor_id")
        if name == "unbind":
            p.add_argument("--force", action="store_true",
                           help="delete the binding now, without waiting for the agent")
    sub.add_parser("status", help="registration, server reachability, bindings")
    hc = sub.add_parser("handler-config",
                        help="show the handlers' settings, or set/unset one (e.g. ostree.repo)")
    hc.add_argument("setting", nargs="?", help="TYPE.KEY: a content type and one of its "
                                               "handler's settings")
    hc.add_argument("value", nargs="?", help="the new value (a path relative to --root, "
                                             "or absolute)")
    hc.add_argument("--unset", action="store_true", help="back to the handler's default")
    run = sub.add_parser("run", help="the agent daemon")
    run.add_argument("--root", type=Path, default=Path("/"),
                     help="handlers write only under this directory (default /)")
    run.add_argument("--once", action="store_true", help="one poll, its requests, then exit")
    run.add_argument("--wait", type=float, default=25.0, help="long-poll seconds (max 25)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    state = State(args.state_dir or default_state_dir())
    command = {"register": register, "unregister": unregister, "bind": bind,
               "unbind": unbind, "status": status, "run": run_agent,
               "handler-config": handler_config}[args.command]
    try:
        return command(state, args)
    except NotRegistered as exc:
        print(f"pulp2ng-agent: {exc}", file=sys.stderr)
        return 2
    except ApiError as exc:
        print(f"pulp2ng-agent: the server answered {exc}", file=sys.stderr)
        return 1
    except requests.RequestException as exc:
        print(f"pulp2ng-agent: cannot reach the server: {exc}", file=sys.stderr)
        return 1


def _consumer_client(config: dict) -> Client:
    return Client(config["server"], config["ca"], cert=config["cert"])


def register(state: State, args) -> int:
    if (state.dir / "config.json").exists():
        print(f"pulp2ng-agent: already registered ({state.dir}); unregister first",
              file=sys.stderr)
        return 2
    if args.password_file:
        password = args.password_file.read_text().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {args.user}: ")
    client = Client(args.server, str(args.ca), auth=(args.user, password))
    body = {"id": args.id, **({"display_name": args.display_name} if args.display_name else {})}
    answer = client.post("/consumers/", json=body)
    state.save(args.id, args.server, args.ca, answer["certificate"])
    print(f"registered consumer {args.id} with {args.server}")
    return 0


def unregister(state: State, args) -> int:
    config = state.load()
    try:
        _consumer_client(config).delete(f"/consumers/{config['id']}/")
    except ApiError as exc:
        if exc.response.status_code not in (401, 404):  # already gone on the server
            raise
    state.forget()
    print(f"unregistered consumer {config['id']}")
    return 0


def bind(state: State, args) -> int:
    config = state.load()
    report = _consumer_client(config).post(
        f"/consumers/{config['id']}/bindings/",
        json={"repo_id": args.repo_id, "distributor_id": args.distributor_id})
    _print_tasks(report, "bound")
    return 0


def unbind(state: State, args) -> int:
    config = state.load()
    report = _consumer_client(config).delete(
        f"/consumers/{config['id']}/bindings/{args.repo_id}/{args.distributor_id}/",
        json={"force": args.force})
    _print_tasks(report, "unbound")
    return 0


def _print_tasks(report: dict, done: str) -> None:
    tasks = [t["task_id"] for t in (report or {}).get("spawned_tasks") or []]
    if tasks:
        print(f"{done}; agent request task(s): {' '.join(tasks)}")
    else:
        print(done)


def status(state: State, args) -> int:
    config = state.load()
    client = _consumer_client(config)
    out = {"id": config["id"], "server": config["server"], "state_dir": str(state.dir)}
    try:
        client.get("/status/", timeout=10)
        out["server_reachable"] = True
        out["bindings"] = [{"repo_id": b["repo_id"], "distributor_id": b["distributor_id"],
                            "type_id": b.get("type_id"), "deleted": b.get("deleted")}
                           for b in client.get(f"/consumers/{config['id']}/bindings/")]
    except (requests.RequestException, ApiError) as exc:
        out["server_reachable"] = False
        out["error"] = str(exc)
    print(json.dumps(out, indent=2))
    return 0 if out["server_reachable"] else 1


def handler_config(state: State, args) -> int:
    """The daemon hands each handler its section of config.json ``handlers`` (where the pip
    environment, the OSTree repository, the OCI layout are); this edits it without hand-editing
    JSON, and refuses settings no installed handler has, so a typo cannot pass unnoticed.
    The daemon reads it at start: restart it after a change."""
    config = state.load()
    current = config.get("handlers") or {}
    if args.setting is None:
        print(json.dumps(current, indent=2, sort_keys=True))
        return 0
    from pulp2ng.loader import load_handlers

    known = {cls.content_type: cls.default_config for cls in load_handlers().values()}
    content_type, _, key = args.setting.partition(".")
    if content_type not in known or key not in known[content_type]:
        choices = ", ".join(f"{t}.{k}" for t in sorted(known) for k in known[t])
        print(f"pulp2ng-agent: no handler setting {args.setting!r} (known: {choices})",
              file=sys.stderr)
        return 2
    if args.unset == (args.value is not None):
        print("pulp2ng-agent: give a value or --unset", file=sys.stderr)
        return 2
    section = dict(current.get(content_type) or {})
    if args.unset:
        section.pop(key, None)
    else:
        section[key] = args.value
    state.save_handlers({**current, content_type: section} if section else
                        {t: v for t, v in current.items() if t != content_type})
    print(f"{args.setting} = {section.get(key, known[content_type][key])!r}")
    return 0


def run_agent(state: State, args) -> int:
    from pulp2ng.agent.daemon import Agent

    config = state.load()
    args.root.mkdir(parents=True, exist_ok=True)
    return Agent(config, args.root, once=args.once, wait=min(args.wait, 25.0)).run()


if __name__ == "__main__":
    sys.exit(main())
