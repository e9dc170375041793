"""Packaging: the dependencies pyproject.toml declares are the ones the code imports, the optional runtimes are
refused by name, and the package installs and runs without its extras (slow: a fresh venv)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from devices.optional import EXTRA, SAME_MODULE, install_hint, require

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# declared, never imported: used through another package (the reason is the value)
USED_NOT_IMPORTED = {
    "onnxscript": "torch.onnx.export(dynamo=True) needs it",
    "tabulate": "pandas DataFrame.to_markdown needs it",
    "pytest-benchmark": "a pytest plugin (the benchmark fixture)",
    "mkdocs": "the docs build (mkdocs build --strict)",
    "mkdocs-material": "the docs theme",
    "ruff": "the formatter and linter",
    "pytest-xdist": "a pytest plugin (-n): tests/bench/test_benchmark_json.py runs pytest under it",
}
# imported, never declared: the runner's fallback on boards without ai-edge-litert (devices/runner.py)
IMPORTED_NOT_DECLARED = {"tflite_runtime"}
# import name -> distribution, for declared packages the test's environment may not have installed
NOT_INSTALLED_HERE = {"pynvml": "nvidia-ml-py", "datasets": "datasets"}


def declared() -> dict[str, str]:
    """Canonical distribution name -> where it is declared ('dependencies' or the extra's name)."""
    out = {
        canonicalize_name(Requirement(r).name): "dependencies"
        for r in PROJECT["project"]["dependencies"]
    }
    for extra, reqs in PROJECT["project"]["optional-dependencies"].items():
        for r in reqs:
            out.setdefault(canonicalize_name(Requirement(r).name), extra)
    return out


def packages() -> set[str]:
    """The project's packages (setuptools include patterns) and the tests."""
    return {p.rstrip("*") for p in PROJECT["tool"]["setuptools"]["packages"]["find"]["include"]} | {
        "tests"
    }


def source_files() -> list[Path]:
    return sorted(
        p for name in packages() if (ROOT / name).is_dir() for p in (ROOT / name).rglob("*.py")
    )


def imported() -> dict[str, str]:
    """Top-level third-party module -> one file importing it, over the packages and the tests."""
    files = source_files()
    skip = packages() | {p.stem for p in files} | set(sys.stdlib_module_names)
    out: dict[str, str] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in skip:
                    out.setdefault(top, str(path.relative_to(ROOT)))
    return out


def distributions_of(module: str, installed: dict[str, list[str]]) -> list[str]:
    found = installed.get(module) or [NOT_INSTALLED_HERE.get(module, module)]
    return [canonicalize_name(d) for d in found]


def test_every_imported_module_is_declared():
    decl, installed = declared(), packages_distributions()
    undeclared = {
        module: where
        for module, where in imported().items()
        if module not in IMPORTED_NOT_DECLARED
        and not any(d in decl for d in distributions_of(module, installed))
    }
    assert not undeclared, (
        f"imported but not declared in pyproject.toml (module: a file): {undeclared}"
    )


def test_every_declared_dependency_is_imported_or_named_as_used_otherwise():
    installed = packages_distributions()
    used = {d for module in imported() for d in distributions_of(module, installed)}
    # onnxruntime-gpu installs the onnxruntime module; a GPU machine imports it under that name
    used |= {canonicalize_name(alt) for d in list(used) for alt in SAME_MODULE.get(d, ())}
    unused = {
        d: where for d, where in declared().items() if d not in used and d not in USED_NOT_IMPORTED
    }
    assert not unused, f"declared but never imported (distribution: where declared): {unused}"


def test_psutil_and_pytest_are_test_extras_not_runtime_dependencies():
    decl = declared()
    assert {d: decl[d] for d in ("psutil", "pytest", "pytest-benchmark")} == dict.fromkeys(
        ("psutil", "pytest", "pytest-benchmark"), "test"
    )
    assert decl["scipy"] == "dependencies"


def test_every_install_hint_names_an_extra_that_lists_it():
    extras = PROJECT["project"]["optional-dependencies"]
    for dist, extra in EXTRA.items():
        listed = {canonicalize_name(Requirement(r).name) for r in extras[extra]}
        assert canonicalize_name(dist) in listed, (
            f"{dist} is hinted as [{extra}] but that extra lacks it"
        )


def test_a_missing_runtime_is_refused_by_name_with_its_pip_command():
    with pytest.raises(ValueError) as err:
        require(("litert-torch", "surely-not-installed-dist"), "format 'tflite'")
    msg = str(err.value)
    assert "format 'tflite' needs surely-not-installed-dist" in msg
    assert "litert-torch" not in msg.split("(")[0]  # installed here: not named missing
    assert (
        install_hint("litert-torch")
        == "pip install 'dynabert-edge[tflite]' (or: pip install litert-torch)"
    )


def test_console_scripts_point_at_main_functions():
    import importlib

    for name, target in PROJECT["project"]["scripts"].items():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func)), name


