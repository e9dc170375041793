"""`python -m bench.pareto search`: the budgeted search on a real checkpoint, from predicted to measured.

1. The latency predictor of (device, runtime, threads, seq len) is fitted on this machine's latency records of the
   same architecture (bench/predictor.py; measure random per-layer sub-networks first: `bench.predictor sample`,
   then `bench.sweep --subnets`). With --max-memory-mb, peak RSS is predicted from the parameter count the same way.
2. Calibration (--calibrate, on by default): the grid is timed now and the predictor moved to the machine's speed of
   this sitting (bench.predictor.recalibrate: measured ~ scale x predicted + offset). A shared VM's speed drifts by
   tens of percent between days; a predictor fitted on another day's records otherwise misplaces every budget.
3. For each latency budget, bench/search.py searches per-layer sub-networks by accuracy on a fixed dev subset
   (the dynamic model) among those predicted to fit (budget x (1 - margin)); the grid seeds the population.
4. The best few, and the grid, are scored on the full dev set (accuracy records) and timed for real *in one sweep*
   (bench.sweep with resume off, re-measured whatever is stored: compared cells share a sitting). Everything the
   search measures is appended to its own store, --out/search-records.jsonl; the --results inputs are only read.
   The answer per budget is the most accurate sub-network whose *measured* latency (and peak RSS) fits, beside the
   best grid sub-network of the same sweep under the same budget.
5. Budgets where no candidate fits once measured are searched again (up to --rounds in all) with the predictor
   recalibrated on everything that sweep timed, and re-timed with the grid in a new sweep.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import records
from argfields import option
from bench import predictor as pred
from bench.search import Scorer, SearchConfig, search, space_for
from devices.request import RunRequest
from dynabert.config import SubnetSpec, check_grid, parse_mults
from dynabert.flops import cost
from dynabert.options import TaskOptions
from dynabert.subnet import canonical, layerwise
from records.provenance import this_run

OWN_STORE = "search-records.jsonl"  # the search's own results store, in its --out folder


def fitted_predictors(recs, opts: SearchOptions, size, machine: str):
    """(latency predictor, its CV errors, n points, memory predictor or None) from this machine's records."""
    total = cost(size, SubnetSpec()).params_total
    pts = pred.points(
        recs, opts.device, opts.runtime, opts.threads, opts.seq_len, total, machine, here=machine
    )
    if (
        pred.value_field([r for r in recs if r.device == opts.device])
        == "instructions_per_inference"
    ):
        raise ValueError(
            f"the records of device {opts.device!r} count emulated instructions, not time: a latency "
            "budget in ms cannot be checked on them; search on a timed device"
        )
    latency, cv = pred.choose(pts)
    memory = None
    if opts.max_memory_mb is not None:
        mem = pred.points(
            recs,
            opts.device,
            opts.runtime,
            opts.threads,
            opts.seq_len,
            total,
            machine,
            "peak_rss_mb",
            here=machine,
        )
        if len(mem) < 4:
            raise ValueError(
                f"{len(mem)} sub-network(s) with a measured peak RSS increase; --max-memory-mb needs "
                f"at least 4 to fit its predictor (measure more: python -m bench.sweep --subnets FILE)"
            )
        memory = pred.Predictor("params").fit(mem)
    return latency, cv, len(pts), memory


def predicted(model: pred.Predictor, spec, size, seq_len: int) -> float:
    c = cost(size, spec, seq_len)
    return model.predict_one(
        tuple(zip(c.layer_heads, c.layer_ffn)), c.flops_with_attention, c.params_active
    )


def subset_accuracy(ev, n: int, seed: int, batch_size: int):
    """Accuracy (first metric, a fraction) of a spec on a fixed random `n`-example subset of the dev split."""
    from dynabert.evaluate import score

    order = list(range(len(ev.features)))
    random.Random(seed).shuffle(order)
    sub = replace(ev, features=[ev.features[i] for i in sorted(order[:n])])
    return lambda spec: next(iter(score(sub, spec, batch_size)[0].values()))


