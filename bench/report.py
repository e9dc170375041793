"""Records -> figures, tables and one index.md / index.html (what `python -m bench.pareto` writes).

Must not measure anything: it reads records (and the cited table) only.
"""

from __future__ import annotations

import shlex
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench import figures
from bench.conditions import FIELDS, IN_WORDS, Condition, split, varying
from bench.frame import (
    cited_for,
    efficiency,
    input_notes,
    joined,
    load_records,
    machine_detail,
    machine_id,
    measured_accuracy,
    model_label,
    pareto_mask,
    repeat_note,
)
from bench.page import to_html
from dynabert.config import ARCHITECTURES, SubnetSpec
from dynabert.flops import cost
from dynabert.subnet import is_grid_id, parse_subnet
from records import portable_path  # noqa: F401  (also imported from here by search_run and recipes)


@dataclass
class ReportSpec:
    inputs: list[str]
    out: Path
    tasks: list[
        str
    ]  # measured task names are matched as is; cited rows by the same name (e.g. sst2, mnli-m)
    # cited accuracy: True draws the task's whole cited table, False none, None (default) only the rows of a
    # model the records measured (bench.frame.cited_for): a MiniLM run gets no cited BERT-base point
    use_cited: bool | None = None
    checkpoint: str | None = None
    title: str = "DynaBERT sub-networks: accuracy and efficiency"
    commands: list[str] = field(default_factory=list)
    reference: list[str] = field(
        default_factory=list
    )  # inputs holding committed reference results (labelled so)
    this_machine: str | None = (
        None  # fingerprint of the machine writing the report (its records: "this machine")
    )
    workload: str | None = (
        None  # bench.workload.condition label drawn (default synthetic); never pooled
    )


def portable_command(argv: list[str], root: Path | None = None) -> str:
    """A command line as it can be pasted from the repository root: shell-quoted, paths under `root` (default the
    working directory) made relative, a virtual environment's python shown as plain `python`, and the user's home
    shown as ~ (committed reports hold no absolute paths of the machine that made them)."""
    out = []
    for i, arg in enumerate(argv):
        if i == 0 and Path(arg).name.startswith("python"):
            out.append("python")
            continue
        head, eq, tail = (
            arg.rpartition("=") if arg.startswith("--") and "=" in arg else ("", "", arg)
        )
        out.append(head + eq + portable_path(tail, root))
    return shlex.join(out)


def _fmt(v) -> str:
    return "" if pd.isna(v) else f"{v:.3g}" if isinstance(v, float) else str(v)


def with_costs(acc: pd.DataFrame, seq_len: int) -> pd.DataFrame:
    """Fill params/FLOPs of accuracy rows from the architecture (cited rows carry none)."""

    acc = acc.copy()
    for col in ("params", "flops", "width_mult", "depth_mult"):
        if col not in acc:
            acc[col] = None
    for i, row in acc.iterrows():
        spec = parse_subnet(row.subnet_id)
        if not isinstance(
            spec, SubnetSpec
        ):  # per layer: its record's summary width/depth, already in the row
            continue
        acc.at[i, "width_mult"], acc.at[i, "depth_mult"] = spec.width_mult, spec.depth_mult
        if pd.isna(row.params) and row.model_id in ARCHITECTURES:
            c = cost(ARCHITECTURES[row.model_id], spec, seq_len)
            acc.at[i, "params"], acc.at[i, "flops"] = c.params_active, c.flops_dense
    acc["flops_per_sequence"] = acc.flops  # accuracy rows: one sequence's FLOPs
    return acc


def table1(acc: pd.DataFrame) -> pd.DataFrame:
    """Width x depth accuracy table of the DynaBERT grid rows (the paper's Table 1 layout). Rows are chosen by their
    subnet_id: a per-layer row's width_mult/depth_mult summary can equal a grid point's and must not fill its cell."""
    dyn = acc[(acc.family == "dynabert") & acc.subnet_id.map(is_grid_id)]
    return (
        dyn.pivot_table(index="width_mult", columns="depth_mult", values="accuracy", aggfunc="last")
        .sort_index(ascending=False)
        .sort_index(axis=1, ascending=False)
    )


