"""Per-layer sub-networks (heads and FFN per layer, layers kept): extraction equals the dynamic model, FLOPs equal
FlopCounterMode, and the uniform grid is exactly its special case (same ids, numbers and logits)."""

import json
import random

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from dynabert import DynaBert, LayerwiseSpec, SubnetSpec, cost, default_grid, extract
from dynabert.pruned import PrunedBertForSequenceClassification
from dynabert.subnet import (
    canonical,
    layer_plan,
    layerwise,
    parse_subnet,
    read_subnets,
    write_subnets,
)

from factories import padded_batch, tiny_bert, tiny_distilbert, tiny_roberta

LAYOUTS = {
    "bert": lambda: tiny_bert(heads=8, layers=4, hidden=64, ffn=96),
    "roberta": tiny_roberta,
    "distilbert": tiny_distilbert,
}


def random_specs(size, n: int, seed: int) -> list[LayerwiseSpec]:
    """n random per-layer specs: each layer skipped (p 0.25) or 1..heads heads and 1..ffn neurons, drawn apart."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        keep = [rng.random() > 0.25 for _ in range(size.num_layers)]
        heads = tuple(rng.randint(1, size.num_heads) if k else 0 for k in keep)
        ffn = tuple(rng.randint(1, size.ffn_size) if k else 0 for k in keep)
        if any(heads):
            out.append(LayerwiseSpec(heads, ffn))
    return out


@pytest.mark.parametrize("layout", LAYOUTS)
def test_per_layer_extraction_equals_dynamic_model_and_flop_counter(layout):
    dyna = DynaBert(LAYOUTS[layout]())
    size = dyna.full_size
    ids, mask = padded_batch()
    for spec in random_specs(size, 6, seed=len(layout)):
        sub = extract(dyna, spec)
        with torch.no_grad():
            dyn = dyna(ids, mask, spec=spec)
            ext = sub(ids, mask).logits
        torch.testing.assert_close(ext, dyn.logits, atol=1e-5, rtol=0, msg=spec.subnet_id)
        c = cost(size, spec, ids.shape[1])
        assert len(dyn.hidden_states) == c.n_layers + 1
        assert [layer.query.out_features // size.head_size for layer in sub.layers] == list(
            c.layer_heads
        )
        assert [layer.ffn_up.out_features for layer in sub.layers] == list(c.layer_ffn)
        assert sum(p.numel() for p in sub.parameters()) == c.params_active, spec.subnet_id
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            sub(ids[:1])
        assert counter.get_total_flops() == c.flops_with_attention, spec.subnet_id


@pytest.mark.parametrize("layout", LAYOUTS)
def test_grid_point_is_the_special_case(layout):
    """Every grid point written per layer gives the grid's plan, cost numbers and logits; canonical maps it back."""
    dyna = DynaBert(LAYOUTS[layout]())
    size = dyna.full_size
    ids, mask = padded_batch()
    for grid in default_grid():
        per_layer = layerwise(grid, size)
        assert layer_plan(per_layer, size) == layer_plan(grid, size)
        assert (
            canonical(per_layer, size) == grid
            and canonical(per_layer, size).subnet_id == grid.subnet_id
        )
        a, b = cost(size, grid), cost(size, per_layer)
        assert (a.params_active, a.flops_dense, a.flops_with_attention, a.layer_ids) == (
            b.params_active,
            b.flops_dense,
            b.flops_with_attention,
            b.layer_ids,
        )
        assert a.subnet == b.subnet == per_layer.to_json()
        assert a.n_heads == grid.heads_kept(size.num_heads) and a.width_mult == grid.width_mult
        with torch.no_grad():
            torch.testing.assert_close(
                extract(dyna, per_layer)(ids, mask).logits,
                extract(dyna, grid)(ids, mask).logits,
                atol=0,
                rtol=0,
            )


def test_grid_extraction_keeps_its_config():
    """A grid point extracts exactly as before per-layer specs existed: uniform config, no per-layer lists."""
    sub = extract(DynaBert(tiny_bert()), SubnetSpec(0.5, 0.5))
    assert sub.config.layer_heads is None and sub.config.layer_intermediate_sizes is None
    assert (
        sub.config.num_attention_heads,
        sub.config.intermediate_size,
        sub.config.source_layer_ids,
    ) == (2, 64, [0])


def test_ids_and_json_round_trip(tmp_path):
    spec = LayerwiseSpec((4, 0, 2, 1), (96, 0, 10, 5))
    assert spec.subnet_id == "h4.0.2.1-f96.0.10.5"
    assert parse_subnet(spec.subnet_id) == spec == parse_subnet(json.dumps(spec.to_json()))
    assert parse_subnet("w0.50-d0.75") == SubnetSpec(0.5, 0.75)
    size = DynaBert(tiny_bert(heads=4, layers=4, ffn=96)).full_size
    grid_as_layers = layerwise(SubnetSpec(0.5, 1.0), size)
    write_subnets(tmp_path / "s.json", [spec, grid_as_layers], size)
    assert read_subnets(tmp_path / "s.json") == [spec, SubnetSpec(0.5, 1.0)]