def full_accuracy(
    ev, specs, known: list, store: Path, sha: str, opts: SearchOptions
) -> dict[str, float]:
    """{subnet_id: first metric on the full dev split at --seq-len (encode truncates to it)}; taken from the `known`
    records (the inputs) or the search's own store when there, else scored and appended to the search's store."""
    from dynabert.evaluate import accuracy_record, score

    own = records.read(store) if store.is_file() else []
    have = {
        r.subnet_id: r.metric_value
        for r in [*known, *own]
        if r.kind == "accuracy"
        and r.checkpoint_sha == sha
        and r.task == ev.task_key
        and r.runtime is None
        and r.split == ev.split_label()
        and r.seq_len == opts.seq_len
        and r.family == "dynabert"
        and r.metric_value is not None
    }
    prov = this_run()
    for spec in specs:
        if spec.subnet_id not in have:
            metrics, reason = score(ev, spec, opts.batch_size)
            records.append(
                store,
                accuracy_record(ev, spec, metrics, reason, opts.seq_len, "dynabert", sha, prov),
            )
            have[spec.subnet_id] = next(iter(metrics.values())) if reason is None else None
    return {s.subnet_id: have[s.subnet_id] for s in specs}


def measure_now(
    ev, specs, store: Path, sha: str, opts: SearchOptions, label: str
) -> dict[str, records.Record]:
    """Latency records of `specs` timed now, in one sweep of interleaved fresh processes, whatever the store already
    holds (resume off): cells compared with each other, or used to calibrate, must share a sitting of the machine.
    Every record is appended to the search's own `store` as it finishes (nothing timed is lost); returns this
    sweep's ok records by subnet id."""
    from bench.sweep import SweepConfig, run_sweep

    print(f"{label}: timing {len(specs)} sub-network(s) now, in one sweep", file=sys.stderr)
    fresh = run_sweep(
        SweepConfig(
            models=[str(ev.model_dir)],
            results=str(store),
            runtimes=(opts.runtime,),
            threads=(opts.threads,),
            seq_len=opts.seq_len,
            devices=(opts.device,),
            task=ev.task_key,
            subnets=tuple(specs),
            min_time_s=opts.min_time,
            depths=parse_mults(opts.depths, "depths"),  # ids canonical as the search's
            processes=opts.processes,
            resume=False,
            cache=Path(opts.cache_dir) if opts.cache_dir else None,
        )
    )
    ids = {s.subnet_id for s in specs}
    ok = {
        r.subnet_id: r
        for r in fresh
        if r.kind == "latency"
        and r.status == "ok"
        and r.subnet_id in ids
        and r.checkpoint_sha == sha
        and r.latency_ms_p50 is not None
    }
    if not ok:
        errors = sorted({(r.error or r.status) for r in fresh if r.status != "ok"})
        raise ValueError(
            f"{label}: none of the {len(specs)} sub-network(s) could be timed on {opts.device} / "
            f"{opts.runtime}"
            + (f" ({'; '.join(e[:200] for e in errors[:2])})" if errors else "")
            + f"; their failed records are in {str(store)!r}. Fix the device or runtime, then run again"
        )
    return ok


def calibrated(latency_model, specs, measured: dict, size, opts: SearchOptions):
    """bench.predictor.recalibrate of the predictor on the sub-networks in `measured` (timed this sitting); those it
    predicts at <= 0 ms (a fit extrapolated below its measured sizes) are left out, named. ValueError when none is
    left."""
    pairs, bad = [], []
    for s in specs:
        if s.subnet_id in measured:
            p = predicted(latency_model, s, size, opts.seq_len)
            (pairs if p > 0 else bad).append((p, measured[s.subnet_id].latency_ms_p50, s.subnet_id))
    if bad:
        print(
            f"warning: the fitted {latency_model.kind} predictor gives <= 0 ms for {', '.join(i for *_, i in bad)}: "
            "left out of the calibration (measure sub-networks as small as these: bench.predictor sample)",
            file=sys.stderr,
        )
    if not pairs:
        raise ValueError(
            f"the fitted {latency_model.kind} predictor gives <= 0 ms for every timed sub-network: it "
            "cannot be calibrated; measure smaller sub-networks (python -m bench.predictor sample, then "
            "bench.sweep --subnets) and search again"
        )
    return pred.recalibrate([p for p, *_ in pairs], [m for _, m, _ in pairs])


