"""Which training flags a resume or a rerun of a finished stage compares, stage by stage (dynabert.run_flags)."""

import json
from dataclasses import asdict, fields, replace

import pytest

from dynabert.run_flags import NOT_COMPARED, SAMPLING, STAGE_FLAGS, changed_flags, trained_flags
from dynabert.stages import TrainConfig, check_finished_stage

from messages import assert_names


def test_every_training_flag_is_compared_or_listed_as_not_changing_what_is_trained():
    """A flag added to TrainConfig must be placed: compared by some stage, or named as not deciding training."""
    compared = {k for flags in STAGE_FLAGS.values() for k in flags}
    assert compared | set(NOT_COMPARED) | set(SAMPLING) == {f.name for f in fields(TrainConfig)}
    assert not compared & set(NOT_COMPARED)
    for flag in (
        "bucket",
        "teacher_width",
        "depth_lambda1",
        "max_grad_norm",
        "temperature",
        "importance_rule",
        "augment_model",
        "model",
        "data_dir",
        "seed",
        "epochs",
    ):
        assert flag in compared, flag


def test_a_stage_compares_its_own_and_its_lineages_flags_only():
    cfg = TrainConfig("sst2", "data", "out")
    assert "depth_lambda1" not in trained_flags(cfg, "teacher")  # the teacher is trained without it
    assert "depth_lambda1" not in trained_flags(cfg, "width")
    assert {"depth_lambda1", "teacher_width", "width_lambda1", "importance_rule"} <= set(
        trained_flags(cfg, "depth")
    )
    assert changed_flags(
        trained_flags(cfg, "depth"), trained_flags(replace(cfg, bucket=True), "depth")
    ) == ["--bucket: False -> True"]
    assert (
        changed_flags({}, trained_flags(replace(cfg, seed=7), "depth")) == []
    )  # older code saved none: kept


def test_same_path_given_two_ways_is_the_same_flag(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    a = trained_flags(TrainConfig("sst2", "data", "out"), "teacher")
    b = trained_flags(TrainConfig("sst2", str(tmp_path / "data"), "out"), "teacher")
    assert changed_flags(a, b) == []


def test_finished_teacher_is_reused_by_a_later_stages_flags_but_not_another_seed(tmp_path):
    """`--stage all --depth-lambda1 5` after a finished teacher: the teacher does not depend on it (reused); another
    seed or model would have trained another teacher (refused, naming the flag and the fix)."""
    cfg = TrainConfig("sst2", "data", str(tmp_path), model="tiny")
    (tmp_path / "teacher").mkdir()
    (tmp_path / "teacher" / "summary.json").write_text(json.dumps({"config": asdict(cfg)}))
    assert check_finished_stage(
        replace(cfg, depth_lambda1=5.0, teacher_width="matched", eval_every=3),
        "teacher",
        tmp_path / "teacher",
    )
    with pytest.raises(ValueError) as refused:
        check_finished_stage(
            replace(cfg, seed=7, model="bert-base"), "teacher", tmp_path / "teacher"
        )
    assert_names(
        str(refused.value),
        str(tmp_path / "teacher"),
        "--seed: 42 -> 7",
        "--model: tiny -> bert-base",
        "give another --output-dir",
    )