def test_per_layer_saves_and_loads_exactly(tmp_path):
    dyna = DynaBert(tiny_roberta())
    spec = LayerwiseSpec((4, 1, 0, 3), (128, 7, 0, 64))
    sub = extract(dyna, spec)
    sub.save_pretrained(tmp_path / "sub")
    back = PrunedBertForSequenceClassification.from_pretrained(tmp_path / "sub").eval()
    ids, mask = padded_batch()
    with torch.no_grad():
        torch.testing.assert_close(back(ids, mask).logits, sub(ids, mask).logits, atol=0, rtol=0)
    assert back.config.source_subnet == spec.to_json() and back.config.source_layer_ids == [0, 1, 3]


@pytest.mark.parametrize(
    "bad, match",
    [
        (
            ((4, 0), (10,)),
            r"sub-network h4\.0-f10: 2 heads values and 1 FFN values; give one of each per layer",
        ),
        (
            ((4, 2), (10, 0)),
            r"sub-network h4\.2-f10\.0, layer 1: 2 heads and 0 FFN neurons; a layer is kept .*skipped",
        ),
        (((0, 0), (0, 0)), "skips every layer .*keep at least one layer"),
        (((4, -1), (10, 3)), "layer 1: heads -1 is not a whole number >= 0"),
    ],
)
def test_bad_per_layer_specs_are_refused_by_name(bad, match):
    with pytest.raises(ValueError, match=match):
        LayerwiseSpec(*bad)


@pytest.mark.parametrize(
    "text, match",
    [
        # wrong number of layers for the model (tiny_bert: 2 layers, 4 heads, FFN 128)
        (
            "h4.4.4-f128.128.128",
            r"h4\.4\.4-f128\.128\.128 gives 3 layers; the model has 2: give one heads/FFN value",
        ),
        # mismatched lengths, in the id and in JSON
        (
            "h4.4-f128",
            r"sub-network h4\.4-f128: 2 heads values and 1 FFN values; give one of each per layer",
        ),
        ('{"heads": [4, 4], "ffn": [128]}', r"h4\.4-f128: 2 heads values and 1 FFN values"),
        # not numbers
        (
            "h4.x-f128.128",
            r"id 'h4\.x-f128\.128', layer 1: heads 'x' is not a whole number >= 0; write it as 'h<heads",
        ),
        ("h4.4-f128.1e2", r"layer 1: FFN '1e2' is not a whole number"),
        (
            '{"heads": [4, 4.5], "ffn": [128, 1]}',
            r'"heads": \[4, 4\.5\].*layer 1: heads 4\.5 is not a whole number',
        ),
        ('{"heads": [4, "a"], "ffn": [128, 1]}', r"layer 1: heads 'a' is not a whole number"),
        ('{"heads": 4, "ffn": 128}', r'"heads": 4 \(not a list\)'),
        ('{"heads": [4, 4]}', r"got keys \['heads'\]"),
        # above the model's heads / FFN
        (
            "h5.4-f128.128",
            r"h5\.4-f128\.128, layer 0: 5 heads and 128 FFN neurons; the model has 4 heads and 128 "
            r"neurons per layer: give at most 4 heads",
        ),
        (
            "h4.4-f128.129",
            r"layer 1: 4 heads and 129 FFN neurons.*give at most 4 heads and 128 neurons",
        ),
        # heads 0 with FFN > 0 (a layer is kept or skipped, both or neither), and nothing kept
        (
            "h0.4-f64.128",
            r"h0\.4-f64\.128, layer 0: 0 heads and 64 FFN neurons; a layer is kept \(heads and FFN both "
            r">= 1\) or skipped \(both 0\): give both or neither",
        ),
        ("h0.0-f0.0", r"h0\.0-f0\.0 skips every layer"),
        ("h4.4-f128", r"2 heads values and 1 FFN values"),
        ("x4.4-f128.128", r"not a sub-network id"),
        ("h4.4", r"not a per-layer sub-network id: 'h4\.4'; write it as"),
    ],
)
def test_bad_per_layer_ids_name_the_id_the_layer_the_rule_and_the_fix(text, match):
    size = DynaBert(tiny_bert()).full_size  # 2 layers, 4 heads, FFN 128
    with pytest.raises(ValueError, match=match):
        parse_subnet(text).check(size)


def test_spec_that_does_not_fit_the_model_names_the_layer():
    size = DynaBert(tiny_bert()).full_size  # 2 layers, 4 heads, FFN 128
    with pytest.raises(ValueError, match="gives 3 layers; the model has 2"):
        cost(size, LayerwiseSpec((1, 1, 1), (1, 1, 1)))
    with pytest.raises(ValueError, match="layer 1: 5 heads"):
        cost(size, LayerwiseSpec((1, 5), (1, 1)))
    with pytest.raises(ValueError, match="'h4.x-f3', layer 1: heads 'x' is not a whole number"):
        parse_subnet("h4.x-f3")


def test_canonical_finds_a_grid_point_of_the_runs_own_depths():
    """A per-layer spec equal to a custom --depths grid point is that grid point (measured once, never reported
    as a searched answer), not a per-layer id."""
    from dynabert.config import BertSize
    from dynabert.subnet import unique_specs

    size = BertSize()  # 12 layers
    grid = SubnetSpec(0.5, 0.25)  # not a default depth
    per_layer = layerwise(grid, size)
    assert canonical(per_layer, size) == per_layer  # the default depths do not hold it
    assert canonical(per_layer, size, (1.0, 0.25)) == grid
    kept, dropped = unique_specs([grid, per_layer], size, (1.0, 0.25))
    assert kept == [grid] and dropped == [
        f"item 1 ({per_layer.subnet_id} = w0.50-d0.25) repeats item 0"
    ]
