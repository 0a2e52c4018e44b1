"""Following a call report's tasks to their end: :func:`follow_tasks` polls each task (and
those it spawns), draws live bars from its ``progress_report`` (:func:`progress_steps`, or a
section's own ``steps``), then prints a summary line and the errors of each task. The wording
of a task (:func:`task_title`, :func:`task_summary`, :func:`task_errors`) is shared with the
platform's ``tasks`` commands.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Callable

import click
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from pulp2ng.plugin.admin.client import AdminError
from pulp2ng.plugin.admin.output import Admin, human_size, print_json

TERMINAL = ("finished", "error", "canceled", "skipped")
#: Plugin progress states after which a step's bar is full.
DONE_STATES = ("complete", "finished", "failed", "skipped", "cancelled", "canceled",
               "isos_failed", "manifest_failed")
#: How often a followed task is polled (seconds).
POLL = 0.25


@dataclass
class Step:
    """One progress bar: ``completed`` of ``total`` (None: unknown) in ``unit``."""

    key: str
    description: str
    completed: float = 0
    total: float | None = None
    unit: str = "items"


def progress_steps(progress_report: dict | None) -> list[Step]:
    """Bars for a task's ``progress_report``, whatever the plugin's shape.

    Understands the flat ISO-style report (``num_*_finished``/``num_*``, ``finished_bytes``/
    ``total_bytes``), step lists (``num_processed``/``items_total``) and any report with only a
    ``state``; a section may pass its own function to :func:`follow_tasks` instead.
    """
    steps: list[Step] = []
    for report_id, report in (progress_report or {}).items():
        if isinstance(report, list):
            for i, step in enumerate(s for s in report if isinstance(s, dict)):
                steps.append(Step(f"{report_id}/{i}", step.get("description")
                                  or step.get("step_type") or report_id,
                                  step.get("num_processed") or 0, step.get("items_total")))
            continue
        if not isinstance(report, dict):
            continue
        found = False
        for key, value in report.items():
            if (key.startswith("num_") and key.endswith("_finished")
                    and isinstance(value, (int, float))):
                total_key = key[:-len("_finished")]
                noun = total_key[len("num_"):]
                steps.append(Step(f"{report_id}/{noun}", f"{report_id}: {noun}", value,
                                  report.get(total_key) or None, noun))
                found = True
        if isinstance(report.get("total_bytes"), (int, float)) and report.get("total_bytes"):
            steps.append(Step(f"{report_id}/bytes", f"{report_id}: bytes",
                              report.get("finished_bytes") or 0, report["total_bytes"],
                              "bytes"))
            found = True
        if not found and "state" in report:
            done = str(report["state"]).lower() in DONE_STATES
            steps.append(Step(f"{report_id}/state", f"{report_id}: {report['state']}",
                              1 if done else 0, 1 if done else None, "state"))
    return steps


def _amount(step: Step) -> str:
    if step.unit == "state":
        return ""
    fmt = human_size if step.unit == "bytes" else (lambda v: f"{v:g}")
    total = "?" if step.total is None else fmt(step.total)
    return f"{fmt(step.completed)}/{total}" + ("" if step.unit == "bytes" else f" {step.unit}")


def tag_value(report: dict, prefix: str) -> str | None:
    for tag in report.get("tags") or []:
        if tag.startswith(prefix):
            return tag[len(prefix):]
    return None


def task_title(report: dict) -> str:
    """``sync of repository zoo`` from the task's tags."""
    action = (tag_value(report, "pulp:action:") or "task").replace("_", " ")
    repos = [t.split(":", 2)[2] for t in report.get("tags") or []
             if t.startswith("pulp:repository:")]
    if action == "associate" and len(repos) == 2:  # tagged source first, then destination
        return f"copy from repository {repos[0]} into repository {repos[1]}"
    for kind in ("repository", "repository_group", "consumer"):
        resource = tag_value(report, f"pulp:{kind}:")
        if resource:
            return f"{action} of {kind.replace('_', ' ')} {resource}"
    return action