def best_measured(
    ids, accuracy: dict, measured: dict, budget: float, max_mb: float | None
) -> str | None:
    """The most accurate id whose measured median latency (and peak RSS increase) fits; None when none does. A
    sub-network whose memory was not measured never fits a memory budget."""
    fits = [
        i
        for i in ids
        if i in measured
        and accuracy.get(i) is not None
        and measured[i].latency_ms_p50 <= budget
        and (
            max_mb is None
            or (measured[i].peak_rss_mb is not None and measured[i].peak_rss_mb <= max_mb)
        )
    ]
    return max(fits, key=lambda i: (accuracy[i], -measured[i].latency_ms_p50), default=None)


def grid_specs(opts: SearchOptions, size) -> list[SubnetSpec]:
    """The uniform grid of --widths x --depths: the search's seeds and the comparison it must beat."""
    return check_grid(
        parse_mults(opts.widths, "widths"),
        parse_mults(opts.depths, "depths"),
        size,
        opts.checkpoint,
    )


def search_budgets(
    budgets, opts: SearchOptions, size, latency, memory_model, accuracy
) -> dict[float, list]:
    """{budget: the top --final candidates (Scored) whose `latency(spec)` (ms, calibrated) fits}, one search per
    budget; `accuracy(spec)` is the memoised dev-subset score."""
    cache: dict = {}
    space = space_for(size, parse_mults(opts.widths, "widths"))
    grid = [layerwise(s, size) for s in grid_specs(opts, size)]
    cfg = SearchConfig(
        strategy=opts.strategy,
        population=opts.population,
        generations=opts.generations,
        seed=opts.seed,
    )
    out = {}
    for budget in budgets:
        fits_memory = (
            (lambda s: True)
            if memory_model is None
            else (
                lambda s: (
                    predicted(memory_model, s, size, opts.seq_len)
                    <= opts.max_memory_mb * (1 - opts.margin)
                )
            )
        )
        scorer = Scorer(accuracy, latency, budget * (1 - opts.margin), fits_memory, cache)
        out[budget] = search(space, scorer, cfg, start=grid)[: opts.final]
        found = out[budget][0] if out[budget] else None
        print(
            f"budget {budget:g} ms: {len(cache)} candidates scored so far; best predicted to fit: "
            + (
                f"{found.spec.subnet_id} (subset accuracy {found.accuracy:.4f}, predicted {found.predicted:.2f} ms)"
                if found
                else "none"
            ),
            file=sys.stderr,
        )
    return out


def memoised(fn):
    """fn(spec) cached by subnet id: a candidate's subset accuracy is scored once over every budget and round."""
    seen: dict = {}
    return lambda spec: (
        seen[spec.subnet_id]
        if spec.subnet_id in seen
        else seen.setdefault(spec.subnet_id, fn(spec))
    )


