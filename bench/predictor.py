"""Latency (or emulated instruction count) of any per-layer sub-network, predicted from measured ones.

One predictor per (device, runtime, threads, sequence length, measuring machine, architecture), fitted on latency
records that carry the per-layer form of their sub-network (`Record.subnet`; grid records written before it are
read from n_heads / ffn_dim / n_layers). Three models, as in HAT / nn-Meter / HELP's comparisons:
- `flops`: value = a * FLOPs (with attention): the FLOPs-proportional baseline.
- `linear`: value = fixed + sum over kept layers of (c_layer + c_head * heads + c_ffn * FFN neurons).
- `lookup`: value = fixed + sum over kept layers of (A[heads] + F[FFN]): a per-layer additive lookup table over the
  measured heads and FFN values (linear interpolation between them; nn-Meter's kernel-sum idea at layer scale).
Fits are least squares on relative error (rows weighted by 1/value), since the reports judge relative error.
`choose` picks the model with the lowest cross-validated MAPE on the training points; `evaluate` scores any model
on held-out points: MAPE, share within +-10% (and +-5%), Spearman rank correlation (scipy.stats.spearmanr).

`python -m bench.predictor fit --results FILE --device local-cpu --runtime onnxruntime --threads 1 --seq-len 128`;
`python -m bench.predictor sample --model MODEL --n 48 --out subnets.json` draws random per-layer sub-networks to
measure (python -m bench.sweep --subnets subnets.json).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass, field
from itertools import product

import numpy as np

import argfields
import records
from argfields import option
from bench.workload import condition
from dynabert.config import check_mults, parse_mults
from dynabert.subnet import LayerwiseSpec, write_subnets

MODELS = ("flops", "linear", "lookup")


@dataclass(frozen=True)
class Point:
    """One measured configuration: (heads, FFN) per kept layer, its FLOPs and params, and the measured value."""

    subnet_id: str
    layers: tuple[tuple[int, int], ...]
    flops: float  # with attention, batch 1
    params: float  # active parameters
    value: float  # latency_ms_p50, or instructions per inference


def layers_of(r: records.Record) -> tuple[tuple[int, int], ...] | None:
    """(heads, FFN) per kept layer of a record: its per-layer form, or a grid record's uniform shape; else None."""
    if r.subnet is not None:
        return tuple((h, f) for h, f in zip(r.subnet["heads"], r.subnet["ffn"]) if h)
    if r.n_heads is not None and r.ffn_dim is not None and r.n_layers:
        return ((r.n_heads, r.ffn_dim),) * r.n_layers
    return None


def value_field(recs: list[records.Record]) -> str:
    """instructions_per_inference when the records count instructions (emulated ARM), else latency_ms_p50."""
    return (
        "instructions_per_inference"
        if any(r.instructions_per_inference for r in recs)
        else "latency_ms_p50"
    )


