"""Paper-style figures (matplotlib): accuracy vs params / FLOPs / latency with the Pareto front, the width x depth
heat map, latency vs FLOPs per runtime, and instruction count vs FLOPs on the emulated ARM target.

Conventions (stated in every legend or caption): a figure holds one condition (bench.conditions), named in its
title; DynaBERT grid points are coloured by width and connected across depth, per-layer sub-networks have their
own colour and marker, baselines their own markers; measured accuracy is a filled marker, cited accuracy a
hollow one, accuracy of the torch model beside another runtime's latency a half-filled one; latency has error
bars (range of the fresh processes' medians, else the samples' IQR); every point of the Pareto front (over every
point drawn) is drawn and in the legend, the front a dashed black step line. FLOPs are per sequence; latency
per query at batch 1, per batch (labelled) above. Each function returns the Figure so
tests can inspect what was drawn; `save` writes PNG and SVG.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import math
import textwrap

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from bench.frame import pareto_mask  # noqa: E402
from dynabert.subnet import is_grid_id  # noqa: E402

WIDTH_COLORS = {1.0: "#1b4f9c", 0.75: "#3a8fd1", 0.5: "#e08a1e", 0.25: "#c0392b"}
PER_LAYER_COLOR = "#7b3fa0"  # per-layer (searched) sub-networks: their own colour and marker
BASELINE_MARKERS = ["s", "D", "^", "v", "P", "X", "*"]
AXES = {
    "params": ("active parameters (millions)", 1e6),
    "flops_per_sequence": ("GFLOPs per sequence (2 x MACs, dense)", 1e9),
    "latency_ms_p50": ("median latency (ms)", 1.0),
}
plt.rcParams.update(
    {"font.size": 8, "axes.titlesize": 8, "legend.fontsize": 6.5, "figure.dpi": 150}
)


def latency_label(df: pd.DataFrame, stat: str = "median latency") -> str:
    """The latency axis says what one number is: per query at batch 1, per batch of N otherwise (one batch:
    a frame reaching here holds one condition, bench.conditions)."""
    batches = sorted(df.batch_size.dropna().unique()) if "batch_size" in df else []
    if len(batches) > 1:
        raise ValueError(f"one latency axis for batches {batches}: split by bench.conditions first")
    b = int(batches[0]) if batches else 1
    return f"{stat} per query (ms)" if b == 1 else f"{stat} per batch of {b} (ms)"


def save(fig, path: Path) -> list[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = [path.with_suffix(".png"), path.with_suffix(".svg")]
    with plt.rc_context(
        {"svg.hashsalt": "dynabert-edge"}
    ):  # same figure, same bytes: re-runs leave git clean
        for p in out:
            fig.savefig(
                p, bbox_inches="tight", metadata={"Date": None} if p.suffix == ".svg" else None
            )
    plt.close(fig)
    return out


def _source(row_measured: bool, from_artifact: bool | None, runtime: str | None) -> str:
    """Which accuracy a point shows: cited, measured on the timed artifact itself, or measured on the torch
    model and drawn beside another runtime's latency (a stand-in)."""
    if not row_measured:
        return "cited"
    if from_artifact or runtime in (None, "torch") or pd.isna(runtime):
        return "measured"
    return "measured on the torch model"


def _scatter(ax, part: pd.DataFrame, x: str, scale: float, style: dict, label: str) -> None:
    """One series' points (hollow when cited, half-filled for a stand-in) and their error bars on latency."""
    xs, ys = part[x] / scale, part.accuracy
    src = style.pop("source")
    fill = {"cited": "none", "measured": style["color"]}.get(src, "none")
    if x == "latency_ms_p50" and "latency_ms_lo" in part and part.latency_ms_lo.notna().any():
        lo, hi = (
            (part.latency_ms_p50 - part.latency_ms_lo),
            (part.latency_ms_hi - part.latency_ms_p50),
        )
        ax.errorbar(
            xs,
            ys,
            xerr=[lo.fillna(0), hi.fillna(0)],
            fmt="none",
            ecolor=style["color"],
            elinewidth=0.6,
            capsize=1.5,
            zorder=2,
        )
    ax.plot(
        xs,
        ys,
        ls="none",
        marker=style["marker"],
        ms=style["ms"],
        color=style["color"],
        mfc=fill,
        mec=style["color"],
        mew=1.0,
        zorder=style["zorder"],
        label=label,
        fillstyle="bottom" if src == "measured on the torch model" else "full",
    )


