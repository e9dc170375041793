"""A cold sweep's exports in worker processes, before any cell is timed: two exports at once on two cores.

torch.onnx's dynamo export of a BERT-base sub-network spends most of its time tracing in Python on one core, so on
a 2-core machine the export phase of a cold `make report` halves with two workers. Each worker builds its model
(a preset from its seed: the same weights, checked against the cached hash) and exports the sub-networks dealt to
it into the shared cache; the sweep then prepares every cell as before and finds its artifact cached and checked.
A failure in a worker is not recorded here: the sweep's own export of that cell meets it again and records it, so
cell records are made in one place (bench/sweep.py).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from bench.artifacts import artifact_for, load
from bench.cells import RUNTIMES
from dynabert.config import SubnetSpec
from dynabert.flops import cost

Job = tuple[str, SubnetSpec, str]  # (model, sub-network, artifact format)


def deal(jobs: list[Job], workers: int, weight) -> list[tuple[str, list[tuple[SubnetSpec, str]]]]:
    """Work items: each model's sub-networks dealt to at most `workers` items, heaviest first to the lightest item
    (`weight(model, spec)`, e.g. FLOPs); a sub-network's formats stay together (int8 reuses its fp32 export)."""
    items = []
    for model in dict.fromkeys(m for m, _, _ in jobs):
        specs = sorted(
            dict.fromkeys(s for m, s, _ in jobs if m == model), key=lambda s: -weight(model, s)
        )
        bins: list[tuple[float, list]] = [(0.0, []) for _ in range(min(workers, len(specs)))]
        for spec in specs:
            i = min(range(len(bins)), key=lambda k: bins[k][0])
            fmts = [f for m, s, f in jobs if m == model and s == spec]
            bins[i] = (bins[i][0] + weight(model, spec), bins[i][1] + [(spec, f) for f in fmts])
        items += [(model, work) for _, work in bins]
    return sorted(items, key=lambda it: -sum(weight(it[0], s) for s, _ in it[1]))


def export_item(
    model_name: str, work: list[tuple[SubnetSpec, str]], seq_len: int, cache: Path | None
) -> int:
    """Export one work item in this (worker) process; returns how many artifacts are ready. Errors are left for
    the sweep to meet and record."""
    import torch

    torch.set_num_threads(1)  # the workers share the cores: one thread each
    ready = 0
    try:
        model = load(model_name, cache)
        for spec, fmt in work:
            try:
                artifact_for(model, spec, fmt, seq_len, cache)
                ready += 1
            except Exception:  # noqa: BLE001 - recorded by the sweep when it exports this cell itself
                pass
    except Exception:  # noqa: BLE001 - the model does not load: the sweep says why, per cell
        pass
    return ready


def export_all(jobs: list[Job], seq_len: int, cache: Path | None, workers: int, weight) -> None:
    """Export `jobs` in `workers` spawned processes (nothing happens for workers <= 1 or a single work item: the
    sweep then exports each cell as it prepares it)."""
    items = deal(jobs, workers, weight)
    if workers <= 1 or len(items) <= 1:
        return
    from tqdm.auto import tqdm

    bar = tqdm(
        total=sum(len(work) for _, work in items),
        desc=f"export ({workers} workers)",
        unit="artifact",
    )
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {
            pool.submit(export_item, model, work, seq_len, cache): len(work)
            for model, work in items
        }
        for f in as_completed(futures):
            f.result()
            bar.update(futures[f])
    bar.close()


def export_cells(cells: list, seq_len: int, cache: Path | None, workers: int) -> None:
    """export_all for a sweep's pending (Cell, LoadedModel) pairs, dealt by each sub-network's FLOPs."""

    jobs = list(dict.fromkeys((c.model_id, c.spec, RUNTIMES[c.runtime][0]) for c, _ in cells))
    sizes = {c.model_id: m.full_size() for c, m in cells}
    export_all(
        jobs,
        seq_len,
        cache,
        workers,
        lambda name, spec: cost(sizes[name], spec, seq_len).flops_with_attention,
    )
