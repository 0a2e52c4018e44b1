""":class:`TypeSection`, the pulp-admin shape of a content type's section (``repo``, ``sync``,
``publish`` and ``content`` commands) built from a description of the type, so that a
section's module only declares its ids, columns and extra options. It is the one module here
that uses all the others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import click

from pulp2ng.plugin.admin.client import AdminError
from pulp2ng.plugin.admin.options import (
    bg_option,
    criteria,
    criteria_options,
    downloader_options,
    importer_config,
)
from pulp2ng.plugin.admin.output import Admin, counts, pass_admin, print_json, table
from pulp2ng.plugin.admin.tasks import follow_tasks
from pulp2ng.plugin.admin.uploads import CHUNK, forget_upload, upload_file


#: Fields that name a unit, shown first for a type without a layout of its own.
_NAMING = ("id", "name", "version", "release", "arch", "title", "type", "filename", "digest")


def _generic_columns(units: list, most: int = 5) -> list[tuple[str, str]]:
    """Columns for a unit type a section has no layout for: its naming fields, then others."""
    keys: list[str] = []
    for unit in units[:20]:
        for key, value in (unit.get("metadata") or {}).items():
            if (key not in keys and not key.startswith("_")
                    and isinstance(value, (str, int, float))):
                keys.append(key)
    keys.sort(key=lambda k: _NAMING.index(k) if k in _NAMING else len(_NAMING))
    return [(key.replace("_", " ").capitalize(), key) for key in keys[:most]]


@dataclass
class TypeSection:
    """The pulp-admin shape of a content type's section, built into a ``click`` group.

    ``build()`` gives ``repo create|update|list``, ``sync run|schedules``, ``publish run`` and
    ``content search|copy|remove|upload``; a section adds its own commands to the group it
    returns.
    ``importer_options``/``distributor_options`` are click decorators whose parameters
    ``importer_extra``/``distributor_extra`` pop from the command's kwargs into config keys.
    """

    name: str
    help: str
    importer_type_id: str
    distributor_type_id: str
    distributor_id: str
    unit_type: str
    #: The ``_repo-type`` note pulp-admin put on the repositories it created (and lists).
    repo_type: str = ""
    #: (column header, unit field) for ``content search`` tables.
    unit_columns: tuple = ()
    importer_options: tuple = ()
    importer_extra: Callable[[dict], dict] = lambda kwargs: {}
    distributor_options: tuple = ()
    distributor_extra: Callable[[dict], dict] = lambda kwargs: {}
    #: Distributor config a new repository gets unless options say otherwise (keys its
    #: distributor requires, e.g. yum's http/https), from the repository id.
    distributor_defaults: Callable[[str], dict] = lambda repo_id: {}
    #: The types ``content copy|remove --type`` take (default: ``unit_type`` alone).
    unit_types: tuple = ()
    #: ``content upload`` options and ``upload_unit(file, kwargs) -> (type_id, unit_key,
    #: metadata)`` that pops them; None: ``unit_type`` with an empty unit key, the importer
    #: reading everything from the file.
    upload_options: tuple = ()
    upload_unit: Callable[[Path, dict], tuple[str, dict, dict]] | None = None
    #: What ``content upload`` takes, appended to its help (e.g. the archive formats).
    upload_help: str = ""

    def build(self) -> click.Group:
        section = click.Group(self.name, help=self.help)
        repo = click.Group("repo", help=f"Create, change and list {self.name} repositories.")
        sync = click.Group("sync", help=f"Synchronize {self.name} repositories.")
        publish = click.Group("publish", help=f"Publish {self.name} repositories.")
        content = click.Group("content", help=f"Search, copy, remove and upload the units "
                              f"of {self.name} repositories.")
        schedules = click.Group("schedules", help="Recurring syncs of a repository "
                                "(ISO 8601 intervals, e.g. 2024-01-01T00:00Z/P1D).")
        for group in (repo, sync, publish, content):
            section.add_command(group)
        repo.add_command(self._create())
        repo.add_command(self._update())
        repo.add_command(self._list())
        sync.add_command(self._sync())
        sync.add_command(schedules)
        for command in self._schedules():
            schedules.add_command(command)
        publish.add_command(self._publish())
        for command in (self._search(), self._copy(), self._remove(), self._upload()):
            content.add_command(command)
        return section

    def _decorate(self, func):
        for option in reversed(self.distributor_options):
            func = option(func)
        for option in reversed(self.importer_options):
            func = option(func)
        func = downloader_options(func)
        func = click.option("--note", "notes", multiple=True, metavar="KEY=VALUE",
                            help="a note on the repository (repeatable; empty VALUE unsets)"
                            )(func)
        func = click.option("--description", help="free text")(func)
        func = click.option("--display-name", help="a name to show (default: the id)")(func)
        func = click.option("--repo-id", required=True, help="the repository id")(func)
        return pass_admin(func)

    def _configs(self, kwargs: dict) -> tuple[dict, dict, dict]:
        notes = {}
        for item in kwargs.pop("notes", ()):
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--note")
            notes[key] = value or None
        importer = importer_config(kwargs)
        importer.update(self.importer_extra(kwargs))
        distributor = self.distributor_extra(kwargs)
        return notes, importer, distributor

    def _create(self):
        def create(admin: Admin, repo_id, display_name, description, **kwargs):
            notes, importer, distributor = self._configs(kwargs)
            body = {"id": repo_id, "notes": {"_repo-type": self.repo_type, **notes},
                    "importer_type_id": self.importer_type_id,
                    "importer_config": {k: v for k, v in importer.items() if v is not None},
                    "distributors": [{
                        "distributor_type_id": self.distributor_type_id,
                        "distributor_id": self.distributor_id, "auto_publish": True,
                        "distributor_config": {
                            k: v for k, v in {**self.distributor_defaults(repo_id),
                                              **distributor}.items() if v is not None}}]}
            if display_name is not None:
                body["display_name"] = display_name
            if description is not None:
                body["description"] = description
            created = admin.client.post("/repositories/", json=body)
            admin.output(created, lambda r: admin.say(f"Repository [{r.get('id')}] created."))

        return click.command("create", help=f"Create a new {self.name} repository "
                             f"(published automatically after each sync).")(
            self._decorate(create))

    def _update(self):
        def update(admin: Admin, repo_id, display_name, description, bg, **kwargs):
            notes, importer, distributor = self._configs(kwargs)
            delta = {k: v for k, v in (("display_name", display_name),
                                       ("description", description)) if v is not None}
            if notes:
                delta["notes"] = notes
            body: dict = {"delta": delta}
            if importer:
                body["importer_config"] = importer
            if distributor:
                body["distributor_configs"] = {self.distributor_id: distributor}
            report = admin.client.put(f"/repositories/{repo_id}/", json=body)
            if report.get("spawned_tasks"):
                follow_tasks(admin, report, bg)
            elif admin.json:
                print_json(report)
            if not (admin.json or bg):
                admin.say(f"Repository [{repo_id}] updated.")

        return click.command("update", help=f"Change an existing {self.name} repository; "
                             f"an empty value ('') unsets an option.")(
            bg_option(self._decorate(update)))

    def _list(self):
        def show(admin: Admin, repos: list, with_details: bool):
            rows = []
            for r in repos:
                importer = next(iter(r.get("importers") or []), {})
                dist = next((d for d in r.get("distributors") or []
                             if d.get("id") == self.distributor_id), {})
                config = dist.get("config") or {}
                row = [r.get("id"), r.get("display_name"), (importer.get("config") or {}).get(
                    "feed"), counts(r.get("content_unit_counts")), importer.get("last_sync"),
                    config.get("relative_url") or (r.get("id") if dist else None)]
                if with_details:
                    row += [json.dumps(importer.get("config") or {}, sort_keys=True),
                            json.dumps(config, sort_keys=True)]
                rows.append(row)
            columns = ["Id", "Display name", "Feed", "Content", "Last sync", "Relative URL"]
            if with_details:
                columns += ["Importer config", "Distributor config"]
            table(admin, columns, rows, empty=f"No {self.name} repositories.")

        @click.command("list", help=f"The {self.name} repositories (those created as "
                       f"{self.name} repositories, note _repo-type={self.repo_type}).")
        @click.option("--details", is_flag=True, help="show the importer and distributor "
                      "configurations (secrets masked)")
        @pass_admin
        def list_(admin: Admin, details):
            body = admin.client.post("/repositories/search/", json={
                "criteria": {"filters": {"notes._repo-type": self.repo_type},
                             "sort": [["id", "ascending"]]},
                "importers": True, "distributors": True})
            admin.output(body, lambda b: show(admin, b, details))

        return list_

    def _sync(self):
        @click.command("run", help=f"Synchronize an existing {self.name} repository with "
                       f"its feed, following the task (and the publish it triggers) live.")
        @click.option("--repo-id", required=True, help="the repository")
        @bg_option
        @pass_admin
        def run(admin: Admin, repo_id, bg):
            report = admin.client.post(f"/repositories/{repo_id}/actions/sync/", json={})
            follow_tasks(admin, report, bg)

        return run

    def _publish(self):
        @click.command("run", help=f"Publish an existing {self.name} repository.")
        @click.option("--repo-id", required=True, help="the repository")
        @bg_option
        @pass_admin
        def run(admin: Admin, repo_id, bg):
            report = admin.client.post(f"/repositories/{repo_id}/actions/publish/",
                                       json={"id": self.distributor_id})
            follow_tasks(admin, report, bg)

        return run

    def _search(self):
        @click.command("search", help=f"The {self.name} units of one type in a repository; "
                       f"the criteria apply to the units' fields.")
        @click.option("--repo-id", required=True, help="the repository")
        @self._type_option()
        @criteria_options
        @pass_admin
        def search(admin: Admin, repo_id, type_id, **kwargs):
            crit = criteria(kwargs)
            body_criteria: dict = {"type_ids": [type_id],
                                   "filters": {"unit": crit.pop("filters")}}
            if "sort" in crit:
                body_criteria["sort"] = {"unit": crit.pop("sort")}
            if "fields" in crit:
                body_criteria["fields"] = {"unit": crit.pop("fields")}
            body_criteria.update(crit)
            body = admin.client.post(f"/repositories/{repo_id}/search/units/",
                                     json={"criteria": body_criteria})
            columns = self.unit_columns if type_id == self.unit_type else _generic_columns(body)
            admin.output(body, lambda b: table(
                admin, [h for h, _ in columns],
                ([(a.get("metadata") or {}).get(key) for _, key in columns] for a in b),
                empty=f"No {type_id} units."))

        return search

    def _schedules(self):
        def path(repo_id):
            return f"/repositories/{repo_id}/importers/{self.importer_type_id}/schedules/sync/"

        @click.command("create", help="Schedule recurring syncs of a repository.")
        @click.option("--repo-id", required=True, help="the repository")
        @click.option("--schedule", "-s", required=True, metavar="ISO8601",
                      help="[start/]interval[/recurrences], e.g. 2024-01-01T00:00Z/P1D")
        @click.option("--failure-threshold", type=click.IntRange(min=1),
                      help="disable the schedule after this many failures in a row")
        @click.option("--disabled", is_flag=True, help="create it disabled")
        @pass_admin
        def create(admin: Admin, repo_id, schedule, failure_threshold, disabled):
            body = {"schedule": schedule, "enabled": not disabled}
            if failure_threshold is not None:
                body["failure_threshold"] = failure_threshold
            made = admin.client.post(path(repo_id), json=body)
            admin.output(made, lambda b: admin.say(
                f"Schedule {b.get('_id')} created; next run {b.get('next_run')}."))

        @click.command("list", help="A repository's sync schedules.")
        @click.option("--repo-id", required=True, help="the repository")
        @pass_admin
        def list_(admin: Admin, repo_id):
            admin.output(admin.client.get(path(repo_id)), lambda b: table(
                admin, ["Id", "Schedule", "Enabled", "Next run", "Failures", "Last run"],
                ([d.get("_id"), d.get("schedule"), d.get("enabled"), d.get("next_run"),
                  d.get("consecutive_failures"), d.get("last_run_at")] for d in b),
                empty=f"No sync schedules for {repo_id}."))

        @click.command("delete", help="Delete a sync schedule.")
        @click.option("--repo-id", required=True, help="the repository")
        @click.option("--schedule-id", required=True, help="the schedule (see 'list')")
        @pass_admin
        def delete(admin: Admin, repo_id, schedule_id):
            admin.client.delete(path(repo_id) + f"{schedule_id}/")
            admin.say(f"Schedule {schedule_id} deleted.")

        return create, list_, delete

    def _type_option(self):
        types = self.unit_types or (self.unit_type,)
        return click.option("--type", "type_id", type=click.Choice(types),
                            default=self.unit_type, show_default=True,
                            help="the unit type the criteria select")

    def _unit_criteria(self, type_id: str, kwargs: dict) -> dict:
        crit = criteria(kwargs)
        out: dict = {"type_ids": [type_id]}
        if crit.get("filters"):
            out["filters"] = {"unit": crit["filters"]}
        return out

    def _copy(self):
        @click.command("copy", help=f"Copy {self.name} units matching the criteria (all of "
                       f"the type without any) from one repository into another.")
        @click.option("--from-repo-id", required=True, help="the source repository")
        @click.option("--to-repo-id", required=True, help="the destination repository")
        @self._type_option()
        @criteria_options
        @bg_option
        @pass_admin
        def copy(admin: Admin, from_repo_id, to_repo_id, type_id, bg, **kwargs):
            body = {"source_repo_id": from_repo_id,
                    "criteria": self._unit_criteria(type_id, kwargs)}
            report = admin.client.post(f"/repositories/{to_repo_id}/actions/associate/",
                                       json=body)
            follow_tasks(admin, report, bg)

        return copy

    def _remove(self):
        @click.command("remove", help=f"Remove {self.name} units matching the criteria from a "
                       f"repository (the units stay stored until orphans are removed).")
        @click.option("--repo-id", required=True, help="the repository")
        @self._type_option()
        @criteria_options
        @click.option("--all", "all_", is_flag=True,
                      help="remove every unit of the type (no criteria needed)")
        @bg_option
        @pass_admin
        def remove(admin: Admin, repo_id, type_id, all_, bg, **kwargs):
            body = {"criteria": self._unit_criteria(type_id, kwargs)}
            if "filters" not in body["criteria"] and not all_:
                raise click.UsageError("give criteria (--str-eq, --match, --filters) or --all")
            report = admin.client.post(f"/repositories/{repo_id}/actions/unassociate/",
                                       json=body)
            follow_tasks(admin, report, bg)

        return remove

    def _upload(self):
        def upload(admin: Admin, repo_id, files, chunk_size, **kwargs):
            finals: list = []
            for name in files:
                file = Path(name)
                if self.upload_unit is None:
                    type_id, unit_key, metadata = self.unit_type, {}, {}
                else:
                    type_id, unit_key, metadata = self.upload_unit(file, dict(kwargs))
                upload_id = upload_file(admin, file, chunk_size)
                report = admin.client.post(f"/repositories/{repo_id}/actions/import_upload/",
                                           json={"upload_id": upload_id,
                                                 "unit_type_id": type_id,
                                                 "unit_key": unit_key,
                                                 "unit_metadata": metadata})
                try:
                    finals += follow_tasks(admin, report, emit=False)
                except AdminError as exc:
                    if exc.exit_code != 130:  # a task still running needs its upload
                        forget_upload(admin, file, upload_id)
                    raise
                forget_upload(admin, file, upload_id)
            if admin.json:
                print_json(finals)

        for option in reversed(self.upload_options):
            upload = option(upload)
        upload = click.option("--chunk-size", type=click.IntRange(min=1), default=CHUNK,
                              show_default=True, help="bytes per request")(upload)
        upload = click.option("--file", "-f", "files", multiple=True, required=True,
                              type=click.Path(exists=True, dir_okay=False),
                              help="a file to upload (repeatable)")(upload)
        upload = click.option("--repo-id", required=True, help="the repository")(upload)
        text = (f"Upload files into a {self.name} repository: chunked, resumable after an "
                "interruption (run the same command again), showing bytes/s.")
        if self.upload_help:
            text += " " + self.upload_help
        return click.command("upload", help=text)(pass_admin(upload))
