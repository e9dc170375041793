"""Command-line options declared once, as dataclass fields, and the one way every command parses them.

A command's options are a dataclass (`@dataclass(kw_only=True)`) whose fields are made by `option(...)`: the default,
the help text, the argparse group and any bounds sit in the field's metadata, as in transformers' `TrainingArguments`.
`command_parser` / `add_command` build the argparse parser from the fields (flag `--seq-len` for field `seq_len`, type
from the annotation, a bool a switch, a `list[str]` a repeatable flag); `parse` returns the dataclass, never an
`argparse.Namespace`, after checking each field's bounds (a value out of bounds is refused by the parser, naming
the flag and the bound).

Why not transformers' `HfArgumentParser`: importing it takes 1.4-1.7 s (measured, load ~4 on 2 cores) and `--help`
must answer in under a second; this module imports only the standard library. Exception: `devices/runner.py` is
copied alone to boards and keeps a plain parser (its command line is built by devices/request.py only).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable

BOOL = "bool"
LISTS = ("list[str]", "list[str] | None")
TYPES = {"int": int, "int | None": int, "float": float, "float | None": float}


class Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown after each help line (unless none, off or required); description and example printed as
    written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        none = action.default is None or action.default is False or action.default == []
        if none or action.required or "default" in action.help:
            return action.help
        return super()._get_help_string(action)


def option(
    default=dataclasses.MISSING,
    *,
    help: str,
    group: str = "options",
    flag: str | None = None,
    min: float | None = None,
    max: float | None = None,
    parse: Callable | None = None,
    **argparse_kwargs,
):
    """A dataclass field that is also a command-line option.

    help: the option's help text (required: every option has one); group: the heading it is listed under in
    `--help`; flag: the flag when not `--<field-name-with-dashes>` (no leading dash: a positional); min / max:
    inclusive bounds, checked by `parse`; parse: turns the command-line text into the field's value after
    argparse (a ValueError from it is a usage error), e.g. "0.25,0.5" -> (0.25, 0.5) for a tuple field whose
    default the command line shows comma-joined; argparse_kwargs (type, choices, nargs, const, action, metavar) go to
    `add_argument` as given. A list default is copied per instance."""
    meta = {"help": help, "group": group, "flag": flag, "min": min, "max": max, "parse": parse}
    meta["kwargs"] = argparse_kwargs
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _annotation(f: dataclasses.Field) -> str:
    return f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))


def _default(f: dataclasses.Field):
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None if f.default is dataclasses.MISSING else f.default


def _argument(f: dataclasses.Field) -> tuple[list[str], dict]:
    """add_argument's flags and keywords for field `f`."""
    meta, kind = f.metadata, _annotation(f)
    flag = meta["flag"] or "--" + f.name.replace("_", "-")
    required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    kw = {"help": meta["help"], "default": _default(f)}
    if meta["parse"] is not None and isinstance(kw["default"], tuple):
        kw["default"] = ",".join(map(str, kw["default"]))
    if kind == BOOL and "action" not in meta["kwargs"]:
        kw["action"] = "store_false" if kw["default"] else "store_true"
    elif kind in LISTS and "nargs" not in meta["kwargs"]:
        kw["action"] = "append"
    elif kind in TYPES:
        kw["type"] = TYPES[kind]
    kw.update(meta["kwargs"])
    if not flag.startswith("-"):  # a positional: its dest is its name
        return [flag], kw
    return [flag], {**kw, "dest": f.name, "required": required}


def add_options(parser: argparse.ArgumentParser, cls: type) -> argparse.ArgumentParser:
    """Add every field of dataclass `cls` to `parser`, each under its group's heading; returns `parser`."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    for f in dataclasses.fields(cls):
        title = f.metadata["group"]
        if title not in groups:
            groups[title] = parser.add_argument_group(title)
        flags, kw = _argument(f)
        groups[title].add_argument(*flags, **kw)
    parser.set_defaults(_options=cls, _parser=parser)
    return parser


def _epilog(example: str) -> str:
    return "example:\n  " + "\n  ".join(example.strip().splitlines())


def command_parser(prog: str, summary: str, example: str, cls: type | None = None):
    """The top-level parser of `python -m prog`: one-line `summary`, `example` command(s) as the epilog, the
    fields of `cls` (if any: a command made only of sub-commands has none) as its options."""
    parser = argparse.ArgumentParser(
        prog=prog, description=summary, epilog=_epilog(example), formatter_class=Formatter
    )
    return add_options(parser, cls) if cls is not None else parser


def add_command(subparsers, name: str, cls: type, run: Callable, summary: str, example: str):
    """Sub-command `name` of a parser: its options are the fields of `cls`; `parse` hands `run` the dataclass."""
    parser = subparsers.add_parser(
        name, help=summary, description=summary, epilog=_epilog(example), formatter_class=Formatter
    )
    add_options(parser, cls).set_defaults(_run=run)
    return parser


def check_bounds(options) -> None:
    """ValueError naming the flag, the value and the bound when a field of `options` is outside its min / max."""
    for f in dataclasses.fields(options):
        value, lo, hi = getattr(options, f.name), f.metadata.get("min"), f.metadata.get("max")
        flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
        if value is None or (lo is None and hi is None):
            continue
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bound = " and ".join(
                s for s in (lo is not None and f">= {lo:g}", hi is not None and f"<= {hi:g}") if s
            )
            raise ValueError(f"{flag} {value:g} is out of bounds: give a value {bound}")


def to_options(cls: type, namespace: argparse.Namespace):
    """The dataclass `cls` from a parsed namespace (its own fields only), bounds checked (ValueError)."""
    values = {f.name: getattr(namespace, f.name) for f in dataclasses.fields(cls)}
    for f in dataclasses.fields(cls):
        if f.metadata.get("parse") is not None and isinstance(values[f.name], str):
            values[f.name] = f.metadata["parse"](values[f.name])
    options = cls(**values)
    check_bounds(options)
    return options


def parse(parser: argparse.ArgumentParser, argv: list[str] | None = None):
    """(options dataclass, the sub-command's run function or None) for `argv`; a value out of its bounds exits
    with the parser's usage error (status 2), naming the flag and the bound."""
    namespace = parser.parse_args(argv)
    cls, owner = getattr(namespace, "_options", None), getattr(namespace, "_parser", parser)
    if cls is None:
        return None, getattr(namespace, "_run", None)
    try:
        return to_options(cls, namespace), getattr(namespace, "_run", None)
    except ValueError as err:
        owner.error(str(err))
