"""Command line: `python -m dynabert info | extract | train | evaluate`.

Each sub-command parses its flags here and calls one function elsewhere; a ValueError becomes a one-line
message and exit status 2, never a traceback; Ctrl-C one line and status 130. Must not import bench or devices.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dynabert.config import (
    DEFAULT_DEPTHS,
    DEFAULT_WIDTHS,
    SubnetSpec,
    check_grid,
    check_mults,
    parse_mults,
)
from dynabert.flops import cost
from dynabert.limits import check_seq_len, limits_of
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


def cmd_info(args: argparse.Namespace) -> int:
    rows = info_rows(
        args.model,
        args.seq_len,
        parse_mults(args.widths, "widths"),
        parse_mults(args.depths, "depths"),
    )
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    import pandas as pd

    table = pd.DataFrame(rows).drop(columns=["seq_len"])
    table["layer_ids"] = table["layer_ids"].map(lambda ids: ",".join(map(str, ids)))
    print(
        f"{args.model}: sub-networks at batch 1, seq {args.seq_len}; FLOPs = 2 x MACs "
        f"(dense = Linear layers; with_attention adds QK^T and AV); params in millions"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


def extract_spec(args: argparse.Namespace, size, source: str):
    """--subnet (an id or JSON, grid or per layer) or --width and --depth, checked against `size` (the model's
    architecture, read before its weights) and resolved; a per-layer --subnet that is a grid point comes back as
    that grid point (subnet.canonical, as bench.export writes it). ValueError naming the flag when neither, both, or a
    value the model cannot take."""

    if args.subnet is not None:
        if args.width is not None or args.depth is not None:
            raise ValueError("give either --subnet or --width/--depth, not both")
        try:  # a per-layer spec equal to a grid point is that grid point (its id, cache entry and card accuracy)
            return canonical(parse_subnet(args.subnet).resolve(size), size)
        except ValueError as err:
            raise ValueError(f"--subnet {args.subnet}: {err}") from None
    if args.width is None or args.depth is None:
        raise ValueError(
            "give --width and --depth (a grid point), or --subnet (an id or per-layer JSON)"
        )
    for value, flag in ((args.width, "--width"), (args.depth, "--depth")):
        if not 0.0 < value <= 1.0:
            raise ValueError(
                f"{flag} {value:g} is not in (0, 1]: a multiplier is the share of the full model kept"
            )
    check_mults((args.width,), "width", size, source, "--width")
    check_mults((args.depth,), "depth", size, source, "--depth")
    return SubnetSpec(args.width, args.depth).resolve(size)  # 0.333333 of 12 heads -> exactly 4/12


def cmd_extract(args: argparse.Namespace) -> int:
    from dynabert.evaluate import resolve_checkpoint
    from dynabert.extract import save_subnet
    from dynabert.model import DynaBert
    from dynabert.presets import load_model, load_size, load_tokenizer

    # a training OUTPUT folder means its latest finished stage's best model, as in evaluate and the sweep;
    # presets and hub ids go to load_model as given
    checkpoint = (
        str(resolve_checkpoint(args.checkpoint))
        if Path(args.checkpoint).is_dir()
        else args.checkpoint
    )
    spec = extract_spec(
        args, load_size(checkpoint), checkpoint
    )  # from config.json, before the weights load
    dyna = DynaBert(load_model(checkpoint))
    results = args.results
    if (
        results is None and (Path(checkpoint) / "accuracy.jsonl").is_file()
    ):  # `evaluate`'s default store
        results = Path(checkpoint) / "accuracy.jsonl"
    try:
        tokenizer = load_tokenizer(checkpoint)
    except (ValueError, OSError) as err:
        tokenizer = None
        print(f"note: no tokenizer saved with the sub-network ({err})", file=sys.stderr)
    out = Path(args.output_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(
            f"--output-dir {out} is a file; the sub-network is saved as a directory: choose a new path"
        )
    sub = save_subnet(dyna, spec, out, checkpoint, tokenizer, results, args.task)
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
    parser = argparse.ArgumentParser(prog="python -m dynabert", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    info = sub.add_parser(
        "info", help="table of every sub-network: heads, FFN, layers, params, FLOPs"
    )
    info.add_argument(
        "--model", required=True, help="preset, local Hugging Face directory or hub id"
    )
    info.add_argument(
        "--seq-len", type=int, default=128, help="tokens per sequence for FLOPs (default 128)"
    )
    info.add_argument(
        "--widths", default=",".join(map(str, DEFAULT_WIDTHS)), help="width multipliers"
    )
    info.add_argument(
        "--depths", default=",".join(map(str, DEFAULT_DEPTHS)), help="depth multipliers"
    )
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    info.set_defaults(func=cmd_info)

    ext = sub.add_parser("extract", help="save one sub-network as a standalone dense model")
    ext.add_argument(
        "--checkpoint",
        required=True,
        help="trained DynaBERT directory (or any BERT/RoBERTa/DistilBERT classifier)",
    )
    ext.add_argument(
        "--width",
        type=float,
        help="width multiplier in (0, 1]: k/heads, as printed "
        "(0.33, 0.3333 and 0.333333 all mean 4 of 12 heads)",
    )
    ext.add_argument("--depth", type=float, help="depth multiplier in (0, 1]")
    ext.add_argument(
        "--subnet",
        help="instead of --width/--depth: a sub-network id ('w0.50-d0.75', or per layer "
        "'h12.6.0.3-f1536.768.0.384': heads, then FFN neurons, per source layer, "
        '0 = skipped) or its JSON {"heads": [...], "ffn": [...]}',
    )
    ext.add_argument(
        "--output-dir", required=True, help="where save_pretrained writes the sub-network"
    )
    ext.add_argument(
        "--results",
        default=None,
        help="results store whose accuracy records go on the model card (default: "
        "CHECKPOINT/accuracy.jsonl when it exists)",
    )
    ext.add_argument(
        "--task",
        help="GLUE task whose label names the outputs carry (SST-2: negative/positive), so transformers' "
        "pipeline shows them (default: the task of the sub-network's accuracy records, if one)",
    )
    ext.set_defaults(func=cmd_extract)

    add_train_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (
        KeyboardInterrupt
    ) as err:  # Ctrl-C: one line (a stage says where it resumes), the shell's status 130
        print(f"interrupted: {err}" if str(err) else "interrupted", file=sys.stderr)
        return 130
