import pytest
import torch

from dynabert import DynaBert
from dynabert.rewire import importance, rewire_

from factories import padded_batch, tiny_bert, tiny_distilbert


def batches(n=3):
    out = []
    for i in range(n):
        ids, mask = padded_batch(seed=i)
        out.append({"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([0, 1, 1])})
    return out


@pytest.mark.parametrize("rule", ["paper", "code"])
@pytest.mark.parametrize("arch", ["bert", "distilbert"])
def test_rewire_keeps_full_size_function(rule, arch):
    dyna = DynaBert(tiny_bert(heads=8, layers=4, ffn=96) if arch == "bert" else tiny_distilbert())
    heads_n = dyna.full_size.num_heads
    ids, mask = padded_batch(seed=9)
    with torch.no_grad():
        before = dyna(ids, mask).logits
    heads, ffn = importance(dyna, batches(), rule=rule)
    assert heads.shape == (4, heads_n) and ffn.shape == (4, 96)
    assert torch.isfinite(heads).all() and torch.isfinite(ffn).all() and heads.sum() > 0
    assert all(p.grad is None for p in dyna.parameters())
    head_orders, _ = rewire_(dyna, heads, ffn)
    with torch.no_grad():
        after = dyna(ids, mask).logits
    torch.testing.assert_close(after, before, atol=1e-5, rtol=0)
    # the heads now in front are the top-ranked ones: scoring again gives descending scores per layer
    heads_again, ffn_again = importance(dyna, batches(), rule=rule)
    torch.testing.assert_close(heads_again, heads.gather(1, head_orders), rtol=1e-4, atol=1e-6)
    assert (heads_again[:, :-1] >= heads_again[:, 1:] - 1e-6).all()
    assert (ffn_again[:, :-1] >= ffn_again[:, 1:] - 1e-5).all()


def test_rules_differ_but_rank_alike():
    dyna = DynaBert(tiny_bert(heads=8, layers=2, ffn=96))
    paper, _ = importance(dyna, batches(4), "paper")
    code, _ = importance(dyna, batches(4), "code")
    assert not torch.allclose(paper, code)


def test_rewire_changes_pruned_output_towards_important_heads():
    dyna = DynaBert(tiny_bert(heads=8, layers=2, ffn=96))
    heads, ffn = importance(dyna, batches(), "paper")
    rewire_(dyna, heads, ffn)
    kept = dyna.backbone.encoder.layer[0].attention.self.query.weight.shape
    assert kept == (64, 64)  # weights stay full size; only the order changed


def test_bad_inputs():
    dyna = DynaBert(tiny_bert())
    with pytest.raises(ValueError, match="rule"):
        importance(dyna, batches(), rule="mine")
    with pytest.raises(ValueError, match="empty"):
        importance(dyna, [], rule="paper")
    with pytest.raises(ValueError, match="do not fit"):
        rewire_(dyna, torch.ones(3, 4), torch.ones(2, 128))
