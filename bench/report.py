"""Records -> figures, tables and one index.md / index.html (what `python -m bench.pareto` writes).

Must not measure anything: it reads records (and the cited table) only.
"""

from __future__ import annotations

import html
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench import figures
from bench.frame import (
    cited_accuracy,
    efficiency,
    joined,
    load_records,
    machine_detail,
    machine_id,
    measured_accuracy,
    pareto_mask,
)
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
    use_cited: bool = True
    checkpoint: str | None = None
    title: str = "DynaBERT sub-networks: accuracy and efficiency"
    commands: list[str] = field(default_factory=list)
    reference: list[str] = field(
        default_factory=list
    )  # inputs holding committed reference results (labelled so)
    this_machine: str | None = (
        None  # fingerprint of the machine writing the report (its records: "this machine")
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
    cols = {
        "label": "model",
        "subnet_id": "sub-network",
        "device": "device",
        "machine": "machine",
        "runtime": "runtime",
        "threads": "threads",
        "seq_len": "seq",
        "accuracy": "accuracy (%)",
        "accuracy_source": "accuracy source",
        "params_m": "params (M)",
        "gflops": "GFLOPs",
        "latency_ms_p50": "median ms",
        "latency_ms_p90": "p90 ms",
        "peak_rss_mb": "peak RSS increase (MB)",
        "size_mb": "file (MB)",
        "pareto": "on front",
    }
    t = j.assign(params_m=j.params / 1e6, gflops=j.flops / 1e9, size_mb=j.artifact_bytes / 2**20)
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
        index=["device", "runtime", "threads", "cell"],
        columns="machine",
        values="latency_ms_p50",
        aggfunc="last",
        sort=False,
    )
    cols = list(wide.columns)
    for c in cols[1:]:
        wide[f"ratio {c.split(':')[0]} / {cols[0].split(':')[0]}"] = wide[c] / wide[cols[0]]
    return wide


def build(spec: ReportSpec) -> Path:
    """Write figures, tables and index.md/index.html into spec.out; returns the index.md path."""
    recs = load_records(spec.inputs)
    eff = efficiency(recs, spec.checkpoint, roles(spec))
    out = spec.out
    out.mkdir(parents=True, exist_ok=True)
    md = [
        f"# {spec.title}",
        "",
        "Every number below says how it was obtained. Latency: median of per-run wall "
        "times after warm-up, one fresh process per cell, batch and threads as stated. FLOPs: 2 x MACs, dense "
        "(Linear layers), batch 1. Accuracy: *measured* here (split named) or *cited* (source named); figures "
        "draw measured points filled and cited points hollow. Each latency is labelled with the machine that "
        "measured it; machines are shown side by side, never pooled.",
        "",
        "## Machines",
        *machine_lines(recs, eff),
        "",
    ]
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
    notes: list[str] = []
    seq = int(eff.seq_len.mode().iloc[0]) if not eff.empty else 128
    for task in spec.tasks:
        md += task_lines(spec, task, recs, eff, seq, notes)
    md += efficiency_lines(eff, out, notes)
    if notes:
        md += ["## Notes", *[f"- {n}" for n in notes], ""]
    index = out / "index.md"
    index.write_text("\n".join(md))
    (out / "index.html").write_text(_html(md, spec.title))
    for n in notes:
        print(f"note: {n}")
    return index


def task_lines(
    spec: ReportSpec, task: str, recs, eff: pd.DataFrame, seq: int, notes: list[str]
) -> list[str]:
    """One task's section: accuracy vs size, Table-1 layouts, and accuracy vs latency per device/runtime/threads."""
    out, fig_dir = spec.out, spec.out / "figures"
    acc = measured_accuracy(recs, task)
    if spec.use_cited:
        acc = pd.concat([acc, cited_accuracy(task)], ignore_index=True)
    if acc.empty:
        notes.append(
            f"no accuracy for task {task!r} (neither measured records nor cited rows): accuracy "
            f"figures for it are not drawn; efficiency figures below still are"
        )
        return []
    acc = with_costs(acc, seq)
    md = [f"## {task}", ""]
    missing = sorted(set(acc[acc.params.isna()].label))
    if missing:
        notes.append(f"{task}: no architecture known for {missing}; left out of the size axes")
    acc = acc.dropna(subset=["params"])
    model_acc = acc[
        acc.accuracy_runtime.isna()
    ]  # the model's own accuracy (torch); artifacts' go with latency
    fig = figures.accuracy_figure(
        model_acc.assign(latency_ms_p50=float("nan")),
        task,
        f"{task}: accuracy vs size (FLOPs at seq {seq})",
        with_latency=False,
    )
    md.append(_img(figures.save(fig, fig_dir / f"{task}_accuracy_size")[0], out))
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
        md.append(
            _img(
                figures.save(figures.heatmap_figure(t1, f"{task}, {kind}"), fig_dir / name)[0], out
            )
        )
    j = joined(eff, acc)
    for (device, runtime, threads), part in (
        j.groupby(["device", "runtime", "threads"]) if not j.empty else []
    ):
        if (
            part.latency_ms_p50.notna().any()
        ):  # emulated targets: instruction counts, no latency to plot
            md += latency_lines(task, part.copy(), eff, out, seq, (device, runtime, threads))
    return md


