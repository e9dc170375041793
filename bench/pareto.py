"""`python -m bench.pareto`: paper-style figures, Pareto fronts and tables; `select`: the best sub-network for a budget;
`search`: per-layer sub-networks searched under a budget, then measured (bench/search_run.py).

With no arguments it reproduces the DynaBERT paper's comparison on this machine: it measures the BERT-base-shaped
DynaBERT grid and the TinyBERT-4L-312D, TinyBERT-6L-768D and DistilBERT architectures (random weights; efficiency
does not depend on them) with onnxruntime, 1 thread, seq 128, takes accuracy from the cited table
(bench/data/cited.csv), and writes reports/this-machine/ (not committed): this machine's results beside the
committed reference machine's (reports/default/records.jsonl, never written to), each labelled with its machine.
This machine's measurements are kept in reports/this-machine/records.jsonl, keyed by the machine's fingerprint
(records.machine): a re-run here skips finished cells; a store from another machine is never reused.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

import argfields
import records
from argfields import option
from bench import conditions
from bench.frame import cited_accuracy, efficiency, joined, load_records, measured_accuracy
from bench.report import CITED_SEQ, ReportSpec, build, portable_command, with_costs
from bench.search_run import SearchOptions, cmd_search, own_store, positive_number
from bench.sweep import config_from_argv, run_sweep
from dynabert.subnet import is_grid_id
from records.machine import this_machine

REFERENCE = Path(
    "reports/default"
)  # committed reference results (another machine); read, never written
DEFAULT_OUT = Path("reports/this-machine")  # this machine's default run (gitignored)
DEFAULT_BASELINES = ("tinybert-4l-312d", "tinybert-6l-768d", "distilbert-6l-768d")
DEFAULT_PROCESSES = (
    3  # fresh processes per cell, interleaved: a noisy spell of a shared machine hits one of three
)


def default_sweep_argv(out: Path, min_time_s: float) -> list[str]:
    """The default run's sweep, declared once as its `python -m bench.sweep` arguments: what runs
    (bench.sweep.config_from_argv) and what the report prints. Raises ValueError if `out` is the reference folder."""
    if out.resolve() == REFERENCE.resolve():
        raise ValueError(
            f"{REFERENCE} holds the committed reference results, which a run never overwrites; "
            f"choose another --out (default {DEFAULT_OUT})"
        )
    workers = min(
        2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    return [
        "--model",
        "bert-base",
        "--baselines",
        ",".join(DEFAULT_BASELINES),
        "--runtimes",
        "onnxruntime",
        "--threads",
        "1",
        "--seq-len",
        "128",
        "--min-time",
        f"{min_time_s:g}",
        "--processes",
        str(DEFAULT_PROCESSES),
        "--export-workers",
        str(workers),
        "--results",
        (out / "records.jsonl").as_posix(),
    ]


def default_report(out: Path, sweep_command: str, fingerprint: str) -> ReportSpec:
    """The default run's report: this machine's store beside the committed reference results, each labelled."""
    store, ref = out / "records.jsonl", REFERENCE / "records.jsonl"
    return ReportSpec(
        [str(ref), str(store)] if ref.is_file() else [str(store)],
        out,
        ["sst2", "mnli-m"],
        title="DynaBERT (BERT-base) vs TinyBERT and "
        "DistilBERT, measured on this machine beside the reference machine: cited accuracy, "
        "measured efficiency",
        reference=[str(ref)] if ref.is_file() else [],
        this_machine=fingerprint,
        commands=[
            "python -m bench.pareto",
            f"# which runs: {sweep_command}",
            f"# and reports it beside the committed reference results: {ref.as_posix()}",
        ],
    )


def default_run(out: Path, min_time_s: float) -> Path:
    """`python -m bench.pareto` with no inputs: sweep the default grid on this machine (cells already measured here
    are skipped), then report it; the two stages meet only through the store."""
    argv = default_sweep_argv(out, min_time_s)
    command = "python -m bench.sweep " + shlex.join(argv)
    fingerprint = this_machine().fingerprint
    print(
        f"measuring on this machine [{fingerprint}] (cells it already measured are skipped): {command}"
    )
    run_sweep(config_from_argv(argv))
    return build(default_report(out, command, fingerprint))


def is_reference(path: str) -> bool:
    """True for the committed reference store (reports/default/records.jsonl), labelled as such in reports."""
    return Path(path).resolve() == (REFERENCE / "records.jsonl").resolve()


def candidates(
    inputs: list[str],
    wanted: dict[str, object],
    task: str | None,
    checkpoint: str | None,
) -> pd.DataFrame:
    """Every measured cell of one condition (bench.conditions; `wanted` maps its fields to the values asked
    for, None = any) with its accuracy (measured first, else cited). ValueError when the inputs, so filtered,
    still mix conditions (naming each and the flag that chooses) or hold none."""
    recs = load_records(inputs)
    eff = efficiency(recs, checkpoint)
    if eff.empty:
        raise ValueError("the inputs hold no latency records; run python -m bench.sweep first")
    eff = conditions.keep(eff, wanted)
    if eff.empty:
        asked = ", ".join(f"{k} {v}" for k, v in wanted.items() if v is not None)
        raise ValueError(f"no latency records for {asked} in the inputs")
    here = this_machine().fingerprint
    if (
        eff.machine_id == here
    ).any():  # latencies of one machine only: this one's where it has measured
        eff = eff[eff.machine_id == here]
    elif eff.machine_id.nunique() > 1:
        raise ValueError(
            f"the inputs hold latencies of {eff.machine_id.nunique()} other machines "
            f"({', '.join(sorted(set(eff.machine)))}) and none of this one [{here}]; pass one "
            f"machine's store, or measure here first (python -m bench.pareto)"
        )
    acc = measured_accuracy(recs, task)
    if acc.empty and task:
        acc = cited_accuracy(task)
    if acc.empty:
        raise ValueError(
            "no accuracy for these records: pass --task (cited) or add dynabert evaluate records"
        )
    df = conditions.keep(joined(eff, with_costs(acc, CITED_SEQ)), wanted)
    if df.empty or df.accuracy.isna().all():
        raise ValueError(
            f"no accuracy matches the latency records of {wanted.get('device')!r} / "
            f"{wanted.get('runtime')!r}: measure the same "
            f"checkpoint's accuracy (python -m dynabert evaluate --checkpoint CK ... --results FILE, "
            f"then --results FILE here), or pass --task for cited accuracy of a preset's architecture"
        )
    conditions.only_one(df, "select")
    return df


def select(
    df: pd.DataFrame,
    max_latency_ms: float,
    max_memory_mb: float | None,
    min_accuracy: float | None,
    stat: str = "latency_ms_p50",
) -> tuple[pd.Series | None, pd.DataFrame]:
    """(best row or None, rows that fit). Best = highest accuracy; ties -> lower latency, then fewer FLOPs."""
    fits = df[df[stat] <= max_latency_ms]
    if max_memory_mb is not None:
        fits = fits[fits.peak_rss_mb <= max_memory_mb]
    if min_accuracy is not None:
        fits = fits[fits.accuracy >= min_accuracy]
    if fits.empty:
        return None, fits
    ranked = fits.sort_values(["accuracy", stat, "flops"], ascending=[False, True, True])
    return ranked.iloc[0], ranked


def wanted_condition(opts: SelectOptions) -> dict[str, object]:
    """The condition fields `select` was given (one flag per field of bench.conditions.CONDITION)."""
    return {
        name: getattr(opts, flag.lstrip("-").replace("-", "_"), None)
        for name, _, flag, _ in conditions.CONDITION
    }


def cmd_select(opts: SelectOptions) -> int:
    df = candidates(opts.results, wanted_condition(opts), opts.task, opts.checkpoint)
    where = conditions.only_one(df, "select").title()
    stat = f"latency_ms_{opts.latency_stat}"
    best, fits = select(df, opts.max_latency_ms, opts.max_memory_mb, opts.min_accuracy, stat)
    budget = (
        f"{opts.latency_stat} latency <= {opts.max_latency_ms} ms"
        + (f", peak RSS <= {opts.max_memory_mb} MB" if opts.max_memory_mb is not None else "")
        + (f", accuracy >= {opts.min_accuracy}%" if opts.min_accuracy is not None else "")
    )
    if best is None:
        closest = df.sort_values(stat).iloc[0]
        print(
            f"no sub-network fits ({budget}) on {where}. Closest: {closest.label} "
            f"{closest.subnet_id} at {closest[stat]:.2f} ms, {closest.peak_rss_mb:.0f} MB, "
            f"{closest.accuracy:.1f}% ({closest.accuracy_source})"
        )
        return 1
    print(f"best under {budget} on {where} ({len(fits)} of {len(df)} fit):")
    print(
        f"  {best.label} {best.subnet_id}: {best.accuracy:.1f}% ({best.accuracy_source}), median "
        f"{best.latency_ms_p50:.2f} ms, p90 {best.latency_ms_p90:.2f} ms, {best.params / 1e6:.1f} M params, "
        f"{best.flops / 1e9:.2f} GFLOPs, peak RSS +{best.peak_rss_mb:.0f} MB"
    )
    w, d = best.width_mult, best.depth_mult
    print("to extract and export it:")
    which = (
        f"--width {w:g} --depth {d:g}"
        if is_grid_id(best.subnet_id)
        else f"--subnet {best.subnet_id}"
    )
    print(
        f"  python -m dynabert extract --checkpoint {best.model_id} {which} --output-dir sub-{best.subnet_id}"
    )
    print(
        f"  python -m bench.export --model sub-{best.subnet_id} --formats onnx,onnx-int8,tflite,tflite-int8 "
        f"--seq-len {int(best.seq_len)}"
    )
    return 0


@dataclass(kw_only=True)
class ReportOptions:
    """`python -m bench.pareto` itself: a report of results stores, or with none the default run."""

    results: list[str] = option(
        [], help="results store or pytest-benchmark JSON (repeatable)", group="inputs"
    )
    task: list[str] = option([], help="task(s) to plot, e.g. sst2, mnli-m", group="inputs")
    use_cited: bool | None = option(
        None,
        help="--cited draws the task's whole cited table; --no-cited leaves it out (default: only rows of "
        "a model the records measured, e.g. the paper's BERT-base numbers beside a BERT-base-shaped run; "
        "never beside a MiniLM run)",
        group="inputs",
        flag="--cited",
        action=argparse.BooleanOptionalAction,
    )
    checkpoint: str | None = option(
        None, help="keep DynaBERT records of this checkpoint sha only", group="inputs"
    )
    out: str | None = option(
        None,
        help="output folder (default reports/this-machine for the default run; required with --results)",
        group="output",
    )
    title: str = option(
        "DynaBERT sub-networks: accuracy and efficiency", help="the report's title", group="output"
    )
    min_time: float = option(
        1.0, help="default run: seconds of timed runs per cell", group="default run"
    )


CONDITION = "condition (one of each; bench/conditions.py)"


@dataclass(kw_only=True)
class SelectOptions:
    """`python -m bench.pareto select`: the best measured sub-network under a budget."""

    results: list[str] | None = option(
        None,
        help="results store(s) (repeatable; default this machine's default run, else the reference)",
        group="inputs",
    )
    device: str = option("local-cpu", help="device profile of the latency records", group="inputs")
    runtime: str = option("onnxruntime", help="runtime of the latency records", group="inputs")
    precision: str | None = option(None, help="fp32 or int8 (default: any)", group=CONDITION)
    threads: int | None = option(
        None, help="default: any (refused if the inputs hold several)", group=CONDITION
    )
    batch: int | None = option(
        None, help="batch size (default: any; refused if several)", group=CONDITION
    )
    seq_len: int | None = option(
        None, help="timed sequence length (default: any; refused if several)", group=CONDITION
    )
    workload: str | None = option(
        None,
        help="synthetic, or a query set as records name it, e.g. sst2/dev#<hash> (default: any; "
        "refused if several); with --latency-stat p90, a budget on that workload's p90",
        group=CONDITION,
    )
    scenario: str | None = option(
        None, help="a query set's singlestream or offline (default: any)", group=CONDITION
    )
    shapes: str | None = option(
        None, help="a query set's dynamic, padded or bucketed (default: any)", group=CONDITION
    )
    accuracy_seq_len: int | None = option(
        None, help="length the accuracy was measured at (default: any)", group=CONDITION
    )
    max_latency_ms: float = option(help="latency budget (ms)", group="budget", type=positive_number)
    max_memory_mb: float | None = option(
        None, help="peak RSS budget (MB)", group="budget", type=positive_number
    )
    min_accuracy: float | None = option(None, help="percent", group="budget")
    latency_stat: str = option(
        "p50",
        help="latency statistic the budget is on",
        group="budget",
        choices=("p50", "p90", "p99"),
    )
    task: str = option(
        "sst2", help="task for accuracy (measured records first, else cited)", group="inputs"
    )
    checkpoint: str | None = option(
        None, help="keep DynaBERT records of this checkpoint sha only", group="inputs"
    )


def build_parser() -> argparse.ArgumentParser:
    ap = argfields.command_parser(
        "python -m bench.pareto",
        "Figures, Pareto fronts and tables of results stores; select and search sub-networks.",
        "python -m bench.pareto                 # the default run on this machine\n"
        "python -m bench.pareto --results results.jsonl --task sst2",
        ReportOptions,
    )
    sub = ap.add_subparsers(dest="command")
    argfields.add_command(
        sub,
        "select",
        SelectOptions,
        cmd_select,
        "best sub-network under a latency (and memory / accuracy) budget",
        "python -m bench.pareto select --max-latency-ms 10 --task sst2",
    )
    argfields.add_command(  # issue 17: per-layer sub-networks searched under a budget, then measured
        sub,
        "search",
        SearchOptions,
        cmd_search,
        "per-layer sub-networks under a budget: searched by predicted latency and dev-subset "
        "accuracy, then measured; the answer is measured",
        "python -m bench.pareto search --checkpoint runs/sst2 --task sst2 --data-dir glue/SST-2 "
        "--results latency.jsonl --max-latency-ms 5,10",
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    opts, run = argfields.parse(build_parser(), argv)
    t0 = time.time()
    try:
        if run is cmd_search:
            try:  # search.json says how it was made
                return cmd_search(opts, tuple(sys.argv[1:] if argv is None else argv))
            except (
                KeyboardInterrupt
            ):  # Ctrl-C: one line, the shell's status 130; every timed record is kept
                print(
                    "\ninterrupted: the sub-networks timed so far are kept in "
                    f"{str(own_store(opts.out))!r}; run the same command again to search again",
                    file=sys.stderr,
                )
                return 130
        if run is cmd_select:
            mine = DEFAULT_OUT / "records.jsonl"
            default = [str(mine if mine.is_file() else REFERENCE / "records.jsonl")]
            return cmd_select(replace(opts, results=opts.results or default))
        if opts.out:
            records.check_out_dir(opts.out, "--out")
        if not opts.results:
            index = default_run(Path(opts.out) if opts.out else DEFAULT_OUT, opts.min_time)
        else:
            for path in opts.results:  # a bad input's own reason first
                records.check_readable(Path(path), "input")
            if not opts.out:
                raise ValueError(
                    "--results needs --out FOLDER: the report is written where you ask, never into the "
                    "repository unasked (e.g. --out /tmp/my-report)"
                )
            out = Path(opts.out)
            index = build(
                ReportSpec(
                    opts.results,
                    out,
                    opts.task or ["sst2"],
                    opts.use_cited,
                    opts.checkpoint,
                    opts.title,
                    commands=[
                        portable_command(
                            [
                                "python",
                                "-m",
                                "bench.pareto",
                                *(sys.argv[1:] if argv is None else argv),
                            ]
                        )
                    ],
                    this_machine=this_machine().fingerprint,
                    reference=[r for r in opts.results if is_reference(r)],
                )
            )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"report: {index} (and index.html, figures/) in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
