"""The module import graph of the project's packages, built from the source (imports inside functions and under
TYPE_CHECKING included): it has no cycle, and the leaf modules import nothing of the packages above them."""

import ast
from pathlib import Path

import networkx as nx

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


def import_graph() -> nx.DiGraph:
    """module -> every project module it imports (`from pkg import mod` points at pkg.mod)."""
    mods, graph = modules(), nx.DiGraph()
    for name, path in mods.items():
        graph.add_node(name)
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
                    graph.add_edge(name, target)
    return graph


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    assert graph.has_edge("bench.artifacts", "bench.export")  # imported inside a function (torch)
    assert graph.number_of_edges() > 200


def test_there_is_no_import_cycle():
    cycles = sorted(nx.simple_cycles(import_graph()), key=len)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c + c[:1]) for c in cycles[:5])


def test_leaves_import_nothing_above_them():
    graph = import_graph()
    for leaf, above in (
        ("records", ("dynabert", "bench", "devices", "recipes")),
        ("dynabert", ("bench", "devices", "recipes")),
        ("devices", ("dynabert", "bench", "recipes")),
    ):
        for module in [m for m in graph if m.split(".")[0] == leaf]:
            bad = [t for t in graph.successors(module) if t.split(".")[0] in above]
            assert not bad, f"{module} imports {bad}"


def test_the_report_reads_records_and_never_measures():
    """bench.report (and what it draws with) reaches no sweep, export, target or runner, even inside a function."""
    graph = import_graph()
    reached = nx.descendants(graph, "bench.report") | {"bench.report"}
    measuring = sorted(
        m
        for m in reached
        if m.split(".")[0] == "devices"
        or m
        in ("bench.sweep", "bench.cells", "bench.export", "bench.artifacts", "bench.search_run")
    )
    assert not measuring, f"bench.report reaches {measuring}"
