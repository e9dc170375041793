import pytest

from dynabert.config import BertSize, SubnetSpec, default_grid


def test_default_grid_is_12_in_training_order():
    grid = default_grid()
    assert len(grid) == 12
    assert grid[0] == SubnetSpec(1.0, 1.0) and grid[-1] == SubnetSpec(0.25, 0.5)
    assert [s.width_mult for s in grid[:4]] == [1.0, 0.75, 0.5, 0.25]


@pytest.mark.parametrize(
    "depth,expected",
    [(1.0, tuple(range(12))), (0.75, (0, 1, 2, 4, 5, 6, 8, 9, 10)), (0.5, (0, 2, 4, 6, 8, 10))],
)
def test_layer_rule_bert_base(depth, expected):
    assert SubnetSpec(1.0, depth).layer_ids(12) == expected


def test_layer_rule_other_counts():
    assert SubnetSpec(1.0, 0.5).layer_ids(6) == (0, 2, 4)
    assert SubnetSpec(1.0, 0.75).layer_ids(6) == (
        0,
        1,
        2,
        4,
    )  # round(4.5) = 4, as the official code
    assert SubnetSpec(1.0, 0.5).layer_ids(2) == (0,)
    assert SubnetSpec(1.0, 0.75).layer_ids(4) == (0, 1, 2)


@pytest.mark.parametrize(
    "depth,expected",
    [
        (0.5, (0, 2, 4, 6, 8, 10, 12)),
        (0.75, (0, 1, 2, 4, 5, 6, 8, 9, 10, 12)),
        (1.0, tuple(range(13))),
    ],
)
def test_teacher_hidden_mapping(depth, expected):
    assert SubnetSpec(1.0, depth).teacher_hidden_ids(12) == expected


@pytest.mark.parametrize(
    "width,heads,ffn", [(1.0, 12, 3072), (0.75, 9, 2304), (0.5, 6, 1536), (0.25, 3, 768)]
)
def test_width_counts(width, heads, ffn):
    spec = SubnetSpec(width, 1.0)
    assert spec.heads_kept(12) == heads and spec.ffn_kept(12, 3072) == ffn


def test_subnet_id_round_trip():
    spec = SubnetSpec(0.75, 0.5)
    assert spec.subnet_id == "w0.75-d0.50"
    assert SubnetSpec.parse(spec.subnet_id) == spec
    with pytest.raises(ValueError, match="not a sub-network id"):
        SubnetSpec.parse("0.75x0.5")


@pytest.mark.parametrize(
    "w,d", [(0.0, 1.0), (1.5, 1.0), (1.0, -0.5), (1.0, 0.0), (float("nan"), 1.0)]
)
def test_out_of_range_refused(w, d):
    with pytest.raises((ValueError, TypeError), match="must be"):
        SubnetSpec(w, d)


def test_impossible_width_and_depth_named():
    with pytest.raises(ValueError, match=r"width_mult 0.3 .*2 heads"):
        SubnetSpec(0.3, 1.0).check(BertSize(num_heads=2, head_size=384))
    with pytest.raises(ValueError, match=r"width_mult 0.25 keeps 0 of 2 heads"):
        SubnetSpec(0.25, 1.0).heads_kept(2)
    with pytest.raises(ValueError, match=r"depth_mult 0.1 keeps 0 of 2 layers"):
        SubnetSpec(1.0, 0.1).layer_ids(2)


def test_bert_size_from_dict_rejects_unknown():
    assert BertSize.from_dict(BertSize().to_dict()) == BertSize()
    with pytest.raises(ValueError, match="unknown BertSize keys"):
        BertSize.from_dict({"hidden": 3})
    with pytest.raises(ValueError, match="num_heads"):
        BertSize(num_heads=0)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("save_every", -1, "--save-every must be >= 0"),
        ("eval_every", -1, "--eval-every must be >= 0"),
        ("logging_steps", 0, "--logging-steps must be positive"),
        ("max_train_samples", 0, "--max-train-samples must be at least 1"),
        ("warmup_ratio", float("nan"), "--warmup-ratio must be >= 0"),
    ],
)
def test_train_config_refuses_counts_out_of_range_by_flag(field, value, message):
    """`step % -1 == 0` would evaluate every step; 0 logging steps divides by zero; 0 rows crashes the tokenizer."""
    from dynabert.stages import TrainConfig

    with pytest.raises(ValueError, match=message):
        TrainConfig(task="sst2", data_dir="d", output_dir="o", **{field: value})
