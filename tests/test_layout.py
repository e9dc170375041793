"""The code's shape the project promises: device targets share no module-level mutable state and import no
dynabert or bench. Function size and complexity are ruff's (pyproject.toml [tool.ruff], run by .ci/run)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_devices_hold_no_module_level_mutable_state_and_import_no_dynabert():
    for path in sorted((ROOT / "devices").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(
                node.value, (ast.Dict, ast.List, ast.Set)
            ):
                names = [
                    t.id for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                ]
                assert all(n.isupper() for n in names), f"{path.name}: mutable module state {names}"
                assert not (path.name == "runner.py" and "EXTRA" in names)
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                assert not (module or "").startswith(("dynabert", "bench")), (
                    f"{path.name} imports {module}"
                )
