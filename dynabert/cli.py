"""Command line: `python -m dynabert info | extract | train | evaluate`.

Each sub-command parses its flags here and calls one function elsewhere; a ValueError becomes a one-line
message and exit status 2, never a traceback; Ctrl-C or SIGTERM one line and status
130 or 143 (dynabert.stop). Must not import bench or devices.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import argfields
from dynabert.config import (
    SubnetSpec,
    check_grid,
    check_mults,
    parse_mults,
)
from dynabert.flops import cost
from dynabert.limits import check_seq_len, limits_of
from dynabert.options import ExtractOptions, InfoOptions
from dynabert.subnet import canonical, parse_subnet
from dynabert.train_cli import add_train_commands


def info_rows(
    model: str, seq_len: int, widths: tuple[float, ...], depths: tuple[float, ...]
) -> list[dict]:
    from dynabert.presets import load_size

    size = load_size(model)
    check_seq_len(limits_of(model), seq_len, "--seq-len", model)
    rows = []
    for spec in check_grid(widths, depths, size, model):
        c = cost(size, spec, seq_len)
        rows.append(
            {
                "subnet_id": c.subnet_id,
                "width": c.width_mult,
                "depth": c.depth_mult,
                "heads": c.n_heads,
                "ffn": c.ffn_dim,
                "layers": c.n_layers,
                "layer_ids": list(c.layer_ids),
                "params_total_M": c.params_total / 1e6,
                "params_active_M": c.params_active / 1e6,
                "gflops_dense": c.flops_dense / 1e9,
                "gflops_with_attention": c.flops_with_attention / 1e9,
                "seq_len": seq_len,
            }
        )
    return rows


def cmd_info(opts: InfoOptions) -> int:
    rows = info_rows(
        opts.model,
        opts.seq_len,
        parse_mults(opts.widths, "widths"),
        parse_mults(opts.depths, "depths"),
    )
    if opts.json:
        print(json.dumps(rows, indent=1))
        return 0
    import pandas as pd

    table = pd.DataFrame(rows).drop(columns=["seq_len"])
    table["layer_ids"] = table["layer_ids"].map(lambda ids: ",".join(map(str, ids)))
    print(
        f"{opts.model}: sub-networks at batch 1, seq {opts.seq_len}; FLOPs = 2 x MACs "
        f"(dense = Linear layers; with_attention adds QK^T and AV); params in millions"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


def extract_spec(opts: ExtractOptions, size, source: str):
    """--subnet (an id or JSON, grid or per layer) or --width and --depth, checked against `size` (the model's
    architecture, read before its weights) and resolved; a per-layer --subnet that is a grid point comes back as
    that grid point (subnet.canonical, as bench.export writes it). ValueError naming the flag when neither, both, or a
    value the model cannot take."""

    if opts.subnet is not None:
        if opts.width is not None or opts.depth is not None:
            raise ValueError("give either --subnet or --width/--depth, not both")
        try:  # a per-layer spec equal to a grid point is that grid point (its id, cache entry and card accuracy)
            return canonical(parse_subnet(opts.subnet).resolve(size), size)
        except ValueError as err:
            raise ValueError(f"--subnet {opts.subnet}: {err}") from None
    if opts.width is None or opts.depth is None:
        raise ValueError(
            "give --width and --depth (a grid point), or --subnet (an id or per-layer JSON)"
        )
    for value, flag in ((opts.width, "--width"), (opts.depth, "--depth")):
        if not 0.0 < value <= 1.0:
            raise ValueError(
                f"{flag} {value:g} is not in (0, 1]: a multiplier is the share of the full model kept"
            )
    check_mults((opts.width,), "width", size, source, "--width")
    check_mults((opts.depth,), "depth", size, source, "--depth")
    return SubnetSpec(opts.width, opts.depth).resolve(size)  # 0.333333 of 12 heads -> exactly 4/12


def cmd_extract(opts: ExtractOptions) -> int:
    from dynabert.evaluate import resolve_checkpoint
    from dynabert.extract import save_subnet
    from dynabert.model import DynaBert
    from dynabert.presets import load_model, load_size, load_tokenizer

    # a training OUTPUT folder means its latest finished stage's best model, as in evaluate and the sweep;
    # presets and hub ids go to load_model as given
    checkpoint = (
        str(resolve_checkpoint(opts.checkpoint))
        if Path(opts.checkpoint).is_dir()
        else opts.checkpoint
    )
    spec = extract_spec(
        opts, load_size(checkpoint), checkpoint
    )  # from config.json, before the weights load
    dyna = DynaBert(load_model(checkpoint))
    results = opts.results
    if (
        results is None and (Path(checkpoint) / "accuracy.jsonl").is_file()
    ):  # `evaluate`'s default store
        results = Path(checkpoint) / "accuracy.jsonl"
    try:
        tokenizer = load_tokenizer(checkpoint)
    except (ValueError, OSError) as err:
        tokenizer = None
        print(f"note: no tokenizer saved with the sub-network ({err})", file=sys.stderr)
    out = Path(opts.output_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(
            f"--output-dir {out} is a file; the sub-network is saved as a directory: choose a new path"
        )
    sub = save_subnet(dyna, spec, out, checkpoint, tokenizer, results, opts.task)
    shapes = sub.config.layer_shapes()
    heads, ffn = (
        "/".join(str(v[i]) for v in shapes) if len(set(shapes)) > 1 else str(shapes[0][i])
        for i in (0, 1)
    )
    print(
        f"{spec.subnet_id}: {sub.config.num_hidden_layers} layers x {heads} heads, "
        f"FFN {ffn}, {sum(p.numel() for p in sub.parameters()) / 1e6:.2f} M params "
        f"-> {out} (model card: {out / 'README.md'}; load with trust_remote_code=True)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argfields.command_parser(
        "python -m dynabert",
        "Train DynaBERT, score and extract its sub-networks: info | extract | train | evaluate.",
        "python -m dynabert info --model minilm-l6\npython -m dynabert train --stage all --task sst2 "
        "--data-dir glue/SST-2 --output-dir runs/sst2",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    argfields.add_command(
        sub,
        "info",
        InfoOptions,
        cmd_info,
        "table of every sub-network: heads, FFN, layers, params, FLOPs",
        "python -m dynabert info --model minilm-l6 --seq-len 128",
    )
    argfields.add_command(
        sub,
        "extract",
        ExtractOptions,
        cmd_extract,
        "save one sub-network as a standalone dense model",
        "python -m dynabert extract --checkpoint runs/sst2 --width 0.5 --depth 0.75 "
        "--output-dir sub-w0.50-d0.75",
    )
    add_train_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    opts, run = argfields.parse(build_parser(), argv)
    try:
        return run(opts)
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM: one line (a stage says where it resumes)
        print(f"interrupted: {err}" if str(err) else "interrupted", file=sys.stderr)
        return 128 + getattr(
            err, "signum", 2
        )  # the shell's status: 130 for SIGINT, 143 for SIGTERM
