"""Every command's options keep their meaning: each entry point's parser is read (not run) and compared with the
snapshot of the option sets taken before the options became dataclass fields (tests/fixtures/options-snapshot.json,
written from main at ec6274d by `python tests/test_options.py --write`).

What an option means, for this test: its flag names, dest, default, type, choices, nargs, const, required and action
kind. New options may be added (and a flag may gain an alias); every snapshotted flag must still exist, on the same
command, with the same meaning. Help text is not compared (it may be rewritten), but every option must have some.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = Path(__file__).parent / "fixtures" / "options-snapshot.json"

# Every module with a command-line `main(argv)`: `python -m <module>` (dynabert.cli is `python -m dynabert`).
ENTRY_POINTS = (
    "dynabert.cli",
    "bench.artifact_accuracy",
    "bench.export",
    "bench.gpu_check",
    "bench.pareto",
    "bench.predictor",
    "bench.sweep",
    "devices.__main__",
    "devices.runner",
    "recipes.arm_report",
    "recipes.cpu_report",
    "recipes.equal_compute",
    "recipes.ort_session_report",
    "recipes.predictor_report",
    "recipes.reference_run",
    "recipes.reference_summary",
    "recipes.training_compute",
)


class _Captured(Exception):
    def __init__(self, parser: argparse.ArgumentParser):
        super().__init__("parser captured")
        self.parser = parser


def parser_of(module: str) -> argparse.ArgumentParser:
    """The top-level parser `module.main` builds, caught at its first parse (nothing of the command runs)."""

    def capture(self, args=None, namespace=None):
        raise _Captured(self)

    original = argparse.ArgumentParser.parse_known_args
    argparse.ArgumentParser.parse_known_args = capture
    try:
        importlib.import_module(module).main([])
    except _Captured as caught:
        return caught.parser
    finally:
        argparse.ArgumentParser.parse_known_args = original
    raise AssertionError(f"{module}.main([]) returned without parsing its arguments")


def _plain(value):
    """A JSON-comparable form of a default, choice list or const (tuples as lists, other objects by repr)."""
    return json.loads(json.dumps(value, default=repr))


def _type_name(action: argparse.Action) -> str | None:
    if isinstance(action, (argparse._StoreConstAction, argparse._CountAction)):
        return None  # store_true/false/const/count take no value
    return (
        "str" if action.type in (None, str) else getattr(action.type, "__name__", repr(action.type))
    )


ACTION_KINDS = {
    argparse._StoreAction: "store",
    argparse._StoreTrueAction: "store_true",
    argparse._StoreFalseAction: "store_false",
    argparse._StoreConstAction: "store_const",
    argparse._AppendAction: "append",
    argparse._CountAction: "count",
    argparse.BooleanOptionalAction: "boolean_optional",
}


def option_meaning(action: argparse.Action) -> dict:
    return {
        "dest": action.dest,
        "action": ACTION_KINDS.get(type(action), type(action).__name__),
        "default": _plain(action.default),
        "type": _type_name(action),
        "choices": _plain(list(action.choices)) if action.choices is not None else None,
        "nargs": action.nargs,
        "const": _plain(action.const),
        "required": bool(action.required),
    }


def option_sets(parser: argparse.ArgumentParser, command: str) -> dict[str, dict[str, dict]]:
    """{command: {flag (or positional dest): meaning}} for `parser` and, recursively, its sub-commands."""
    out: dict[str, dict[str, dict]] = {command: {}}
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            out[command]["<command>"] = {
                "dest": action.dest,
                "choices": sorted(action.choices),
                "required": bool(action.required),
            }
            for name, sub in action.choices.items():
                out.update(option_sets(sub, f"{command} {name}"))
            continue
        for flag in action.option_strings or [action.dest]:
            out[command][flag] = option_meaning(action)
    return out


def all_option_sets() -> dict[str, dict[str, dict]]:
    out = {}
    for module in ENTRY_POINTS:
        name = "dynabert" if module == "dynabert.cli" else module.removesuffix(".__main__")
        out.update(option_sets(parser_of(module), name))
    return out


def all_actions(parser: argparse.ArgumentParser, command: str):
    """(command, action) for every option of `parser` and its sub-commands (help and sub-command actions aside)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from all_actions(sub, f"{command} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield command, action


@pytest.fixture(scope="module")
def snapshot() -> dict:
    return json.loads(SNAPSHOT.read_text())


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_every_snapshotted_option_keeps_its_meaning(module, snapshot):
    name = "dynabert" if module == "dynabert.cli" else module.removesuffix(".__main__")
    now = option_sets(parser_of(module), name)
    before = {c: opts for c, opts in snapshot.items() if c == name or c.startswith(name + " ")}
    assert before, f"no snapshot for {name}"
    for command, options in before.items():
        assert command in now, f"command `{command}` is gone"
        for flag, meaning in options.items():
            assert flag in now[command], f"`{command} {flag}` is gone"
            got = dict(now[command][flag])
            if meaning.get("choices") and set(meaning["choices"]) <= set(got.get("choices") or ()):
                got["choices"] = meaning["choices"]  # new choices added, every old one kept
            assert got == meaning, f"`{command} {flag}` changed meaning"


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    SNAPSHOT.parent.mkdir(exist_ok=True)
    SNAPSHOT.write_text(json.dumps(all_option_sets(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT}")


# devices/runner.py is copied alone to boards and emulators, so it cannot import argfields: its plain parser is the
# one exception (its command line is written by devices/request.py RunRequest.runner_args only).
NAMESPACE_EXCEPTIONS = {"devices/runner.py"}


def namespace_takers(path: Path) -> list[str]:
    """Functions of `path` with a parameter named `args` or annotated argparse.Namespace (`*args` aside)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        params = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        for p in params:
            note = ast.unparse(p.annotation) if p.annotation is not None else ""
            if p.arg == "args" or "Namespace" in note:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}({p.arg})")
    return found


def test_no_function_takes_an_argparse_namespace():
    """Library functions take the options dataclasses; only `main` sees argparse, inside argfields.parse."""
    found = [
        hit
        for package in ("dynabert", "bench", "devices", "recipes")  # argfields: the parser itself
        for path in sorted((ROOT / package).rglob("*.py"))
        if str(path.relative_to(ROOT)) not in NAMESPACE_EXCEPTIONS
        for hit in namespace_takers(path)
    ]
    assert not found, (
        f"functions taking an argparse.Namespace (take the command's options dataclass): {found}"
    )
