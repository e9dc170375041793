"""The module import graph of the project's packages, built from the source (imports inside functions and under
TYPE_CHECKING included): it has no cycle, and the leaf modules import nothing of the packages above them."""

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("dynabert", "bench", "devices", "recipes", "records")


def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            out[
                ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            ] = path
    return out


def import_graph() -> dict[str, set[str]]:
    """module -> every project module it imports (`from pkg import mod` points at pkg.mod)."""
    mods = modules()
    graph: dict[str, set[str]] = {name: set() for name in mods}
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                targets = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in mods else node.module
                    for a in node.names
                ]
            else:
                continue
            for target in targets:
                while target and target not in mods:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    assert "bench.export" in graph["bench.artifacts"]  # imported inside a function (torch)
    assert sum(map(len, graph.values())) > 200


def test_there_is_no_import_cycle():
    try:
        graphlib.TopologicalSorter(import_graph()).prepare()
    except graphlib.CycleError as err:
        raise AssertionError(f"import cycle: {' -> '.join(err.args[1])}") from None


def test_a_cycle_would_be_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    with pytest.raises(graphlib.CycleError):
        graphlib.TopologicalSorter(graph).prepare()


def test_leaves_import_nothing_above_them():
    graph = import_graph()
    for leaf, above in (
        ("records", ("dynabert", "bench", "devices", "recipes")),
        ("dynabert", ("bench", "devices", "recipes")),
        ("devices", ("dynabert", "bench", "recipes")),
    ):
        for module in [m for m in graph if m.split(".")[0] == leaf]:
            bad = [t for t in graph[module] if t.split(".")[0] in above]
            assert not bad, f"{module} imports {bad}"


def test_the_report_reads_records_and_never_measures():
    """bench.report (and what it draws with) reaches no sweep, export, target or runner, even inside a function."""
    graph, reached, todo = import_graph(), set(), ["bench.report"]
    while todo:  # everything bench.report reaches
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo.extend(graph[module])
    measuring = sorted(
        m
        for m in reached
        if m.split(".")[0] == "devices"
        or m
        in ("bench.sweep", "bench.cells", "bench.export", "bench.artifacts", "bench.search_run")
    )
    assert not measuring, f"bench.report reaches {measuring}"