def _series(df: pd.DataFrame):
    """(rows, style, label) of every point to draw: the grid by width (connected across depth), per-layer
    sub-networks, then each baseline; split by accuracy source. Every row of `df` is in exactly one series."""
    df = df.assign(
        _src=[
            _source(bool(m), a if "accuracy_from_artifact" in df else None, r)
            for m, a, r in zip(
                df.measured,
                df.accuracy_from_artifact if "accuracy_from_artifact" in df else [None] * len(df),
                df.runtime if "runtime" in df else [None] * len(df),
            )
        ]
    )
    grid = (df.family == "dynabert") & df.subnet_id.map(is_grid_id)
    for (width, src), part in df[grid].groupby(["width_mult", "_src"], sort=False):
        color = WIDTH_COLORS.get(width, "grey")
        yield (
            part,
            dict(marker="o", ms=4, color=color, zorder=3, source=src, line=True),
            (f"DynaBERT w={width:g} ({src})"),
        )
    per_layer = (df.family == "dynabert") & ~grid
    for src, part in df[per_layer].groupby("_src", sort=False):
        yield (
            part,
            dict(marker="h", ms=4.5, color=PER_LAYER_COLOR, zorder=3, source=src),
            (f"DynaBERT per-layer sub-networks ({src})"),
        )
    base = df[df.family != "dynabert"]
    for i, ((name, src), part) in enumerate(base.groupby(["label", "_src"], sort=True)):
        marker = BASELINE_MARKERS[i % len(BASELINE_MARKERS)]
        yield (
            part,
            dict(marker=marker, ms=5, color="black", zorder=4, source=src),
            f"{name} ({src})",
        )


def _panel(ax, df: pd.DataFrame, x: str) -> None:
    label, scale = AXES[x]
    for part, style, name in _series(df):
        if style.pop("line", False):
            part = part.sort_values(x)
            ax.plot(part[x] / scale, part.accuracy, "-", color=style["color"], lw=0.8, alpha=0.7)
        _scatter(ax, part, x, scale, style, name)
    front = df[pareto_mask(df[x], df.accuracy)].sort_values(x)
    ax.step(
        front[x] / scale,
        front.accuracy,
        where="post",
        ls="--",
        color="black",
        lw=0.9,
        label="Pareto front (over every point drawn)",
        zorder=2,
    )
    ax.set_xlabel(_wrap(latency_label(df) if x == "latency_ms_p50" else label, 26))
    ax.grid(alpha=0.3, lw=0.5)


def accuracy_figure(df: pd.DataFrame, task: str, title: str, with_latency: bool = True):
    """Accuracy vs params, FLOPs (and median latency) for one (device, runtime) slice of the joined frame.

    With a `machine` column, latency gets one panel per machine (titled with its label, in the frame's order), each
    with its own Pareto front; params and FLOPs do not depend on the machine and are drawn once.
    """
    machines = list(dict.fromkeys(df.machine)) if with_latency and "machine" in df else [None]
    first = df[df.machine == machines[0]] if machines[0] is not None else df
    panels = [("params", first, None), ("flops_per_sequence", first, None)]
    if with_latency:
        panels += [
            ("latency_ms_p50", df if m is None else df[df.machine == m], m) for m in machines
        ]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.45 * len(panels), 2.4), sharey=True)
    for ax, (x, part, machine) in zip(axes, panels):
        _panel(ax, part, x)
        if machine is not None:
            ax.set_title(_wrap("latency on " + machine, 28), fontsize=6.5)
    lat_axes = [ax for ax, (x, _, _) in zip(axes, panels) if x == "latency_ms_p50"]
    if len(lat_axes) > 1:  # one latency scale for every machine, so panels compare at a glance
        lo, hi = min(ax.get_xlim()[0] for ax in lat_axes), max(ax.get_xlim()[1] for ax in lat_axes)
        for ax in lat_axes:
            ax.set_xlim(lo, hi)
    metric = (
        df.metric.dropna().iloc[0] if "metric" in df and df.metric.notna().any() else "accuracy"
    )
    axes[0].set_ylabel(f"{task} dev {metric} (%)")
    extra = 0.08 * title.count(
        "\n"
    )  # each further title line sits higher, clear of the panel titles
    fig.suptitle(
        title, y=(1.02 if machines == [None] else 1.12) + extra
    )  # above the per-machine panel titles
    entries = {}  # every series of every panel, once: a point drawn only in one panel is in the legend too
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    fig.legend(
        list(entries.values()),
        list(entries),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.1),
        ncol=3,
        frameon=False,
        title=cited_sources(df),
        title_fontsize=6,
    )
    return fig


