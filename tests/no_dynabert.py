"""Run a Python script in a process where `import dynabert` is impossible (what a user without this project has).

The process starts isolated (`-I`: no PYTHONPATH, no user site, not the script's folder on sys.path), in a
temporary working directory, and a meta-path finder installed before anything else raises ModuleNotFoundError
for `dynabert` and its submodules, which the venv's editable install would otherwise still provide. The script
asserts that first, so a blocker that stopped working fails the test instead of passing it silently.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BLOCKER = """
import sys, importlib.abc

class _NoDynabert(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "dynabert" or name.startswith("dynabert."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: this process has no dynabert)", name=name)
        return None

sys.meta_path.insert(0, _NoDynabert())
try:
    import dynabert  # noqa: F401
except ModuleNotFoundError:
    pass
else:
    raise SystemExit("the dynabert blocker failed: dynabert is importable")
"""

EPILOGUE = """
assert not [m for m in sys.modules if m == "dynabert" or m.startswith("dynabert.")], "dynabert got imported"
"""


def run_without_dynabert(
    script: str, workdir: Path, timeout_s: float = 300.0, extra_path: str | None = None
) -> dict:
    """Run `script` (which must `print(json.dumps(...))` as its last line) with dynabert blocked; its JSON.

    extra_path: one folder put on sys.path (e.g. the repo root, for bench/devices code that must work without
    dynabert). Raises AssertionError with the process's stderr when it fails.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    path_line = f"sys.path.insert(0, {extra_path!r})\n" if extra_path else ""
    source = BLOCKER + path_line + script + EPILOGUE
    (workdir / "isolated_script.py").write_text(source)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(
        HF_HUB_OFFLINE="1",
        HF_MODULES_CACHE=str(workdir / "hf_modules"),
        TOKENIZERS_PARALLELISM="false",
    )
    proc = subprocess.run(
        [sys.executable, "-I", str(workdir / "isolated_script.py")],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    assert proc.returncode == 0, (
        f"isolated process failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"isolated process printed no JSON:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return json.loads(lines[-1])


def imports_of(source: str) -> set[str]:
    """Every module an import statement in `source` names (relative ones with their leading dots), via ast."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names
