"""The package's modules import one another without a cycle.

The graph is read from the source with ``ast``: imports at module level and inside functions
alike, since a lazy import only hides a cycle of the design from the interpreter.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Source folders and the import names they are installed under (setup.cfg package_dir).
PACKAGES = {
    "pulp2ng": ROOT / "pulp2ng",
    "pulp2ng.server": ROOT / "server",
    "pulp2ng.importers": ROOT / "importers",
    "pulp2ng.distributors": ROOT / "distributors",
}


def _modules() -> dict[str, Path]:
    modules = {}
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join([package, *parts])] = path
    return modules


def _imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``module`` imports anywhere in its source."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            # ``from pkg import name`` names a submodule of pkg, or else a name defined in pkg.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            # The longest known module the name lies in (``a.b.c`` of ``a.b`` is in ``a.b``).
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path that returns to its start) for each strongly connected component."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)

    cycles = []
    for component in components:
        start = min(component)
        # Breadth-first inside the component for the shortest way back to the start.
        came_from = {start: None}
        frontier = [start]
        found = None
        while frontier and found is None:
            step = []
            for node in frontier:
                for nxt in sorted(graph[node] & component):
                    if nxt == start:
                        found = node
                        break
                    if nxt not in came_from:
                        came_from[nxt] = node
                        step.append(nxt)
                if found is not None:
                    break
            frontier = step
        path = [start]
        node = found
        while node is not None and node != start:
            path.insert(1, node)
            node = came_from[node]
        cycles.append(path + [start])
    return cycles


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {module: _imported(module, path, known) for module, path in modules.items()}


def test_graph_sees_the_packages():
    graph = import_graph()
    assert "pulp2ng.tasking.runner" in graph
    assert "pulp2ng.server.app" in graph
    assert "pulp2ng.importers.docker.registry" in graph
    assert "pulp2ng.db.store" in graph["pulp2ng.tasking.runner"]


def test_detects_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]


def test_no_import_cycles():
    graph = import_graph()
    cycles = _cycles(graph)
    report = "\n".join(" -> ".join(cycle) for cycle in cycles)
    assert not cycles, f"import cycles (each shown once through its whole knot):\n{report}"