def test_dynabert_bench_dispatches_to_the_module_and_refuses_an_unknown_command(capsys):
    from bench.__main__ import main

    with pytest.raises(SystemExit) as done:
        main(["predictor", "--help"])
    assert done.value.code == 0 and "python -m bench.predictor" in capsys.readouterr().out
    assert main(["nonsense"]) == 2
    assert "unknown command 'nonsense'" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("DYNABERT_TEST_PIP_INSTALL") != "1",
    reason="a fresh pip install takes about 25 min: run with DYNABERT_TEST_PIP_INSTALL=1",
)
def test_pip_install_without_extras_imports_and_runs_info(tmp_path):
    """A fresh venv, `pip install .` with no extras (the constraints file pins torch's CPU wheel): the package
    imports, `python -m dynabert info --model tiny` and the `dynabert` script work, and a LiteRT export is refused
    by name. Needs the wheels reachable (a network or the local wheel cache); about 25 min on a loaded 2-core
    machine."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"HF_HUB_OFFLINE": "1"}
    install = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"), str(ROOT)],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    if install.returncode != 0:
        pytest.skip(f"pip install . could not fetch its dependencies here: {install.stderr[-500:]}")
    run = {"capture_output": True, "text": True, "env": env, "cwd": tmp_path}
    # (psutil is no dependency of ours but comes with accelerate, so it is not checked here)
    for absent in ("onnxruntime", "litert_torch", "ai_edge_litert", "pytest"):
        probe = subprocess.run([str(py), "-c", f"import {absent}"], **run)
        assert probe.returncode != 0, f"{absent} was installed without its extra"
    info = subprocess.run([str(py), "-m", "dynabert", "info", "--model", "tiny"], **run)
    assert info.returncode == 0, info.stderr
    assert "w1.00-d1.00" in info.stdout
    script = subprocess.run([str(venv / "bin" / "dynabert"), "info", "--model", "tiny"], **run)
    assert script.stdout == info.stdout
    refusal = subprocess.run(
        [str(py), "-c", "from bench.export import require_exporters; require_exporters('tflite')"],
        **run,
    )
    assert "format 'tflite' needs litert-torch, ai-edge-litert" in refusal.stderr
    assert "pip install 'dynabert-edge[tflite]'" in refusal.stderr


def pyenv_python(minor: str) -> Path | None:
    """An interpreter of Python `minor` (e.g. "3.12") installed by pyenv ($PYENV_ROOT, default ~/.pyenv), or None."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(root.glob(f"{minor}.*/bin/python{minor}"))
    return found[-1] if found else None


def version_of(python: Path) -> str:
    return python.parent.parent.name  # pyenv's folder name is the full version, e.g. 3.12.1


OTHER_PYTHON = pyenv_python("3.12")


@pytest.mark.slow
@pytest.mark.skipif(OTHER_PYTHON is None, reason="needs a second interpreter (pyenv's 3.12)")
def test_ensure_venv_rebuilds_a_venv_of_another_python_or_an_unfinished_install_and_says_so(
    tmp_path,
):
    """`make install`'s first step (scripts/ensure_venv.sh PYTHON VENV) on a .venv made by 3.12, then on one whose
    install did not finish, then on a good one (kept), then with a Python below 3.11 (refused by name)."""
    venv, script = tmp_path / ".venv", str(ROOT / "scripts" / "ensure_venv.sh")
    here = ".".join(map(str, sys.version_info[:3]))
    subprocess.run([str(OTHER_PYTHON), "-m", "venv", str(venv)], check=True)

    def ensure(python: str) -> subprocess.CompletedProcess:
        return subprocess.run([script, python, str(venv)], capture_output=True, text=True)

    done = ensure(sys.executable)
    assert done.returncode == 0, done.stderr
    assert (
        f"rebuilding {venv}: it was made by Python {version_of(OTHER_PYTHON)} and "
        f"PYTHON={sys.executable} is Python {here}" in (done.stdout)
    )
    version = subprocess.run(
        [str(venv / "bin" / "python"), "--version"], capture_output=True, text=True
    )
    assert version.stdout.strip() == f"Python {here}"
    done = ensure(sys.executable)  # the marker of the install that never finished is still there
    assert "an install into it did not finish" in done.stdout
    (venv / ".installing").unlink()
    assert ensure(sys.executable).stdout == ""  # a good venv is kept, silently
    old = pyenv_python("3.10")
    if old is not None:
        done = ensure(str(old))
        assert (
            done.returncode == 2 and "needs >= 3.11: make install PYTHON=python3.11" in done.stderr
        )