def budget_rows(
    found: dict, grid_ids: list[str], acc: dict, measured: dict, size, opts: SearchOptions
) -> list[dict]:
    """One summary row per budget, all from one sweep: the search's best measured fit among the candidates of
    every budget (`searched_*`; a candidate found for 10 ms that measures 8 ms is as good an answer at 20 ms; each
    row's `candidates` are its own search's), the best measured grid fit (`grid_best_*`), and the answer a user
    takes (`answer_*`): the more accurate of the two (the faster on a tie), `answer_from` saying which. The grid is
    always timed and scored beside the candidates, so the answer is never less accurate than the grid's best."""
    depths = parse_mults(opts.depths, "depths")
    predicted_ms = {
        canonical(c.spec, size, depths).subnet_id: c.predicted for cs in found.values() for c in cs
    }
    every = list(predicted_ms)
    rows = []
    for budget, cands in found.items():
        ids = [canonical(c.spec, size, depths).subnet_id for c in cands]
        best, grid, answer = (
            best_measured(i, acc, measured, budget, opts.max_memory_mb)
            for i in (every, grid_ids, every + grid_ids)
        )
        row = {
            "latency_budget_ms": budget,
            "grid_best_subnet": grid,
            "grid_best_accuracy": acc.get(grid) if grid else None,
            "grid_best_latency_measured_ms": measured[grid].latency_ms_p50 if grid else None,
            "searched_subnet": best,
            "searched_accuracy": acc.get(best) if best else None,
            "searched_latency_measured_ms": measured[best].latency_ms_p50 if best else None,
            "searched_latency_predicted_ms": predicted_ms.get(best),
            "config": measured[best].subnet if best else None,
            "answer_subnet": answer,
            "answer_accuracy": acc.get(answer) if answer else None,
            "answer_latency_measured_ms": measured[answer].latency_ms_p50 if answer else None,
            "answer_from": None if answer is None else "grid" if answer in grid_ids else "search",
            "answer_process_medians_ms": (measured[answer].env or {}).get("process_medians_ms")
            if answer
            else None,
            "candidates": [
                {
                    "subnet": i,
                    "subset_accuracy": c.accuracy,
                    "predicted_ms": c.predicted,
                    "accuracy": acc.get(i),
                    "measured_ms": measured[i].latency_ms_p50 if i in measured else None,
                }
                for c, i in zip(cands, ids)
            ],
        }
        rows.append(row)
    return rows


def run_fields(ev, opts: SearchOptions, sha: str, machine: str, measured: dict, argv) -> dict:
    """search.json's description of the run: checkpoint, task, where and how it was timed, when, and the command."""
    from bench.report import portable_command, portable_path

    return {
        "checkpoint": portable_path(ev.model_dir),
        "checkpoint_sha": sha,
        "task": ev.task_key,
        "split": ev.split_label(),
        "device": opts.device,
        "runtime": opts.runtime,
        "threads": opts.threads,
        "seq_len": opts.seq_len,
        "machine_fingerprint": machine,
        "max_memory_mb": opts.max_memory_mb,
        "search_examples": min(opts.search_examples, len(ev.features)),
        "margin": opts.margin,
        "command": portable_command(["python", "-m", "bench.pareto", *argv]),
        "measured_utc": window(measured),
        "processes": opts.processes,
        "min_time_s": opts.min_time,
        "load_avg_1min": load_range(measured),
    }


def window(measured: dict) -> list[str] | None:
    """[first, last] timestamp_utc of a sweep's records (each stamped when its cell finished), or None."""
    stamps = sorted(r.timestamp_utc for r in measured.values() if r.timestamp_utc)
    return [stamps[0], stamps[-1]] if stamps else None


def load_range(measured: dict) -> list[float] | None:
    """[min, max] 1-min load average recorded as the sweep's cells finished, or None."""
    loads = [
        r.env["load_avg_1min"]
        for r in measured.values()
        if (r.env or {}).get("load_avg_1min") is not None
    ]
    return [min(loads), max(loads)] if loads else None


