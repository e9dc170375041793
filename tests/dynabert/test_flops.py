"""Analytic FLOPs/params against FlopCounterMode on the extracted model, and the published BERT-base numbers."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from dynabert import BertSize, DynaBert, SubnetSpec, cost, default_grid, extract
from dynabert.presets import ARCHITECTURES

from factories import tiny_bert, tiny_distilbert

# spec section 6.3 (derived from the architecture): params (M) and GFLOPs dense / +attention at seq 128
TABLE_6_3 = {
    (1.0, 1.0): (109.5, 21.7, 22.4),
    (0.75, 1.0): (88.2, 16.3, 16.8),
    (0.5, 1.0): (67.0, 10.9, 11.2),
    (0.25, 1.0): (45.7, 5.4, 5.6),
    (1.0, 0.75): (88.2, 16.3, 16.8),
    (0.75, 0.75): (72.3, 12.2, 12.6),
    (0.5, 0.75): (56.4, 8.2, 8.4),
    (0.25, 0.75): (40.4, 4.1, 4.2),
    (1.0, 0.5): (67.0, 10.9, 11.2),
    (0.75, 0.5): (56.3, 8.2, 8.4),
    (0.5, 0.5): (45.7, 5.4, 5.6),
    (0.25, 0.5): (35.1, 2.7, 2.8),
}


def test_bert_base_exact():
    c = cost(BertSize(), SubnetSpec(), 128)
    assert round(c.flops_dense / 1e9, 2) == 21.74
    assert round(c.flops_with_attention / 1e9, 2) == 22.35
    assert c.params_total == c.params_active == 109_483_778


@pytest.mark.parametrize("wd", TABLE_6_3)
def test_bert_base_table(wd):
    c = cost(BertSize(), SubnetSpec(*wd), 128)
    params, dense, attn = TABLE_6_3[wd]
    # the table was rounded twice (22.348 -> 22.35 -> 22.4; 56.345 -> 56.35 -> 56.4): allow 0.06
    assert c.params_active / 1e6 == pytest.approx(params, abs=0.06)
    assert c.flops_dense / 1e9 == pytest.approx(dense, abs=0.06)
    assert c.flops_with_attention / 1e9 == pytest.approx(attn, abs=0.06)


def test_minilm_shape():
    size = BertSize(hidden_size=384, num_layers=6, num_heads=12, head_size=32, ffn_size=1536)
    c = cost(size, SubnetSpec(), 128)
    assert round(c.flops_dense / 1e9, 3) == 2.718
    assert round(c.flops_with_attention / 1e9, 3) == 2.869


@pytest.mark.parametrize("seq", [16, 40])
@pytest.mark.parametrize("arch", ["bert", "distilbert"])
def test_matches_flop_counter_mode(seq, arch):
    dyna = DynaBert(tiny_bert(heads=8, layers=4, ffn=96) if arch == "bert" else tiny_distilbert())
    ids = torch.randint(3, 200, (1, seq))
    for spec in default_grid():
        sub = extract(dyna, spec)
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            sub(ids)
        assert counter.get_total_flops() == cost(dyna.full_size, spec, seq).flops_with_attention, (
            spec.subnet_id
        )


def test_presets_have_sane_sizes():
    assert (
        round(cost(ARCHITECTURES["tinybert-4l-312d"], SubnetSpec(), 128).params_active / 1e6, 1)
        == 14.4
    )
    assert (
        round(cost(ARCHITECTURES["tinybert-6l-768d"], SubnetSpec(), 128).flops_dense / 1e9, 2)
        == 10.87
    )


def test_bad_seq_len():
    with pytest.raises(ValueError, match="seq_len"):
        cost(BertSize(), SubnetSpec(), 0)