def points(
    recs: list[records.Record],
    device: str,
    runtime: str,
    threads: int,
    seq_len: int,
    params_total: int | None = None,
    machine: str | None = None,
    value: str | None = None,
    here: str | None = None,
    workload: str = "synthetic",
) -> list[Point]:
    """The measured points of one (device, runtime, threads, seq_len) [, architecture = params_total, machine],
    one per sub-network (the newest record by timestamp_utc; file order among equal or missing stamps). ValueError
    naming the key when there are none, a distinct one naming the machines found (and `here`, this machine's
    fingerprint) when only other machines measured it, one naming the other architecture when only another model's
    records match, and one naming the architectures (full-model params) when records of several would be pooled."""
    key = [
        r
        for r in recs
        if r.kind == "latency"
        and r.status == "ok"
        and r.family == "dynabert"
        and r.device == device
        and r.runtime == runtime
        and r.threads == threads
        and r.seq_len == seq_len
        and r.batch_size in (None, 1)
        and condition(r)
        == workload  # one fit per workload (bench.workload.condition), never pooled
    ]
    cell = [r for r in key if params_total is None or r.params_total == params_total]
    sel = [r for r in cell if machine is None or r.machine_fingerprint == machine]
    if cell and not sel:
        raise ValueError(
            other_machines_only(
                cell,
                machine,
                here,
                f"device {device!r}, runtime {runtime!r}, threads {threads}, seq {seq_len}",
            )
        )
    archs = sorted({r.params_total for r in sel}, key=lambda n: n or 0)
    if len(archs) > 1:
        names = ", ".join(
            f"{n or 0:,} ({', '.join(sorted({r.model_id for r in sel if r.params_total == n}))})"
            for n in archs
        )
        raise ValueError(
            f"the records hold latencies of {len(archs)} architectures (full-model params, models: "
            f"{names}); a predictor is fitted on one: pass --params-total N"
        )
    machines = sorted({r.machine_fingerprint or "unknown" for r in sel})
    if len(machines) > 1:
        raise ValueError(
            f"the records hold latencies of {len(machines)} machines ({', '.join(machines)}); a "
            f"predictor is fitted on one machine's: pass --machine FINGERPRINT"
        )
    value = value or value_field(sel)
    newest_last = sorted(
        sel, key=lambda r: r.timestamp_utc or ""
    )  # stable: file order among equal stamps
    latest = {
        r.subnet_id: r
        for r in newest_last
        if getattr(r, value) is not None
        and layers_of(r) is not None
        and r.flops_with_attention is not None
    }
    out = [
        Point(
            r.subnet_id,
            layers_of(r),
            float(r.flops_with_attention),
            float(r.params or 0),
            float(getattr(r, value)),
        )
        for r in latest.values()
    ]
    others = sorted({r.params_total for r in key if r.params_total not in (None, params_total)})
    if not out and params_total and others:
        models = sorted({r.model_id for r in key if r.params_total in others})
        raise ValueError(
            f"the records of device {device!r}, runtime {runtime!r}, threads {threads}, seq {seq_len} "
            f"measure another architecture ({', '.join(f'{n:,}' for n in others)} params; model(s) "
            f"{', '.join(models)}), not this one ({params_total:,} params): latency depends on the "
            "architecture; measure sub-networks of this model first (python -m bench.predictor sample "
            "--model CK --out subnets.json, then python -m bench.sweep --model CK --subnets subnets.json)"
        )
    if not out:
        raise ValueError(
            f"no measured {value} for device {device!r}, runtime {runtime!r}, threads {threads}, seq "
            f"{seq_len}"
            + (f", architecture of {params_total:,} params" if params_total else "")
            + " in the records"
            + measured_groups(recs)
            + "; measure sub-networks first (python -m bench.sweep --subnets FILE)"
        )
    return sorted(out, key=lambda p: p.subnet_id)


def measured_groups(recs: list[records.Record]) -> str:
    """'(they hold: device local-cpu, runtime onnxruntime, threads 1, seq 128: 60 sub-networks; ...)': what the
    records do measure, so a flag that matches nothing can be corrected; '' when they hold no latency records."""
    groups: dict[tuple, set] = {}
    for r in recs:
        if r.kind == "latency" and r.status == "ok" and r.family == "dynabert":
            groups.setdefault((r.device, r.runtime, r.threads, r.seq_len), set()).add(r.subnet_id)
    if not groups:
        return " (they hold no measured DynaBERT sub-network)"
    return (
        " (they hold: "
        + "; ".join(
            f"device {d}, runtime {rt}, threads {t}, seq {q}: {len(ids)} sub-network(s)"
            for (d, rt, t, q), ids in sorted(groups.items(), key=str)
        )
        + ")"
    )


def machine_counts(recs: list[records.Record]) -> str:
    """'abc123 (12 records), def456 (3 records)': the measuring machines of some records."""
    counts: dict[str, int] = {}
    for r in recs:
        counts[r.machine_fingerprint or "unknown"] = (
            counts.get(r.machine_fingerprint or "unknown", 0) + 1
        )
    return ", ".join(f"{m} ({n} record{'s' * (n != 1)})" for m, n in sorted(counts.items()))