def run(opts: SearchOptions, argv: tuple[str, ...] = ("search",)) -> dict:
    """The whole search (module docstring); returns the summary written to --out/search.json."""
    from dynabert.evaluate import prepare, weights_sha
    from records.machine import this_machine

    ev = prepare(opts, opts.seq_len, "--seq-len")
    size, sha, store = ev.dyna.full_size, weights_sha(ev.dyna.hf), own_store(opts.out)
    machine = this_machine().fingerprint
    recs = [
        r for path in opts.results if Path(path).is_file() for r in records.read(path)
    ]  # check_results: read
    latency_model, cv, n_points, memory_model = fitted_predictors(recs, opts, size, machine)
    grid, depths = grid_specs(opts, size), parse_mults(opts.depths, "depths")
    grid_ids = [g.subnet_id for g in grid]
    accuracy = memoised(subset_accuracy(ev, opts.search_examples, opts.seed, opts.batch_size))
    cal, calibrations = pred.Calibration(), []
    if opts.calibrate:
        timed_grid = measure_now(ev, grid, store, sha, opts, "calibration")
        cal = calibrated(latency_model, grid, timed_grid, size, opts)
        calibrations.append(
            {"round": 0, "on": "grid", **cal.to_json(), "measured_utc": window(timed_grid)}
        )
        say_calibration(cal, "the grid")
    found: dict[float, list] = {}
    pending = list(opts.budgets)
    finals: dict = {}
    for rnd in range(1, opts.rounds + 1):
        found.update(
            search_budgets(
                pending,
                opts,
                size,
                lambda s, c=cal: c(predicted(latency_model, s, size, opts.seq_len)),
                memory_model,
                accuracy,
            )
        )
        before, finals = (
            finals,
            {
                s.subnet_id: s
                for s in (canonical(c.spec, size, depths) for b in opts.budgets for c in found[b])
            },
        )
        if rnd > 1 and finals.keys() <= before.keys():
            print(
                f"round {rnd}: the search found no candidate not already timed; stopping (round {rnd - 1}'s sweep "
                "is the answer)",
                file=sys.stderr,
            )
            break
        timed = rnd
        specs = grid + [s for i, s in finals.items() if i not in grid_ids]
        acc = full_accuracy(ev, specs, recs, store, sha, opts)
        measured = measure_now(
            ev, specs, store, sha, opts, f"round {rnd}: the grid and every budget's candidates"
        )
        rows = budget_rows({b: found[b] for b in opts.budgets}, grid_ids, acc, measured, size, opts)
        pending = [row["latency_budget_ms"] for row in rows if row["searched_subnet"] is None]
        if not pending or rnd == opts.rounds:
            break
        try:
            cal = calibrated(latency_model, specs, measured, size, opts)
        except ValueError as err:  # round rnd's finished table is still the answer
            print(f"warning: no round {rnd + 1}: {err}", file=sys.stderr)
            break
        calibrations.append(
            {
                "round": rnd,
                "on": "grid and candidates",
                **cal.to_json(),
                "measured_utc": window(measured),
            }
        )
        say_calibration(
            cal, f"round {rnd}'s sweep, for the {len(pending)} budget(s) no candidate fitted"
        )
    summary = {
        **run_fields(ev, opts, sha, machine, measured, argv),
        "predictor": {"kind": latency_model.kind, "n_train": n_points, "cv_mape": cv},
        "calibration": calibrations,
        "rounds": rnd,
        "timed_round": timed,
        "grid": [
            {
                "subnet": g.subnet_id,
                "accuracy": acc.get(g.subnet_id),
                "measured_ms": measured[g.subnet_id].latency_ms_p50
                if g.subnet_id in measured
                else None,
            }
            for g in grid
        ],
        "budgets": rows,
    }
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "search.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "subnets.json").write_text(
        json.dumps([layerwise(s, size).to_json() for s in finals.values()]) + "\n"
    )
    return summary


def say_calibration(cal, on: str) -> None:
    print(
        f"calibration on {on}, timed now: measured = {cal.scale:.4g} x predicted {cal.offset_ms:+.3g} ms "
        f"(the predictor's MAPE on them {cal.mape_before:.1%} -> {cal.mape_after:.1%})",
        file=sys.stderr,
    )


def own_store(out: str | Path) -> Path:
    """The search's own results store, in its --out folder: every record it measures (accuracy and latency) is
    appended there; its --results inputs are only read."""
    return Path(out) / OWN_STORE


def check_results(paths: list[str], out: str) -> None:
    """Before any model or data loads: the predictor's records must exist, and none of them may be the search's own
    store (which it appends to). ValueError names the file and the fix."""
    for path in paths:
        if Path(path).resolve() == own_store(out).resolve():
            raise ValueError(
                f"--results {path!r} is the search's own store ({OWN_STORE} in --out), which it appends to; "
                "the inputs are only read: copy its records to another file to fit on them, or choose another --out"
            )
        if Path(path).is_file():
            continue
        if Path(path).is_dir():
            records.check_readable(path, "--results")
        raise ValueError(
            f"--results {path!r} does not exist: the search fits its latency predictor on measured "
            f"records of this machine; measure first (python -m bench.predictor sample --model CK --out "
            f"subnets.json, then python -m bench.sweep --model CK --subnets subnets.json --results {path})"
        )