def cells_table(j: pd.DataFrame) -> pd.DataFrame:
    """One row per cell drawn; FLOPs per sequence; latency (ms) of one batch of the `batch` column (per query
    at batch 1)."""
    cols = {
        "label": "model",
        "subnet_id": "sub-network",
        "device": "device",
        "machine": "machine",
        "runtime": "runtime",
        "precision": "precision",
        "threads": "threads",
        "batch_size": "batch",
        "seq_len": "seq",
        "workload": "workload",
        "accuracy": "accuracy (%)",
        "accuracy_seq_len": "accuracy seq",
        "accuracy_source": "accuracy source",
        "params_m": "params (M)",
        "gflops": "GFLOPs per sequence",
        "latency_ms_p50": "median ms",
        "latency_ms_p90": "p90 ms",
        "latency_spread": "spread (error bar)",
        "latency_ms_lo": "spread low ms",
        "latency_ms_hi": "spread high ms",
        "peak_rss_mb": "peak RSS increase (MB)",
        "size_mb": "file (MB)",
        "pareto": "on front",
    }
    flops = j.flops_per_sequence if "flops_per_sequence" in j else j.flops
    t = j.assign(params_m=j.params / 1e6, gflops=flops / 1e9, size_mb=j.artifact_bytes / 2**20)
    return t[[c for c in cols if c in t]].rename(columns=cols)


def roles(spec: ReportSpec) -> dict[str, str]:
    """machine id -> role name: "this machine" (the report's own fingerprint), "reference (committed)"."""
    out = {
        mid: "reference (committed)"
        for mid in {machine_id(r) for r in load_records(spec.reference)}
    }
    if spec.this_machine:
        out[spec.this_machine] = "this machine"
    return out


def machine_lines(recs, eff: pd.DataFrame) -> list[str]:
    """One bullet per machine that measured latency: its label (as in figures and tables) and what it is."""
    ok = [r for r in recs if r.kind == "latency" and r.status == "ok"]
    lines = []
    for mid, part in eff.groupby("machine_id", sort=False) if not eff.empty else []:
        first = next(r for r in ok if machine_id(r) == mid)
        runtimes = sorted(
            {
                f"{r.runtime} ({r.runtime_version})"
                for r in ok
                if machine_id(r) == mid and r.runtime_version
            }
        )
        lines.append(
            f"- **{part.machine.iloc[0]}** ({len(part)} cells on {', '.join(sorted(set(part.device)))}): "
            f"{machine_detail(first)}; runtimes {', '.join(runtimes)}; git {first.git_sha}"
        )
    return lines


def side_by_side(eff: pd.DataFrame) -> pd.DataFrame:
    """Median latency (ms) per cell, one column per machine, and the ratio of each to the first machine."""
    t = eff.assign(cell=eff.model_id.where(eff.family == "baseline", "DynaBERT " + eff.subnet_id))
    wide = t.pivot_table(
        index=[
            c for c in ("device", "runtime", "threads", "batch_size", "seq_len", "cell") if c in t
        ],
        columns="machine",
        values="latency_ms_p50",
        aggfunc="last",
        sort=False,
    )
    cols = list(wide.columns)
    for c in cols[1:]:
        wide[f"ratio {c.split(':')[0]} / {cols[0].split(':')[0]}"] = wide[c] / wide[cols[0]]
    return wide


INTRO = (
    "Every number below says how it was obtained. Each figure and table holds one condition "
    f"({IN_WORDS}), named in its title; a store mixing them gets one figure per condition. "
    "Latency: median of per-run wall times after warm-up, one fresh process per cell, per query at batch 1 "
    "and per batch (so labelled) above; error bars span the cell's fresh-process medians (else its samples' "
    "interquartile range). A cell measured more than once is drawn once, from its newest record (Notes say "
    "how many were set aside). FLOPs: 2 x MACs, dense (Linear layers), per sequence. Accuracy: *measured* "
    "here (split named) or *cited* (source named), cited only beside the model it was cited for unless asked "
    "(`--cited`); figures draw measured points filled, cited hollow, and the torch model's accuracy beside "
    "another runtime's latency half-filled. Each latency is labelled with the machine that measured it; "
    "machines are shown side by side, never pooled."
)


