"""The dynamic model equals HF at full size, and every extracted sub-network equals the dynamic model."""

import pytest
import torch
from transformers import AutoModelForSequenceClassification

from dynabert import DynaBert, SubnetSpec, bert_size, cost, default_grid, extract
from dynabert.presets import load_model

from factories import padded_batch, tiny_bert, tiny_distilbert, tiny_roberta

MODELS = {
    "bert-4h-2l": lambda: tiny_bert(),
    "bert-8h-4l": lambda: tiny_bert(heads=8, layers=4, hidden=64, ffn=96),
    "roberta-4h-4l": tiny_roberta,
    "distilbert-4h-4l": tiny_distilbert,
}


@pytest.mark.parametrize("name", MODELS)
def test_full_size_equals_hugging_face(name):
    hf = MODELS[name]()
    ids, mask = padded_batch()
    with torch.no_grad():
        ref = hf(input_ids=ids, attention_mask=mask).logits
        out = DynaBert(hf)(ids, mask).logits
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", MODELS)
def test_extracted_equals_dynamic_for_every_spec(name):
    dyna = DynaBert(MODELS[name]())
    size = dyna.full_size
    ids, mask = padded_batch()
    for spec in default_grid():
        sub = extract(dyna, spec)
        with torch.no_grad():
            dyn = dyna(ids, mask, spec=spec)
            ext = sub(ids, mask).logits
        assert len(dyn.hidden_states) == len(spec.layer_ids(size.num_layers)) + 1
        torch.testing.assert_close(ext, dyn.logits, atol=1e-5, rtol=0, msg=spec.subnet_id)
        assert sum(p.numel() for p in sub.parameters()) == cost(size, spec).params_active, (
            spec.subnet_id
        )
        assert all(p.is_contiguous() for p in sub.parameters())
        assert sub.config.num_attention_heads == spec.heads_kept(size.num_heads)


def test_extracted_weights_are_copies(bert):
    dyna = DynaBert(bert)
    sub = extract(dyna, SubnetSpec(0.5, 0.5))
    before = sub.layers[0].query.weight.clone()
    with torch.no_grad():
        bert.bert.encoder.layer[0].attention.self.query.weight.add_(1.0)
    torch.testing.assert_close(sub.layers[0].query.weight, before)


def test_active_context_restores(bert):
    dyna = DynaBert(bert)
    ids, mask = padded_batch()
    with torch.no_grad(), dyna.active(SubnetSpec(0.5, 0.5)):
        inside = dyna(ids, mask)
        assert dyna.active_spec == SubnetSpec(0.5, 0.5)
    assert dyna.active_spec == SubnetSpec()
    assert len(inside.hidden_states) == 2


def test_head_mask_gates_heads(bert):
    """A zero in the head mask equals removing that head's contribution (its attention-out columns)."""
    dyna = DynaBert(bert)
    ids, mask = padded_batch()
    head_mask = torch.ones(2, 4)
    head_mask[0, 1] = 0
    with torch.no_grad():
        torch.testing.assert_close(
            dyna(ids, mask, head_mask=torch.ones(2, 4)).logits, dyna(ids, mask).logits
        )
        gated = dyna(ids, mask, head_mask=head_mask).logits
        bert.bert.encoder.layer[0].attention.output.dense.weight[:, 16:32] = (
            0  # head 1 of 4, size 16
        )
        removed = dyna(ids, mask).logits
    torch.testing.assert_close(gated, removed, atol=1e-6, rtol=0)


def test_save_load_round_trip_exact(tmp_path, bert):
    sub = extract(DynaBert(bert), SubnetSpec(0.75, 0.5))
    ids, mask = padded_batch()
    sub.save_pretrained(tmp_path)
    again = load_model(str(tmp_path))
    auto = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        ref = sub(ids, mask).logits
        assert torch.equal(again(ids, mask).logits, ref)
        assert torch.equal(auto(ids, mask).logits, ref)
    assert type(auto) is type(sub)  # this project's own class, not the copied remote code
    assert again.config.source_layer_ids == [0]
    assert again.config.attention_head_size == 16


def test_dynamic_model_trains_through_views(bert):
    dyna = DynaBert(bert).train()
    ids, mask = padded_batch()
    dyna(ids, mask, spec=SubnetSpec(0.25, 0.5)).logits.sum().backward()
    grad = bert.bert.encoder.layer[0].attention.self.query.weight.grad
    assert grad[:16].abs().sum() > 0 and grad[16:].abs().sum() == 0  # only the kept head's rows
    assert (
        bert.bert.encoder.layer[1].attention.self.query.weight.grad is None
    )  # dropped layer untouched


def test_bert_size_of_roberta_distilbert_and_unsupported():
    assert bert_size(tiny_roberta().config).head_type == "roberta-head"
    distil = bert_size(tiny_distilbert().config)
    assert (distil.head_type, distil.type_vocab_size, distil.ffn_size, distil.num_layers) == (
        "distilbert-head",
        0,
        96,
        4,
    )
    from transformers import GPT2Config

    with pytest.raises(ValueError, match="unsupported architecture 'gpt2'"):
        bert_size(GPT2Config())