def task_errors(report: dict) -> list[str]:
    """The error lines a failed (or partly failed) task reports, plainly."""
    lines = []
    error = report.get("error") or {}
    if error:
        lines.append(f"{error.get('code') or 'error'}: {error.get('description')}")
    for report_id, progress in (report.get("progress_report") or {}).items():
        items = progress if isinstance(progress, list) else [progress]
        for item in items:
            if not isinstance(item, dict):
                continue
            for key in ("iso_error_messages", "error_details"):
                for detail in item.get(key) or []:
                    if isinstance(detail, dict):
                        name = detail.get("name") or detail.get("url") or ""
                        message = detail.get("error") or detail.get("error_message") or detail
                        lines.append(f"{name}: {message}" if name else str(message))
                    else:
                        lines.append(str(detail))
            if not error and item.get("error_message"):
                lines.append(f"{report_id}: {item['error_message']}")
    return lines


def task_summary(report: dict) -> str:
    """One line: what the task did and how it ended, with unit counts for syncs."""
    line = f"{task_title(report).capitalize()}: {report.get('state')}"
    result = report.get("result")
    if isinstance(result, dict):
        parts = [f"{label} {result[key]}" for key, label in
                 (("added_count", "added"), ("removed_count", "removed"),
                  ("updated_count", "updated")) if isinstance(result.get(key), int)]
        if parts:
            line += " (" + ", ".join(parts) + ")"
        elif isinstance(result.get("units_successful"), list):  # copy and removal
            line += f" ({len(result['units_successful'])} units)"
        elif isinstance(result.get("result"), str):
            line += f" ({result['result']})"
        elif result and all(isinstance(v, int) for v in result.values()):
            line += " (" + ", ".join(f"{k}: {v}" for k, v in sorted(result.items())) + ")"
    return line


def follow_tasks(admin: Admin, call_report: dict, bg: bool = False,
                 steps: Callable[[dict | None], list[Step]] = progress_steps,
                 emit: bool = True) -> list[dict]:
    """Follow a call report's tasks, and the tasks they spawn, to their end.

    Human output: live progress bars (on a terminal) fed by each task's ``progress_report``,
    then one summary line per task and any errors. ``--json``: the final task reports, as the
    API returned them, in one array. ``bg``: print the call report (``--json``) or the task
    ids and return at once. Raises :class:`AdminError` (exit 1) when a task did not finish.
    ``emit=False`` leaves printing the ``--json`` array to a caller that follows several.
    """
    spawned = [t["task_id"] for t in (call_report or {}).get("spawned_tasks") or []]
    if bg:
        if admin.json:
            print_json(call_report)
        else:
            for task_id in spawned:
                admin.console.print(f"Task started in the background: {task_id}", markup=False)
        return []
    finals: list[dict] = []
    queue = list(spawned)
    while queue:
        task_id = queue.pop(0)
        report = _follow_one(admin, task_id, steps)
        finals.append(report)
        queue += [t["task_id"] for t in report.get("spawned_tasks") or []]
        if not admin.json:
            admin.console.print(task_summary(report), markup=False)
            for line in task_errors(report):
                admin.console.print(f"  {line}", markup=False)
    if admin.json and emit:
        print_json(finals)
    failed = [r for r in finals if r.get("state") not in ("finished", "skipped")]
    if failed:
        first = failed[0]
        reason = (task_errors(first) or [first.get("state")])[0]
        raise AdminError(f"task {first.get('task_id')} ({task_title(first)}) "
                         f"{first.get('state')}: {reason}")
    return finals


def _follow_one(admin: Admin, task_id: str, steps) -> dict:
    live = admin.console.is_terminal and not admin.json
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                        TextColumn("{task.fields[amount]}"), TimeRemainingColumn(),
                        console=admin.console, transient=False, disable=not live)
    bars: dict[str, int] = {}
    try:
        with progress:
            while True:
                report = admin.client.get(f"/tasks/{task_id}/")
                for step in steps(report.get("progress_report")):
                    if step.key not in bars:
                        bars[step.key] = progress.add_task(step.description, total=step.total,
                                                           amount="")
                    progress.update(bars[step.key], description=step.description,
                                    completed=step.completed, total=step.total,
                                    amount=_amount(step))
                if report.get("state") in TERMINAL:
                    return report
                time.sleep(POLL)
    except KeyboardInterrupt:
        if sys.stdin.isatty() and click.confirm(f"\nCancel task {task_id}?", default=False):
            admin.client.delete(f"/tasks/{task_id}/")
            raise AdminError(f"task {task_id} canceled", exit_code=130) from None
        raise AdminError(f"stopped following; task {task_id} goes on in the background",
                         exit_code=130) from None