def latency_lines(
    task: str, part: pd.DataFrame, eff: pd.DataFrame, out: Path, seq: int, where: tuple
) -> list[str]:
    """Accuracy vs latency of one (device, runtime, threads), its Pareto front marked, and its cell table."""
    device, runtime, threads = where
    part["pareto"] = (
        False  # a front per machine: latencies of different machines are never compared
    )
    for _, rows in part.groupby("machine"):
        part.loc[rows.index, "pareto"] = pareto_mask(rows.latency_ms_p50, rows.accuracy)
    batch = (
        ", ".join(f"{b:g}" for b in sorted(part.batch_size.dropna().unique()))
        if "batch_size" in part
        else "1"
    )
    title = f"{task}: {device}, {runtime}, {threads} thread(s), seq {seq}, batch {batch}; latency per machine"
    measured = part[part.measured.astype(bool)]
    acc_note = ""
    if not measured.empty and measured.accuracy_from_artifact.all():
        acc_note = f"accuracy measured on the {runtime} artifacts themselves"
    elif not measured.empty and measured.accuracy_from_artifact.any():
        acc_note = f"accuracy measured on the {runtime} artifacts where the table says so, else the torch model's"
    elif runtime.endswith("int8") and not measured.empty:
        acc_note = "accuracy is the fp32 model's (int8 accuracy not measured)"
    title += f"\n{acc_note}" if acc_note else ""
    stem = f"{task}_{device}_{runtime}_t{threads}"
    md = [
        "",
        f"### {device} / {runtime} / {threads} thread(s)",
        "",
        *([acc_note.capitalize() + ".", ""] if acc_note else []),
        _img(
            figures.save(figures.accuracy_figure(part, task, title), out / "figures" / stem)[0], out
        ),
        "",
    ]
    table = cells_table(part)
    table.to_csv(out / f"{stem}.csv", index=False)
    return md + [table.to_markdown(index=False, floatfmt=".4g"), ""]


def efficiency_lines(eff: pd.DataFrame, out: Path, notes: list[str]) -> list[str]:
    """Latency (or exact instructions, emulated) against FLOPs per device, and efficiency.csv."""
    if eff.empty:
        notes.append(
            "no latency records: latency figures are not drawn (run python -m bench.sweep)"
        )
        return []
    md, fig_dir = ["## Latency against FLOPs", ""], out / "figures"
    for device, part in eff.groupby("device"):
        batch = ", ".join(f"{b:g}" for b in sorted(part.batch_size.dropna().unique()))
        title = f"{device}: median latency vs FLOPs (seq {int(part.seq_len.iloc[0])}, batch {batch}), per machine"
        if part.latency_ms_p50.notna().any():
            md.append(
                _img(
                    figures.save(
                        figures.latency_vs_flops_figure(part[part.latency_ms_p50.notna()], title),
                        fig_dir / f"latency_vs_flops_{device}",
                    )[0],
                    out,
                )
            )
        arm = (
            part[part.instructions_per_inference.notna()]
            if "instructions_per_inference" in part
            else part[:0]
        )
        if not arm.empty:
            md.append(
                _img(
                    figures.save(
                        figures.instructions_figure(
                            arm,
                            f"{device}: exact guest instructions "
                            f"per inference, seq {int(arm.seq_len.iloc[0])} "
                            "(emulated, not time)",
                        ),
                        fig_dir / f"instructions_vs_flops_{device}",
                    )[0],
                    out,
                )
            )
    all_cells = eff.assign(label=eff.model_id, accuracy=float("nan"))
    cells_table(all_cells).to_csv(out / "efficiency.csv", index=False)
    return md + ["", "All efficiency records: `efficiency.csv`.", ""]


def _img(path: Path, base: Path) -> str:
    return f"![{path.stem}]({path.relative_to(base).as_posix()})"


def _html(md: list[str], title: str) -> str:
    """A plain HTML rendering of the same lines: headings, images and pre-formatted tables."""
    body = []
    for line in md:
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line.lstrip('# '))}</h{level}>")
        elif line.startswith("!["):
            src = line[line.index("(") + 1 : -1]
            body.append(f'<p><img src="{html.escape(src)}" style="max-width:100%"></p>')
        elif line.strip():
            body.append(
                f"<pre>{html.escape(line)}</pre>"
                if line.startswith("|")
                else f"<p>{html.escape(line)}</p>"
            )
    return (
        f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>\n"
        + "\n".join(body)
    )
