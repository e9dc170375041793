"""ExecuTorch programs (.pte) lowered to XNNPACK, fp32 and int8.

fp32: `torch.export.export(logits_only(model), static (1, seq_len) int64 inputs)` ->
`executorch.exir.to_edge_transform_and_lower(..., partitioner=[XnnpackPartitioner()])` -> `.to_executorch()`.
int8: before lowering, the PT2E flow with ExecuTorch's XNNPACKQuantizer, symmetric per-channel int8 weights and
dynamic (per-run) int8 activations for Linear, as the other int8 formats here (onnxruntime quantize_dynamic,
ai-edge-quantizer dynamic_wi8_afp32): `prepare_pt2e` -> one calibration call -> `convert_pt2e` -> export again.
The program's shape is static (batch 1, the export's sequence length), as LiteRT's. What XNNPACK runs is counted
on the lowered graph (executorch.devtools.backend_debug.get_delegation_info) and kept as the artifact's
`delegation`: delegated / non-delegated node counts, their share, and the op types left to the portable kernels.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

QUANTIZATION = {
    "method": "XNNPACKQuantizer PT2E (torchao.quantization.pt2e)",
    "config": "get_symmetric_quantization_config(is_per_channel=True, is_dynamic=True)",
}


def _program(model: torch.nn.Module, seq_len: int, int8: bool):
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    from bench.export_inputs import logits_only, sample_inputs

    module = logits_only(model).eval()
    example = sample_inputs(1, seq_len, model.config.vocab_size)
    with torch.no_grad():
        exported = torch.export.export(module, example)
        if int8:
            exported = torch.export.export(_quantized(exported, example), example)
        return to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()])


def _quantized(exported, example):
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = XNNPACKQuantizer().set_global(
        get_symmetric_quantization_config(is_per_channel=True, is_dynamic=True)
    )
    prepared = prepare_pt2e(exported.module(), quantizer)
    prepared(*example)  # dynamic activations: one call settles the observers, no ranges are kept
    return convert_pt2e(prepared)


def delegation(edge) -> dict:
    """The share of the lowered graph's operator nodes that XNNPACK runs, and the op types it does not.

    Counted from executorch.devtools.backend_debug.get_delegation_info; `getitem` (tuple unpacking, no kernel) is
    left out of both counts."""
    from executorch.devtools.backend_debug import get_delegation_info

    info = get_delegation_info(edge.exported_program().graph_module)
    frame = info.get_operator_delegation_dataframe()
    frame = frame[~frame["op_type"].isin(["getitem", "Total"])]
    inside = int(frame["occurrences_in_delegated_graphs"].sum())
    outside = frame[frame["occurrences_in_non_delegated_graphs"] > 0]
    left = int(outside["occurrences_in_non_delegated_graphs"].sum())
    return {
        "backend": "XnnpackBackend",
        "delegated_subgraphs": info.num_delegated_subgraphs,
        "delegated_ops": inside,
        "non_delegated_ops": left,
        "delegated_share": round(inside / (inside + left), 4) if inside + left else None,
        "non_delegated_op_types": {
            str(op): int(n)
            for op, n in zip(outside["op_type"], outside["occurrences_in_non_delegated_graphs"])
        },
    }


def export(model: torch.nn.Module, path: Path, seq_len: int, int8: bool = False) -> dict:
    """Write the .pte at `path`; returns its delegation summary (also beside it as `<path>.delegation.json`)."""
    edge = _program(model, seq_len, int8)
    summary = delegation(edge)
    path.write_bytes(edge.to_executorch().buffer)
    return summary


def input_spec_fields(model: torch.nn.Module, seq_len: int) -> dict:
    """The InputSpec a .pte cannot tell by itself (its embedding tables may sit inside the XNNPACK blob): written
    by the exporter from the model it lowered; names, dtype and shape are read from the program (devices.inputs)."""
    return {
        "vocab_size": int(model.config.vocab_size),
        "type_vocab_size": max(1, int(getattr(model.config, "type_vocab_size", 1) or 1)),
        "seq_len": seq_len,
    }


def write_vocab(path: Path, model: torch.nn.Module, seq_len: int) -> None:
    from devices.inputs import pte_vocab_file

    pte_vocab_file(path).write_text(json.dumps(input_spec_fields(model, seq_len)))