def check_search_flags(opts: SearchOptions) -> None:
    """Before anything loads: the search's own numbers in range, and a device that times (a budget in ms cannot be
    checked on one that counts emulated instructions). ValueError naming the flag."""
    from devices import profiles

    if profiles.get(opts.device).get("kind") == "qemu-arm":
        raise ValueError(
            f"device {opts.device!r} counts emulated instructions, not time: a latency budget in ms cannot "
            "be checked on it; search on a timed device (local-cpu, or a board's ssh/adb profile, e.g. "
            "my-pi)"
        )
    if not 0 <= opts.margin < 1:
        raise ValueError(
            f"--margin must be a share in [0, 1) (the predictor's error allowed for), got {opts.margin}"
        )
    for flag, low in (
        ("population", 1),
        ("generations", 0),
        ("final", 1),
        ("rounds", 1),
        ("search_examples", 1),
        ("processes", 1),
        ("batch_size", 1),
        ("threads", 1),
        ("seq_len", 1),
    ):
        if getattr(opts, flag) < low:
            raise ValueError(
                f"--{flag.replace('_', '-')} must be at least {low}, got {getattr(opts, flag)}"
            )
    if not opts.min_time >= 0:
        raise ValueError(f"--min-time must be >= 0 seconds, got {opts.min_time}")


def check_out(path: str) -> None:
    """Before any model loads: --out a folder, or a path where one can be made (records.check_out_dir, as the
    report's --out), and its search.json / subnets.json not folders, so the finished search is never lost to a
    refusal at the end. ValueError naming the path and the fix."""
    out = records.check_out_dir(path, "--out")
    for name in ("search.json", "subnets.json"):
        if (out / name).is_dir():
            raise ValueError(
                f"--out {path!r}: {(out / name).as_posix()!r} is a folder where the search writes its "
                f"{name}; remove it or choose another --out"
            )
    records.check_writable(out / "search.json", "--out")
    records.check_writable(out / OWN_STORE, "--out")


def check_outputs_are_not_stores(out: str, results: list[str]) -> None:
    """search.json / subnets.json in --out must not be a --results store or any records store (they are replaced
    at the end): ValueError naming the file, before anything loads."""
    for name in ("search.json", "subnets.json"):
        records.check_not_a_store(Path(out) / name, f"--out {out!r}: its {name}", tuple(results))


def cmd_search(opts: SearchOptions, argv: tuple[str, ...] = ("search",)) -> int:
    """`bench.pareto search` (`argv`: its own arguments, which search.json records)."""
    parse_budgets(opts.max_latency_ms)  # the budgets' own message first
    check_search_flags(opts)
    check_out(opts.out)
    check_results(opts.results, opts.out)
    check_outputs_are_not_stores(opts.out, opts.results)
    summary = run(opts, argv)
    also = f" and peak RSS <= {opts.max_memory_mb:g} MB" if opts.max_memory_mb is not None else ""
    for row in summary["budgets"]:
        grid = (
            f"grid best {row['grid_best_subnet']} {row['grid_best_accuracy']:.4f} at "
            f"{row['grid_best_latency_measured_ms']:#.4g} ms"
            if row["grid_best_subnet"]
            else f"no grid point fits (measured{also})"
        )
        found = (
            f"searched {row['searched_subnet']} {row['searched_accuracy']:.4f} at "
            f"{row['searched_latency_measured_ms']:#.4g} ms measured"
            if row["searched_subnet"]
            else f"no candidate was predicted to fit{also}"
            if not row["candidates"]
            else f"no searched candidate fits when measured{also}"
        )
        if row["answer_subnet"]:
            found = f"answer {row['answer_subnet']} (from the {row['answer_from']}); {found}"
        print(f"<= {row['latency_budget_ms']:g} ms: {found}; {grid}")
    print(
        f"-> {Path(opts.out) / 'search.json'} (accuracy: {summary['split']}; latency: {opts.device} / "
        f"{opts.runtime}, {opts.threads} thread(s), seq {opts.seq_len}, measured)"
    )
    return 0