def other_machines_only(
    cell: list[records.Record], machine: str | None, here: str | None, key: str
) -> str:
    """The message when the records measure `key` only on machines other than the one asked for."""
    asked = (
        f"this machine ({here})"
        if machine == here
        else f"machine {machine}" + (f" (this machine is {here})" if here else "")
    )
    other = "" if machine == here else " (bench.predictor fit: or --machine with one of those)"
    return (
        f"the records hold latencies for {key} only from machine(s) {machine_counts(cell)}, none from {asked}; "
        f"latency is a property of the machine, so a predictor is fitted on the one it predicts: measure "
        f"sub-networks on {asked.split(' (')[0]} (python -m bench.predictor sample --model MODEL --out "
        f"subnets.json, then python -m bench.sweep --model MODEL --subnets subnets.json --results FILE there)"
        f"{other}"
    )


def _wls(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares on relative error: minimise sum(((x @ c) - y) / y)^2 (min-norm when x is rank-deficient)."""
    w = 1.0 / y
    return np.linalg.lstsq(x * w[:, None], y * w, rcond=None)[0]


@dataclass
class Predictor:
    """A fitted model: `kind` (one of MODELS) and its coefficients; predict(points) -> values."""

    kind: str
    coef: list[float] = field(default_factory=list)
    heads_values: list[int] = field(default_factory=list)  # lookup: the table's keys
    ffn_values: list[int] = field(default_factory=list)

    def features(self, pts: list[Point]) -> np.ndarray:
        if self.kind == "params":  # memory: fixed + bytes of the weights
            return np.array([[1.0, p.params] for p in pts])
        if self.kind == "flops":
            return np.array([[p.flops] for p in pts])
        if self.kind == "linear":
            return np.array(
                [
                    [1.0, len(p.layers), sum(h for h, _ in p.layers), sum(f for _, f in p.layers)]
                    for p in pts
                ]
            )
        return np.array(
            [
                [
                    1.0,
                    *_counts([h for h, _ in p.layers], self.heads_values),
                    *_counts([f for _, f in p.layers], self.ffn_values),
                ]
                for p in pts
            ]
        )

    def fit(self, pts: list[Point]) -> Predictor:
        if self.kind not in (*MODELS, "params"):
            raise ValueError(
                f"unknown predictor {self.kind!r}; one of {', '.join(MODELS)} (or params, for memory)"
            )
        if self.kind == "lookup":
            self.heads_values = sorted({h for p in pts for h, _ in p.layers})
            self.ffn_values = sorted({f for p in pts for _, f in p.layers})
        self.coef = _wls(self.features(pts), np.array([p.value for p in pts])).tolist()
        return self

    def predict(self, pts: list[Point]) -> np.ndarray:
        return self.features(pts) @ np.array(self.coef)

    def predict_one(
        self, layers: tuple[tuple[int, int], ...], flops: float, params: float
    ) -> float:
        return float(self.predict([Point("", layers, flops, params, 1.0)])[0])

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "coef": self.coef,
            "heads_values": self.heads_values,
            "ffn_values": self.ffn_values,
        }


def _counts(values: list[int], keys: list[int]) -> list[float]:
    """How many layers take each table key; a value between two keys is split between them (linear
    interpolation of the table), one beyond the ends goes to the nearest key scaled by value/key."""
    out = [0.0] * len(keys)
    for v in values:
        j = int(np.searchsorted(keys, v))
        if j < len(keys) and keys[j] == v:
            out[j] += 1
        elif j == 0 or j == len(keys):
            k = 0 if j == 0 else len(keys) - 1
            out[k] += v / keys[k]
        else:
            t = (v - keys[j - 1]) / (keys[j] - keys[j - 1])
            out[j - 1] += 1 - t
            out[j] += t
    return out


def metrics(predicted: np.ndarray, measured: np.ndarray) -> dict:
    """MAPE, shares within +-10% and +-5% (all fractions: 0.041 is 4.1%), Spearman rank correlation (scipy), n.
    Spearman is None (undefined) with fewer than 3 points or when either side is constant (all values equal)."""
    from scipy.stats import spearmanr

    rel = np.abs(predicted - measured) / measured
    eps = 1e-12  # 2.2 vs 2.0 is within 10%, whatever the last bit of the division says
    ranked = len(measured) > 2 and np.ptp(predicted) > 0 and np.ptp(measured) > 0
    rho = float(spearmanr(predicted, measured).statistic) if ranked else None
    return {
        "n": int(len(measured)),
        "mape": float(rel.mean()),
        "within_10pct": float((rel <= 0.10 + eps).mean()),
        "within_5pct": float((rel <= 0.05 + eps).mean()),
        "spearman": rho,
    }


def evaluate(model: Predictor, heldout: list[Point]) -> dict:
    return metrics(model.predict(heldout), np.array([p.value for p in heldout]))


def cross_validated_mape(kind: str, pts: list[Point], folds: int = 5, seed: int = 0) -> float:
    """Mean held-out MAPE of `kind` over `folds` splits of the training points (leave-one-out when fewer)."""
    order = list(range(len(pts)))
    random.Random(seed).shuffle(order)
    folds = max(2, min(folds, len(pts)))
    errors = []
    for k in range(folds):
        test = [pts[i] for i in order[k::folds]]
        train = [pts[i] for j, i in enumerate(order) if j % folds != k]
        errors.append(evaluate(Predictor(kind).fit(train), test)["mape"])
    return float(np.mean(errors))


def choose(pts: list[Point], kinds: tuple[str, ...] = MODELS) -> tuple[Predictor, dict[str, float]]:
    """The model with the lowest cross-validated MAPE, fitted on all `pts`; and every model's CV MAPE."""
    if len(pts) < 4:
        raise ValueError(
            f"{plural(len(pts), 'measured point')}; a predictor needs at least 4 (measure more "
            "sub-networks)"
        )
    cv = {k: cross_validated_mape(k, pts) for k in kinds}
    best = min(cv, key=cv.get)
    return Predictor(best).fit(pts), cv


@dataclass
class Calibration:
    """A fitted predictor moved to the machine's speed *now*: measured ~ scale * predicted + offset_ms.

    A shared or thermally throttled machine runs the same graph at different speeds from one hour to the next (this
    project's reference VM: the full MiniLM 23.7 ms one evening, 35.0 ms the next morning, small sub-networks less
    slowed than large ones). Fitted by `recalibrate` on sub-networks measured in the same sitting as the answer;
    mape_before / mape_after: the predictor's error on those points without and with the calibration (fractions).
    """

    scale: float = 1.0
    offset_ms: float = 0.0
    n: int = 0
    mape_before: float | None = None
    mape_after: float | None = None
    floor_ratio: float = (
        0.0  # never predicts faster than the fastest measured/predicted ratio seen: > 0 for > 0
    )

    def __call__(self, predicted):
        return np.maximum(self.scale * predicted + self.offset_ms, self.floor_ratio * predicted)

    def to_json(self) -> dict:
        return {
            "scale": self.scale,
            "offset_ms": self.offset_ms,
            "n": self.n,
            "mape_before": self.mape_before,
            "mape_after": self.mape_after,
            "floor_ratio": self.floor_ratio,
        }


def recalibrate(predicted: list[float], measured: list[float]) -> Calibration:
    """measured ~ scale * predicted + offset by least squares on relative error (as the predictors' own fits); with
    fewer than 3 points, one predicted value, or a fit that is not increasing or predicts <= 0 on the points: the
    median ratio measured / predicted alone (offset 0). A negative offset would predict <= 0 ms for sub-networks
    smaller than any measured; so the calibrated value is floored at the smallest measured / predicted ratio of the
    points (`floor_ratio`). ValueError on no points or non-positive values."""
    p, m = np.asarray(predicted, dtype=float), np.asarray(measured, dtype=float)
    if len(p) == 0 or len(p) != len(m) or not (np.all(p > 0) and np.all(m > 0)):
        raise ValueError(
            f"recalibration needs pairs of positive predicted and measured values, got {len(p)} "
            f"predicted and {len(m)} measured"
        )
    scale, offset = float(np.median(m / p)), 0.0
    if len(p) >= 3 and np.ptp(p) > 0:
        a, b = _wls(np.column_stack([p, np.ones_like(p)]), m)
        if a > 0 and np.all(a * p + b > 0):
            scale, offset = float(a), float(b)
    cal = Calibration(scale, offset, len(p), floor_ratio=float(np.min(m / p)))
    cal.mape_before, cal.mape_after = metrics(p, m)["mape"], metrics(cal(p), m)["mape"]
    return cal


def split(pts: list[Point], heldout_frac: float, seed: int = 0) -> tuple[list[Point], list[Point]]:
    """(train, held out): a seeded random split of the points."""
    order = list(range(len(pts)))
    random.Random(seed).shuffle(order)
    n_held = max(1, round(heldout_frac * len(pts)))
    return [pts[i] for i in order[n_held:]], [pts[i] for i in order[:n_held]]


def split_to_fit(
    pts: list[Point], heldout_frac: float, seed: int = 0, fix: str = ""
) -> tuple[list, list]:
    """split(), or ValueError counting the measured, held-out and training points when fewer than 4 are left to fit
    (`fix`: a further way out, said after 'measure more sub-networks')."""
    train, heldout = split(pts, heldout_frac, seed)
    if len(train) < 4:
        raise ValueError(
            f"{plural(len(pts), 'measured point')}: {len(heldout)} held out leaves {len(train)} to fit, "
            f"and a predictor needs at least 4 (measure more sub-networks{fix})"
        )
    return train, heldout


def report(train: list[Point], heldout: list[Point], sizes: tuple[int, ...] = ()) -> dict:
    """Every model's held-out metrics, the one `choose` picks, and (sizes) its held-out error when fitted on only
    the first n training points: how many measured points it needs."""
    chosen, cv = choose(train)
    out = {
        "n_train": len(train),
        "n_heldout": len(heldout),
        "chosen": chosen.kind,
        "cv_mape": cv,
        "models": {k: evaluate(Predictor(k).fit(train), heldout) for k in MODELS},
        "predictor": chosen.to_json(),
    }
    curve = []
    for n in sizes:
        if 4 <= n <= len(train):
            model, _ = choose(train[:n])
            curve.append({"n_train": n, "chosen": model.kind, **evaluate(model, heldout)})
    out["learning_curve"] = curve
    return out


def sample(size, n: int, seed: int, widths: tuple[float, ...]) -> list:
    """n distinct random per-layer sub-networks of the search space (bench.search.space_for), for measuring; every
    one of them, without drawing, when the space holds no more than n (space_size). Raises ValueError for n < 1."""
    from bench.search import random_spec, space_for, space_size

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"--n must be a whole number >= 1 (sub-networks to draw), got {n!r}")
    space, rng, out = space_for(size, widths), random.Random(seed), {}
    if n >= space_size(space):
        return all_specs(space)
    for _ in range(100 * n):
        spec = random_spec(space, rng)
        out.setdefault(spec.subnet_id, spec)
        if len(out) == n:
            break
    return list(out.values())


