"""Paper-style figures (matplotlib): accuracy vs params / FLOPs / latency with the Pareto front, the width x depth
heat map, latency vs FLOPs per runtime, and instruction count vs FLOPs on the emulated ARM target.

Conventions (stated in every legend or caption): DynaBERT points are coloured by width and connected across
depth; baselines have their own markers; measured accuracy is a filled marker, cited accuracy a hollow one;
the Pareto front (over every point drawn) is a dashed black step line. Each function returns the Figure so
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
BASELINE_MARKERS = ["s", "D", "^", "v", "P", "X", "*"]
AXES = {
    "params": ("active parameters (millions)", 1e6),
    "flops": ("GFLOPs per sequence (2 x MACs, dense)", 1e9),
    "latency_ms_p50": ("median latency (ms)", 1.0),
}
plt.rcParams.update(
    {"font.size": 8, "axes.titlesize": 8, "legend.fontsize": 6.5, "figure.dpi": 150}
)


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


def _panel(ax, df: pd.DataFrame, x: str) -> None:
    label, scale = AXES[x]
    dyn = df[
        (df.family == "dynabert") & df.subnet_id.map(is_grid_id)
    ]  # the grid's width series only, by id
    for width, group in dyn.groupby("width_mult", sort=False):
        for measured, part in group.groupby("measured"):
            part = part.sort_values(x)
            color = WIDTH_COLORS.get(width, "grey")
            ax.plot(part[x] / scale, part.accuracy, "-", color=color, lw=0.8, alpha=0.7)
            ax.scatter(
                part[x] / scale,
                part.accuracy,
                s=18,
                marker="o",
                color=color,
                facecolors=color if measured else "none",
                linewidths=1.0,
                zorder=3,
                label=f"DynaBERT w={width:g} ({'measured' if measured else 'cited'})",
            )
    base = df[df.family != "dynabert"]
    for i, ((name, measured), part) in enumerate(base.groupby(["label", "measured"], sort=True)):
        marker = BASELINE_MARKERS[i % len(BASELINE_MARKERS)]
        ax.scatter(
            part[x] / scale,
            part.accuracy,
            s=26,
            marker=marker,
            color="black",
            facecolors="black" if measured else "none",
            linewidths=1.0,
            zorder=4,
            label=f"{name} ({'measured' if measured else 'cited'})",
        )
    front = df[pareto_mask(df[x], df.accuracy)].sort_values(x)
    ax.step(
        front[x] / scale,
        front.accuracy,
        where="post",
        ls="--",
        color="black",
        lw=0.9,
        label="Pareto front",
        zorder=2,
    )
    ax.set_xlabel(label)
    ax.grid(alpha=0.3, lw=0.5)


def accuracy_figure(df: pd.DataFrame, task: str, title: str, with_latency: bool = True):
    """Accuracy vs params, FLOPs (and median latency) for one (device, runtime) slice of the joined frame.

    With a `machine` column, latency gets one panel per machine (titled with its label, in the frame's order), each
    with its own Pareto front; params and FLOPs do not depend on the machine and are drawn once.
    """
    machines = list(dict.fromkeys(df.machine)) if with_latency and "machine" in df else [None]
    first = df[df.machine == machines[0]] if machines[0] is not None else df
    panels = [("params", first, None), ("flops", first, None)]
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
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=3, frameon=False
    )
    return fig


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
    """One line per runtime of `column` / scale against FLOPs, log-log."""
    eff = eff if "machine" in eff else eff.assign(machine="")
    machines = list(dict.fromkeys(eff.machine))
    fig, ax = plt.subplots(
        figsize=(3.4 if len(machines) == 1 else 4.6, 2.6 if len(machines) == 1 else 3.4)
    )
    family = eff.family if "family" in eff else pd.Series("dynabert", index=eff.index)
    styles = [
        "-",
        "--",
        ":",
        "-.",
    ]  # one line style per machine; runtimes keep their colours across machines
    colors = {rt: f"C{i}" for i, rt in enumerate(sorted(set(eff.runtime)))}
    for (machine, runtime), part in eff[family == "dynabert"].groupby(
        ["machine", "runtime"], sort=False
    ):
        part = part.sort_values("flops")
        on = f" on {_wrap(machine, 60)}" if len(machines) > 1 else ""
        ax.loglog(
            part.flops / 1e9,
            part[column] / scale,
            "o",
            ls=styles[machines.index(machine) % 4],
            color=colors[runtime],
            ms=3,
            lw=0.8,
            mfc=colors[runtime] if machines.index(machine) == 0 else "none",
            label=f"DynaBERT, {runtime}{on}",
        )
    baselines = eff[family != "dynabert"].groupby(["model_id", "runtime", "machine"], sort=False)
    models = list(dict.fromkeys(eff[family != "dynabert"].model_id))
    for (model, runtime, machine), part in baselines:
        k = machines.index(machine)
        ax.loglog(
            part.flops / 1e9,
            part[column] / scale,
            BASELINE_MARKERS[models.index(model) % len(BASELINE_MARKERS)],
            ms=5,
            color="black" if k == 0 else "grey",
            mfc="none",
            label=f"{model}, {runtime}"
            + (f" ({machine.split(':')[0]})" if len(machines) > 1 else ""),
        )
    readable_log_ticks(ax.xaxis, eff.flops / 1e9)
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
        ncol=1,
        title=named,
        title_fontsize=5.5,
    )
    ax.set_title(title)
    return fig


def readable_log_ticks(axis, values: pd.Series) -> None:
    """Labelled ticks on a log axis whatever the data's span: the sparsest of decades; 1, 3; 1, 2, 5; 1, 2, 3, 5;
    every 1..9 step that puts at least 3 labels on the data (e.g. 0.002, 0.003, 0.004 GFLOPs for the tiny model, where decade
    ticks alone would leave the axis without one), else 4 evenly spaced ticks."""
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
    return against_flops_figure(eff, "latency_ms_p50", "median latency (ms)", 1.0, title)


def instructions_figure(eff: pd.DataFrame, title: str):
    """Guest instructions per inference against FLOPs on the emulated ARM target (exact counts, not time)."""
    return against_flops_figure(
        eff, "instructions_per_inference", "guest instructions per inference (M)", 1e6, title
    )