def build(spec: ReportSpec) -> Path:
    """Write figures, tables and index.md/index.html into spec.out; returns the index.md path."""
    recs = load_records(spec.inputs)
    eff = efficiency(recs, spec.checkpoint, roles(spec), spec.workload)
    out = spec.out
    out.mkdir(parents=True, exist_ok=True)
    md = [f"# {spec.title}", "", INTRO, "", "## Machines", *machine_lines(recs, eff), ""]
    if spec.commands:
        md += ["## Commands (from the repository root)", "```", *spec.commands, "```", ""]
    if not eff.empty and eff.machine_id.nunique() > 1:
        wide = side_by_side(eff[eff.latency_ms_p50.notna()])
        wide.to_csv(out / "latency_by_machine.csv")
        md += [
            "## Median latency by machine (ms)",
            "",
            "Same cells, one column per machine (labels as above); a "
            "ratio above 1 means slower than the first column's machine. `latency_by_machine.csv`.",
            "",
            wide.reset_index().to_markdown(index=False, floatfmt=".3g"),
            "",
        ]
    notes = [n for n in (repeat_note(recs), *input_notes(spec.inputs)) if n]
    for task in spec.tasks:
        md += task_lines(spec, task, recs, eff, notes)
    md += efficiency_lines(eff, out, notes)
    if notes:
        md += ["## Notes", *[f"- {n}" for n in notes], ""]
    index = out / "index.md"
    index.write_text("\n".join(md))
    (out / "index.html").write_text(to_html("\n".join(md), spec.title))
    for n in notes:
        print(f"note: {n}")
    return index


CITED_SEQ = (
    128  # FLOPs of a cited row: at the sources' GLUE length (DESIGN.md: seq 128 unless stated)
)


def task_lines(spec: ReportSpec, task: str, recs, eff: pd.DataFrame, notes: list[str]) -> list[str]:
    """One task's section: accuracy vs size, Table-1 layouts, and accuracy vs latency per condition."""
    acc = pd.concat(
        [measured_accuracy(recs, task), cited_for(recs, task, spec.use_cited)], ignore_index=True
    )
    if acc.empty:
        notes.append(
            f"no accuracy for task {task!r} (no measured records, and no cited rows for the models "
            f"measured; `--cited` draws the cited table anyway): accuracy figures for it are not drawn; "
            f"efficiency figures below still are"
        )
        return []
    acc = with_costs(acc, CITED_SEQ)
    md = [f"## {task}", ""]
    missing = sorted(set(acc[acc.params.isna()].label))
    if missing:
        notes.append(f"{task}: no architecture known for {missing}; left out of the size axes")
    acc = acc.dropna(subset=["params"])
    md += size_lines(spec, task, acc)
    j = joined(eff, acc)
    unpaired = (
        sorted(
            {model_label(m) for m in eff.model_id} - {model_label(m) for m in j.get("model_id", [])}
        )
        if not eff.empty
        else []
    )
    if unpaired:
        notes.append(
            f"{task}: latency measured but no {task} accuracy (measured, or cited for its architecture) for "
            f"{', '.join(unpaired)}: left out of the {task} accuracy figures, drawn in latency vs FLOPs"
        )
    parts = [(c, p) for c, p in split(j) if p.latency_ms_p50.notna().any()] if not j.empty else []
    for cond, part in parts:  # emulated targets have instruction counts, no latency to plot
        md += latency_lines(task, part.copy(), spec.out, cond, varying(parts))
    return md


def size_lines(spec: ReportSpec, task: str, acc: pd.DataFrame) -> list[str]:
    """Accuracy vs params and FLOPs per sequence (one figure per accuracy length) and the Table-1 layouts."""
    out, fig_dir, md = spec.out, spec.out / "figures", []
    model_acc = acc[
        acc.accuracy_runtime.isna()
    ]  # the model's own (torch); artifacts' go with latency
    parts = split(model_acc, ("accuracy_seq_len",))
    for cond, part in parts:
        length = cond.get("accuracy_seq_len")
        flops_at = f"FLOPs per sequence at seq {length or CITED_SEQ}"
        title = f"{task}: accuracy vs size ({cond.title() + ', ' if length else ''}{flops_at})"
        fig = figures.accuracy_figure(
            part.assign(latency_ms_p50=float("nan")), task, title, with_latency=False
        )
        stem = f"{task}_accuracy_size{cond.stem(varying(parts))}"
        md.append(_img(figures.save(fig, fig_dir / stem)[0], out))
    for src, part in model_acc.groupby("measured"):
        t1 = table1(part)
        if t1.empty:
            continue
        kind = "measured" if src else "cited"
        name = f"{task}_table1_{kind}"
        t1.to_csv(out / f"{name}.csv")
        md += [
            "",
            f"**Table 1 layout, {kind}** (rows width, columns depth; {part.accuracy_source.iloc[0]})",
            "",
            t1.rename(index="width {:g}".format, columns="depth {:g}".format).to_markdown(
                floatfmt=".1f"
            ),
            "",
        ]
        heat = figures.heatmap_figure(t1, f"{task}, {kind}")
        md.append(_img(figures.save(heat, fig_dir / name)[0], out))
    return md