def all_specs(space) -> list:
    """Every sub-network of a bench.search.Space (space_size of them), in a fixed order."""
    layers = product(space.layer_options(), repeat=space.num_layers)
    return [
        LayerwiseSpec(tuple(h for h, _ in ls), tuple(f for _, f in ls))
        for ls in layers
        if sum(1 for h, _ in ls if h) >= space.min_layers
    ]


def cmd_sample(opts: SampleOptions) -> int:
    from bench.artifacts import model_size
    from bench.search import space_for, space_size

    if opts.n < 1:
        raise ValueError(f"--n must be a whole number >= 1 (sub-networks to draw), got {opts.n}")
    records.check_not_a_store(opts.out, "--out")
    widths = parse_mults(opts.widths, "widths")
    if len(set(widths)) != len(widths):
        raise ValueError(f"--widths {opts.widths}: a width given twice; give each once")
    size = model_size(
        opts.model
    )  # a preset, a model directory or a training output, as bench.sweep takes
    check_mults(widths, "width", size, opts.model, "--widths")
    specs = sample(size, opts.n, opts.seed, widths)
    write_subnets(opts.out, specs, size)
    total = space_size(space_for(size, widths))
    layers = plural(size.num_layers, "layer")
    short = (
        f" (asked for {opts.n}; the space of --widths {opts.widths} on {layers} holds only "
        f"{total}: all of them)"
        if len(specs) < opts.n and len(specs) == total
        else f" (asked for {opts.n}; {len(specs)} distinct found in {100 * opts.n} draws of {total})"
        if len(specs) < opts.n
        else ""
    )
    print(
        f"{len(specs)} random per-layer sub-networks of {opts.model} -> {opts.out}{short} "
        f"(measure: python -m bench.sweep --model {opts.model} --subnets {opts.out} ...)"
    )
    return 0


