"""The code's shape the project promises (STYLE.md, issue 14): short functions in devices/ and bench/, a sweep
under 250 lines, and device targets that share no module-level mutable state and import no dynabert or bench."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def functions(folder: str):
    for path in sorted((ROOT / folder).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path.relative_to(ROOT), node


def test_no_function_in_devices_or_bench_over_60_lines():
    long = [f"{p}:{n.name} ({n.end_lineno - n.lineno + 1})" for folder in ("devices", "bench", "recipes")
            for p, n in functions(folder) if n.end_lineno - n.lineno + 1 > 60]
    assert not long, long


def test_sweep_is_under_250_lines():
    assert len((ROOT / "bench" / "sweep.py").read_text().splitlines()) < 250


def test_devices_hold_no_module_level_mutable_state_and_import_no_dynabert():
    for path in sorted((ROOT / "devices").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, (ast.Dict, ast.List, ast.Set)):
                names = [t.id for t in (node.targets if isinstance(node, ast.Assign) else [node.target])]
                assert all(n.isupper() for n in names), f"{path.name}: mutable module state {names}"
                assert not (path.name == "runner.py" and "EXTRA" in names)
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                assert not (module or "").startswith(("dynabert", "bench")), f"{path.name} imports {module}"
