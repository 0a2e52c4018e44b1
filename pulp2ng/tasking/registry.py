"""Named platform task functions: the worker looks up a status document's ``task_type`` here."""

from __future__ import annotations

from collections.abc import Callable

_TASKS: dict[str, Callable] = {}


def task(name: str):
    """Register ``fn(ctx, **kwargs)`` as the task ``name`` (the report's ``task_type``)."""

    def decorator(fn: Callable) -> Callable:
        _TASKS[name] = fn
        fn.task_name = name
        return fn

    return decorator


def lookup(name: str) -> Callable:
    # Importing the modules that define tasks fills the table; done lazily to avoid cycles.
    import pulp2ng.tasking.tasks  # noqa: F401

    return _TASKS[name]