def cmd_fit(opts: FitOptions) -> int:
    from records.machine import this_machine

    if opts.json:
        records.check_not_a_store(opts.json, "--json", tuple(opts.results))
    recs = [r for path in opts.results for r in records.read(path)]
    here = this_machine().fingerprint
    pts = points(
        recs,
        opts.device,
        opts.runtime,
        opts.threads,
        opts.seq_len,
        opts.params_total,
        opts.machine,
        here=here,
        workload=opts.workload,
    )
    print(machine_line(recs, opts, here))
    if not 0 < opts.heldout_frac < 1:  # also refuses nan
        raise ValueError(
            f"--heldout-frac must be a share between 0 and 1 (e.g. 0.3), got {opts.heldout_frac}"
        )
    sizes = parse_sizes(opts.curve)
    train, heldout = split_to_fit(pts, opts.heldout_frac, opts.seed, ", or lower --heldout-frac")
    sizes, dropped = (
        tuple(sorted({n for n in sizes if 4 <= n <= len(train)})),
        sorted({n for n in sizes if not 4 <= n <= len(train)}),
    )
    if dropped:
        print(
            f"--curve: {', '.join(map(str, dropped))} left out (a curve point fits on 4 to the {len(train)} "
            "training points)"
        )
    out = report(train, heldout, sizes)
    fitted = [
        r
        for r in recs
        if r.kind == "latency"
        and r.device == opts.device
        and r.runtime == opts.runtime
        and r.threads == opts.threads
        and r.seq_len == opts.seq_len
    ]
    out.update(
        device=opts.device,
        runtime=opts.runtime,
        threads=opts.threads,
        seq_len=opts.seq_len,
        workload=opts.workload,  # one fit per workload: its held-out error is this workload's
        value=value_field(fitted),
        machine_fingerprint=opts.machine
        or next((r.machine_fingerprint for r in fitted if r.machine_fingerprint), None),
    )
    print(
        f"{opts.device} / {opts.runtime} / {opts.threads} thread(s) / seq {opts.seq_len}: {len(train)} training, "
        f"{len(heldout)} held-out configurations; chosen by cross-validated MAPE: {out['chosen']}"
    )
    for kind, m in out["models"].items():
        print(
            f"  {kind:7s} held out: MAPE {m['mape']:.2%}, within 10% {m['within_10pct']:.0%}, within 5% "
            f"{m['within_5pct']:.0%}, Spearman {fmt_rho(m['spearman'])}"
        )
    for row in out["learning_curve"]:
        print(f"  fitted on {row['n_train']:3d}: {row['chosen']}, held-out MAPE {row['mape']:.2%}")
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