def latency_lines(
    task: str, part: pd.DataFrame, out: Path, cond: Condition, differ: tuple[str, ...]
) -> list[str]:
    """Accuracy vs latency of one condition, its Pareto front (one per machine) marked, and its cell table."""
    device, runtime, threads = (cond.get(k) for k in ("device", "runtime", "threads"))
    part["pareto"] = (
        False  # a front per machine: latencies of different machines are never compared
    )
    for _, rows in part.groupby("machine"):
        part.loc[rows.index, "pareto"] = pareto_mask(rows.latency_ms_p50, rows.accuracy)
    title = f"{task}: {cond.title()}; latency per machine"
    measured = part[part.measured.astype(bool)]
    notes = []
    if not measured.empty and measured.accuracy_from_artifact.all():
        notes.append(f"accuracy measured on the {runtime} artifacts themselves")
    elif not measured.empty and measured.accuracy_from_artifact.any():
        notes.append(
            f"accuracy measured on the {runtime} artifacts where the table says so, else the torch "
            f"model's (half-filled markers)"
        )
    elif runtime != "torch" and not measured.empty:
        notes.append(f"accuracy is the torch model's, not the {runtime} artifacts' (not measured)")
    length, seq = cond.get("accuracy_seq_len"), cond.get("seq_len")
    if length and seq and length != seq:
        notes.append(f"accuracy measured at length {length}, latency timed at length {seq}")
    title = "\n".join(textwrap.fill(line, 90) for line in (title, *notes))
    own = tuple(f for f in differ if f not in ("device", "runtime", "threads", "precision"))
    stem = f"{task}_{device}_{runtime}_t{threads}{cond.stem(own)}"
    fig = figures.accuracy_figure(part, task, title)
    md = [
        "",
        f"### {cond.title(skip=('accuracy_seq_len',))}",
        "",
        *[n[0].upper() + n[1:] + "." for n in notes],
        "",
        _img(figures.save(fig, out / "figures" / stem)[0], out),
        "",
    ]
    table = cells_table(part)
    table.to_csv(out / f"{stem}.csv", index=False)
    return md + [table.to_markdown(index=False, floatfmt=".4g"), ""]


SERIES = ("runtime", "precision")  # latency vs FLOPs: runtimes are the lines of one figure


def efficiency_lines(eff: pd.DataFrame, out: Path, notes: list[str]) -> list[str]:
    """Latency (or exact instructions, emulated) against FLOPs, one figure per condition (runtimes as lines),
    and efficiency.csv."""
    if eff.empty:
        notes.append(
            "no latency records: latency figures are not drawn (run python -m bench.sweep)"
        )
        return []
    md, fig_dir = ["## Latency against FLOPs", ""], out / "figures"
    parts = split(eff, tuple(f for f in FIELDS if f not in SERIES))
    for cond, part in parts:  # a file name says what differs from the same device's other figures
        same_device = [(c, p) for c, p in parts if c.get("device") == cond.get("device")]
        stem = f"{cond.get('device')}{cond.stem(varying(same_device))}"
        timed = part[part.latency_ms_p50.notna()]
        if not timed.empty:
            title = textwrap.fill(f"{cond.title()}: median latency vs FLOPs, per machine", 60)
            fig = figures.latency_vs_flops_figure(timed, title)
            md.append(_img(figures.save(fig, fig_dir / f"latency_vs_flops_{stem}")[0], out))
        arm = (
            part[part.instructions_per_inference.notna()]
            if "instructions_per_inference" in part
            else part[:0]
        )
        if not arm.empty:
            title = textwrap.fill(
                f"{cond.title()}: exact guest instructions per inference (emulated, not time)", 60
            )
            fig = figures.instructions_figure(arm, title)
            md.append(_img(figures.save(fig, fig_dir / f"instructions_vs_flops_{stem}")[0], out))
    all_cells = eff.assign(label=eff.model_id.map(model_label), accuracy=float("nan"))
    cells_table(all_cells).to_csv(out / "efficiency.csv", index=False)
    return md + ["", "All efficiency records: `efficiency.csv`.", ""]


def _img(path: Path, base: Path) -> str:
    return f"![{path.stem}]({path.relative_to(base).as_posix()})"
