"""Every command's `--help`: a one-line description, options under group headings, an example, help text for
every option, and no torch or runtime imported to print it (the time it takes is measured for the report, not
asserted here: see docs/options.md)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_options import ENTRY_POINTS, all_actions, parser_of

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "onnxruntime", "ai_edge_litert", "tflite_runtime", "tensorflow", "litert_torch")

# One fresh process runs each command's --help (and each sub-command's) in the order given and says, after each,
# which heavy modules are imported: the first command that pulls one in is the one named.
PROBE = """
import contextlib, importlib, io, json, sys
heavy, out = {heavy!r}, {{}}
for module, commands in {commands!r}:
    main = importlib.import_module(module).main
    for argv in commands:
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                main([*argv, "--help"])
            except SystemExit:
                pass
        out[" ".join([module, *argv])] = sorted(m for m in heavy if m in sys.modules)
print(json.dumps(out))
"""


def sub_commands(parser: argparse.ArgumentParser) -> list[list[str]]:
    """[[]] plus [name] for each sub-command (one level: the project has no deeper ones)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return [[]] + [[name] for a in subs for name in a.choices]


def test_help_imports_no_torch_nor_runtime():
    commands = [(m, sub_commands(parser_of(m))) for m in ENTRY_POINTS]
    code = PROBE.format(heavy=HEAVY, commands=commands)
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    imported = {c: mods for c, mods in json.loads(run.stdout).items() if mods}
    assert not imported, f"--help imported a heavy module (first offender first): {imported}"


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_every_option_has_help_text(module):
    missing = [
        f"{cmd} {'/'.join(a.option_strings) or a.dest}"
        for cmd, a in all_actions(parser_of(module), module)
        if not (a.help or "").strip()
    ]
    assert not missing, f"options without help: {missing}"


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_help_has_a_one_line_description_groups_and_an_example(module):
    top = parser_of(module)
    parsers = [top] + [
        p
        for a in top._actions
        if isinstance(a, argparse._SubParsersAction)
        for p in a.choices.values()
    ]
    for parser in parsers:
        assert parser.description and "\n" not in parser.description.strip(), parser.prog
        assert "example:" in (parser.epilog or ""), f"{parser.prog}: no example"
        titled = [g.title for g in parser._action_groups if g._group_actions]
        options = [
            a
            for a in parser._actions
            if a.option_strings and not isinstance(a, argparse._HelpAction)
        ]
        if options:  # every option sits under a named group, not argparse's catch-all "options"
            grouped = {id(a) for g in parser._action_groups[2:] for a in g._group_actions}
            assert all(id(a) in grouped for a in options), (
                f"{parser.prog}: options outside groups {titled}"
            )