def cited_sources(df: pd.DataFrame) -> str | None:
    """ "hollow markers: cited from <sources>", wrapped; None when nothing drawn is cited."""
    if "measured" not in df or df.measured.astype(bool).all():
        return None
    sources = sorted(set(df[~df.measured.astype(bool)].accuracy_source.str.removeprefix("cited: ")))
    return _wrap("hollow markers: accuracy cited from " + "; ".join(sources), 130)


def heatmap_figure(table: pd.DataFrame, title: str):
    """The paper's Table 1 as a picture: rows width, columns depth, cell = accuracy (%)."""
    fig, ax = plt.subplots(figsize=(2.8, 2.4))
    im = ax.imshow(table.values, cmap="viridis", aspect="auto")
    ax.set_xticks(range(table.shape[1]), [f"{d:g}" for d in table.columns])
    ax.set_yticks(range(table.shape[0]), [f"{w:g}" for w in table.index])
    ax.set_xlabel("depth multiplier")
    ax.set_ylabel("width multiplier")
    mid = (table.values.max() + table.values.min()) / 2
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            v = table.values[i, j]
            ax.text(
                j,
                i,
                f"{v:.1f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if v < mid else "black",
            )
    fig.colorbar(im, ax=ax, label="accuracy (%)")
    ax.set_title(title)
    return fig


def against_flops_figure(eff: pd.DataFrame, column: str, ylabel: str, scale: float, title: str):
    """One line per runtime of `column` / scale against FLOPs per sequence, log-log. Colour = runtime (baselines
    too), marker = model (circles for DynaBERT sub-networks), line style = machine; latency has error bars."""
    from bench.frame import model_label

    labelled = "machine" in eff and eff.machine.map(lambda m: isinstance(m, str)).all()
    eff = eff if labelled else eff.assign(machine="")  # raw records: `machine` is the identity dict
    if "flops_per_sequence" not in eff:
        eff = eff.assign(flops_per_sequence=eff.flops / eff.get("batch_size", 1))
    machines = list(dict.fromkeys(eff.machine))
    fig, ax = plt.subplots(
        figsize=(3.4 if len(machines) == 1 else 4.6, 2.6 if len(machines) == 1 else 3.4)
    )
    family = eff.family if "family" in eff else pd.Series("dynabert", index=eff.index)
    styles = ["-", "--", ":", "-."]  # one line style per machine; runtimes keep their colours
    colors = {rt: f"C{i}" for i, rt in enumerate(sorted(set(eff.runtime)))}
    models = list(dict.fromkeys(eff[family != "dynabert"].model_id))
    groups = eff.assign(_base=family != "dynabert").groupby(
        ["machine", "_base", "model_id", "runtime"], sort=False
    )  # legend order: per machine, DynaBERT's runtimes, then each baseline's runtimes
    order = sorted(
        groups.groups, key=lambda k: (machines.index(k[0]), k[1], k[2], sorted(colors).index(k[3]))
    )
    for machine, base, model, runtime in order:
        part = groups.get_group((machine, base, model, runtime)).sort_values("flops_per_sequence")
        k, dyn = machines.index(machine), not base
        on = f" on {_wrap(machine, 60)}" if len(machines) > 1 else ""
        name = f"DynaBERT [{model_label(model)}]" if dyn else model_label(model)
        xs, ys = part.flops_per_sequence / 1e9, part[column] / scale
        if (
            column == "latency_ms_p50"
            and "latency_ms_lo" in part
            and part.latency_ms_lo.notna().any()
        ):
            ax.errorbar(
                xs,
                ys,
                yerr=[
                    (part[column] - part.latency_ms_lo).fillna(0),
                    (part.latency_ms_hi - part[column]).fillna(0),
                ],
                fmt="none",
                ecolor=colors[runtime],
                elinewidth=0.5,
                capsize=1,
            )
        ax.loglog(
            xs,
            ys,
            "o" if dyn else BASELINE_MARKERS[models.index(model) % len(BASELINE_MARKERS)],
            ls=styles[k % 4] if dyn else "none",
            color=colors[runtime],
            ms=3 if dyn else 5,
            lw=0.8,
            mfc=colors[runtime] if k == 0 and dyn else "none",
            label=f"{name}, {runtime}{on}",
        )
    readable_log_ticks(ax.xaxis, eff.flops_per_sequence / 1e9)
    readable_log_ticks(ax.yaxis, eff[column] / scale)
    ax.set_xlabel("GFLOPs per sequence (2 x MACs, dense)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both", lw=0.4)
    # below the axes: inside, it would hide points (the smallest models sit bottom left); one machine is named
    # in the legend's title (several: in each entry), so a legend cut out of the figure still says where
    named = _wrap("measured on " + machines[0], 70) if len(machines) == 1 and machines[0] else None
    ax.legend(
        frameon=False,
        fontsize=5.5,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=1 if len(ax.get_legend_handles_labels()[1]) <= 8 else 2,
        title=named,
        title_fontsize=5.5,
    )
    ax.set_title(title)
    return fig