def fmt_rho(rho: float | None) -> str:
    """A Spearman correlation for text: '0.912', or 'n/a' when undefined (None: constant values or < 3 points)."""
    return "n/a" if rho is None else f"{rho:.3f}"


def plural(n: int, word: str) -> str:
    """'1 layer', '2 layers': a count with its noun (English -s plural)."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def parse_sizes(text: str) -> tuple[int, ...]:
    """--curve '5,10,20' -> (5, 10, 20); ValueError naming the flag otherwise."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not all(p.isdigit() for p in parts):
        raise ValueError(
            f"--curve takes training-set sizes as whole numbers separated by commas (e.g. 5,10,20), "
            f"got {text!r}"
        )
    return tuple(int(p) for p in parts)


def machine_line(recs: list[records.Record], opts: FitOptions, here: str) -> str:
    """Which machine measured the fitted cell, and whether it is this one (a predictor describes its machine)."""
    found = sorted(
        {
            r.machine_fingerprint or "unknown"
            for r in recs
            if r.kind == "latency"
            and r.status == "ok"
            and r.device == opts.device
            and r.runtime == opts.runtime
            and r.threads == opts.threads
            and r.seq_len == opts.seq_len
            and opts.machine in (None, r.machine_fingerprint)
        }
    )
    if found == [here]:
        return f"measured on this machine ({here})"
    return (
        f"measured on machine {', '.join(found)}, not this one ({here}): the predictor describes that machine; "
        f"to predict this one, measure sub-networks here"
    )


