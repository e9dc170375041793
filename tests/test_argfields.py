"""argfields: a dataclass's fields become a command's options, parsed back into the dataclass."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import argfields
from argfields import option


def parse_pair(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(","))


@dataclass(kw_only=True)
class Demo:
    """A command with one option of each kind."""

    name: str = option(help="required text", group="inputs")
    runs: int = option(30, help="at least one", group="timing", min=1)
    share: float = option(0.5, help="in [0, 1]", group="timing", min=0, max=1)
    pair: tuple[float, ...] = option(
        (0.25, 0.5), help="comma-separated", group="inputs", parse=parse_pair
    )
    store: list[str] = option([], help="repeatable", group="inputs")
    fast: bool = option(False, help="a switch", group="timing")
    bucket: bool = option(True, help="a switch that turns off", group="timing", flag="--no-bucket")


def parser():
    return argfields.command_parser("demo", "A demo command.", "demo --name x", Demo)


def test_fields_parse_back_into_the_dataclass():
    opts, run = argfields.parse(
        parser(),
        [
            "--name",
            "x",
            "--runs",
            "3",
            "--pair",
            "1,0.5",
            "--store",
            "a",
            "--store",
            "b",
            "--fast",
            "--no-bucket",
        ],
    )
    assert run is None
    assert opts == Demo(
        name="x", runs=3, pair=(1.0, 0.5), store=["a", "b"], fast=True, bucket=False
    )
    defaults, _ = argfields.parse(parser(), ["--name", "y"])
    assert (defaults.runs, defaults.pair, defaults.store, defaults.bucket) == (
        30,
        (0.25, 0.5),
        [],
        True,
    )


@pytest.mark.parametrize(
    ("argv", "named"), [(["--runs", "0"], "--runs 0"), (["--share", "1.5"], "--share 1.5")]
)
def test_a_value_out_of_bounds_is_a_usage_error_naming_the_flag_and_the_bound(argv, named, capsys):
    with pytest.raises(SystemExit) as exit:
        argfields.parse(parser(), ["--name", "x", *argv])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and named in err and ">=" in err


def test_help_shows_the_summary_groups_defaults_and_the_example(capsys):
    with pytest.raises(SystemExit):
        argfields.parse(parser(), ["--help"])
    out = capsys.readouterr().out
    for text in (
        "A demo command.",
        "inputs:",
        "timing:",
        "(default: 30)",
        "example:\n  demo --name x",
    ):
        assert text in out