def readable_log_ticks(axis, values: pd.Series) -> None:
    """Labelled ticks on a log axis whatever the data's span: the sparsest of decades; 1, 3; 1, 2, 5; 1, 2, 3, 5;
    every 1..9 step that puts at least 3 labels on the data (e.g. 0.002, 0.003, 0.004 GFLOPs for the tiny
    model, where decade ticks alone would leave the axis without one), else 4 evenly spaced ticks."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, MaxNLocator, NullFormatter

    values = values[values > 0]
    axis.set_major_formatter(FormatStrFormatter("%g"))
    axis.set_minor_formatter(NullFormatter())
    if values.empty:
        return
    lo, hi = float(values.min()), float(values.max())
    decades = range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
    for subs in (
        (1.0,),
        (1.0, 3.0),
        (1.0, 2.0, 5.0),
        (1.0, 2.0, 3.0, 5.0),
        tuple(float(k) for k in range(1, 10)),
    ):
        if (
            sum(lo * (1 - 1e-9) <= m * 10.0**e <= hi * (1 + 1e-9) for e in decades for m in subs)
            >= 3
        ):
            axis.set_major_locator(LogLocator(base=10, subs=subs))
            return
    axis.set_major_locator(MaxNLocator(nbins=4))


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width))


def latency_vs_flops_figure(eff: pd.DataFrame, title: str):
    """Median latency against FLOPs per runtime: how well FLOPs predict speed."""
    return against_flops_figure(eff, "latency_ms_p50", latency_label(eff), 1.0, title)


def instructions_figure(eff: pd.DataFrame, title: str):
    """Guest instructions per inference against FLOPs on the emulated ARM target (exact counts, not time)."""
    return against_flops_figure(
        eff, "instructions_per_inference", "guest instructions per inference (M)", 1e6, title
    )


def drawn_points(ax) -> dict[str, list[tuple[float, float]]]:
    """Legend label -> the (x, y) of every marker drawn on `ax` under it: what a reader sees, for tests and
    checks (the figure's own data, not its pixels)."""
    out: dict[str, list[tuple[float, float]]] = {}
    for line in ax.lines:
        if line.get_marker() in (None, "None", "", " ") or line.get_label().startswith("_"):
            continue
        xs, ys = line.get_xdata(), line.get_ydata()
        out.setdefault(line.get_label(), []).extend(zip(map(float, xs), map(float, ys)))
    return out