RECORDS = "latency records"


@dataclass(kw_only=True)
class FitOptions:
    """`python -m bench.predictor fit`: which latency records, and how the fit is checked."""

    results: list[str] = option(help="latency records (repeatable)", group=RECORDS)
    device: str = option("local-cpu", help="device profile of the records", group=RECORDS)
    runtime: str = option("onnxruntime", help="runtime of the records", group=RECORDS)
    threads: int = option(1, help="runtime threads of the records", group=RECORDS)
    seq_len: int = option(128, help="sequence length of the records", group=RECORDS)
    workload: str = option(
        "synthetic",
        help="fit one workload's records (bench.workload.condition label, e.g. 'sst2/dev#HASH "
        "singlestream dynamic'); workloads are never pooled in one fit",
        group=RECORDS,
    )
    machine: str | None = option(
        None,
        help="machine fingerprint (records of several machines are never pooled)",
        group=RECORDS,
    )
    params_total: int | None = option(
        None,
        help="the architecture, as its full model's parameter count (records of several models are "
        "never pooled)",
        group=RECORDS,
    )
    heldout_frac: float = option(0.3, help="share of the points held out", group="fit")
    seed: int = option(0, help="seed of the held-out split", group="fit")
    curve: str = option(
        "5,10,15,20,30,40", help="training-set sizes for the learning curve", group="fit"
    )
    json: str | None = option(None, help="write the report here as JSON", group="output")


@dataclass(kw_only=True)
class SampleOptions:
    """`python -m bench.predictor sample`: random per-layer sub-networks of one architecture."""

    model: str = option(
        help="preset, checkpoint, training output or Hugging Face directory (its shape only)",
        group="model",
    )
    n: int = option(48, help="sub-networks drawn", group="sample")
    seed: int = option(0, help="seed of the draw", group="sample")
    widths: str = option(
        "1.0,0.75,0.5,0.25", help="per-layer head/FFN choices as fractions", group="sample"
    )
    out: str = option(help="the --subnets JSON file written", group="output")


def build_parser() -> argparse.ArgumentParser:
    ap = argfields.command_parser(
        "python -m bench.predictor",
        "Latency predictor of per-layer sub-networks: sample | fit.",
        "python -m bench.predictor sample --model minilm-l6 --out subnets.json\n"
        "python -m bench.predictor fit --results results.jsonl",
    )
    sub = ap.add_subparsers(dest="command", required=True)
    argfields.add_command(
        sub,
        "fit",
        FitOptions,
        cmd_fit,
        "fit on measured records, report held-out error against the FLOPs baseline",
        "python -m bench.predictor fit --results results.jsonl --runtime onnxruntime",
    )
    argfields.add_command(
        sub,
        "sample",
        SampleOptions,
        cmd_sample,
        "random per-layer sub-networks to measure, as a --subnets file",
        "python -m bench.predictor sample --model minilm-l6 --n 48 --out subnets.json",
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    opts, run = argfields.parse(build_parser(), argv)
    try:
        return run(opts)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(
            f"error: cannot write {err.filename}: {err.strerror} (give --out / --json a writable path)",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