def parse_budgets(text: str) -> list[float]:
    """--max-latency-ms: comma-separated positive milliseconds, each once (a repeat is dropped), in the order given."""
    try:
        budgets = list(dict.fromkeys(float(x) for x in text.split(",")))
    except ValueError:
        raise ValueError(
            f"--max-latency-ms must be comma-separated numbers of milliseconds, got {text!r}"
        ) from None
    if not budgets or not all(math.isfinite(b) and b > 0 for b in budgets):
        raise ValueError(f"--max-latency-ms must be positive, finite milliseconds, got {text!r}")
    return budgets


def positive_number(text: str) -> float:
    """A budget flag's value (ms, MB): a positive, finite number (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive, finite number, got {text!r}")
    return value


SEARCH, TIMING = "search", "timing"


@dataclass(kw_only=True)
class SearchOptions(TaskOptions):
    """`python -m bench.pareto search`: the task options of `dynabert evaluate`, the budgets, the search and how
    the answers are timed."""

    results: list[str] = option(
        help="latency records to fit the predictor (repeatable; only read: the search appends what it "
        f"measures to its own store, --out/{OWN_STORE})",
        group="output",
    )
    max_latency_ms: str = option(
        help="budget(s), comma-separated: one search per budget", group="budget"
    )
    max_memory_mb: float | None = option(
        None,
        help="budget on the peak RSS increase over python + numpy (MB; what a record's peak_rss_mb "
        "measures)",
        group="budget",
        type=positive_number,
    )
    device: str = option(
        "local-cpu",
        help="device profile that times the answer (python -m devices list)",
        group=TIMING,
    )
    runtime: str = option(
        "onnxruntime", help="runtime the latency is measured and predicted on", group=TIMING
    )
    threads: int = option(1, help="runtime threads", group=TIMING)
    seq_len: int = option(
        128,
        help="sequence length of the timed inputs and of the dev accuracy (encode truncates to it)",
        group=TIMING,
    )
    strategy: str = option(
        "evolution", help="how candidates are drawn", group=SEARCH, choices=("evolution", "random")
    )
    population: int = option(
        20,
        help="candidates per generation (evolution) or drawn per generation (random)",
        group=SEARCH,
    )
    generations: int = option(10, help="generations per budget", group=SEARCH)
    search_examples: int = option(
        512,
        help="dev examples scored during the search (a fixed seeded subset; fewer flatter the picks "
        "more)",
        group=SEARCH,
    )
    final: int = option(
        3, help="candidates per budget scored on full dev and measured", group=SEARCH
    )
    margin: float = option(
        0.05, help="search under budget x (1 - margin): predictor error", group=SEARCH
    )
    calibrate: bool = option(
        True,
        help="time the grid first and move the predictor to the machine's speed now (rounds after "
        "the first always recalibrate on the previous round's sweep)",
        group=TIMING,
        action=argparse.BooleanOptionalAction,
    )
    rounds: int = option(
        2,
        help="searches (and sweeps) at most: a budget no candidate fits once measured is searched "
        "again with the predictor recalibrated on that sweep",
        group=SEARCH,
    )
    batch_size: int = option(64, help="batch size of the accuracy scoring", group="task")
    min_time: float = option(
        RunRequest.min_time_s, help="seconds of timed runs per measured cell", group=TIMING
    )
    processes: int = option(1, help="fresh processes per timed cell, interleaved", group=TIMING)
    seed: int = option(0, help="seed of the search and of the dev subset", group=SEARCH)
    cache_dir: str | None = option(
        None, help="artifact cache (default ~/.cache/dynabert-edge/artifacts)", group=TIMING
    )
    out: str = option(
        "search",
        help=f"folder for search.json, subnets.json and the search's own store {OWN_STORE}",
        group="output",
    )

    @property
    def budgets(self) -> list[float]:
        """--max-latency-ms as milliseconds (parse_budgets: ValueError naming the flag)."""
        return parse_budgets(self.max_latency_ms)
