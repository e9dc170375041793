"""recipes.equal_compute end to end on the tiny model and tiny TSVs: calibrate, equalise, train each setting,
table of every sub-network; a second call reuses everything."""

import json
import math
import random

import pytest

from recipes.equal_compute import budget_plan, main, parse_settings


def tiny_tsvs(folder):
    rng = random.Random(0)
    good, bad, filler = (
        ["good", "great", "fun"],
        ["bad", "dull", "weak"],
        ["the", "film", "was", "a", "plot"],
    )
    folder.mkdir()
    for name, n in (("train.tsv", 96), ("dev.tsv", 24)):
        rows = ["sentence\tlabel"]
        for _ in range(n):
            y = rng.randint(0, 1)
            rows.append(
                " ".join(rng.sample(filler, 3) + [rng.choice(good if y else bad)]) + f"\t{y}"
            )
        (folder / name).write_text("\n".join(rows) + "\n")
    return folder


def test_budget_plan_gives_cheaper_settings_more_steps_at_equal_seconds():
    plan = budget_plan({"all": 3.0, "k4": 1.2, "k6": 1.5}, [None, 4, 6], 640, 32, 20)
    assert plan["budget_seconds"] == 60.0 and plan["reference_examples"] == 640
    steps = {k: v["steps"] for k, v in plan["settings"].items()}
    assert steps == {"all": 20, "k4": 50, "k6": 40}
    assert plan["settings"]["k4"]["epochs"] == pytest.approx(2.5)
    for per_epoch, steps in (
        (3, 7),
        (7, 3),
        (2105, 5263),
        (49, 1000),
    ):  # the trainer's step count comes out exact
        epochs = budget_plan({"all": 1.0}, [None], steps * 32, 32, per_epoch)["settings"]["all"][
            "epochs"
        ]
        assert math.ceil(per_epoch * epochs) == steps
    assert all(v["planned_seconds"] == pytest.approx(60.0) for v in plan["settings"].values())


def test_settings_are_checked_naming_the_flag():
    assert parse_settings("all, 4,6") == [None, 4, 6]
    for bad in ("all,1", "all,x", "4,4"):
        with pytest.raises(SystemExit, match="--settings"):
            parse_settings(bad)


def test_a_k_beyond_the_grid_or_a_missing_folder_is_refused_before_any_work(tmp_path, monkeypatch):
    from dynabert.presets import load_model
    from recipes import equal_compute

    load_model("tiny").save_pretrained(tmp_path / "width" / "best")
    (tmp_path / "width" / "summary.json").write_text("{}")
    monkeypatch.setattr(
        equal_compute,
        "calibrate",
        lambda *a: pytest.fail("calibrated before the flags were checked"),
    )
    with pytest.raises(SystemExit, match="--settings 99: more sub-networks per step than the 12"):
        main(["--from", str(tmp_path), "--settings", "all,99", "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit, match="--examples must be at least 1"):
        main(
            [
                "--from",
                str(tmp_path),
                "--settings",
                "all,4",
                "--examples",
                "0",
                "--out",
                str(tmp_path / "out"),
            ]
        )
    with pytest.raises(SystemExit, match="no such folder"):
        main(
            [
                "--from",
                str(tmp_path / "nope"),
                "--settings",
                "all,4",
                "--out",
                str(tmp_path / "out"),
            ]
        )
    assert not (tmp_path / "out").exists() and not (tmp_path / "equal-compute").exists()


def test_multipliers_the_model_cannot_take_are_refused_before_calibration(tmp_path, monkeypatch):
    from dynabert.presets import load_model
    from recipes import equal_compute

    load_model("tiny").save_pretrained(tmp_path / "width" / "best")
    (tmp_path / "width" / "summary.json").write_text("{}")
    monkeypatch.setattr(
        equal_compute,
        "calibrate",
        lambda *a: pytest.fail("calibrated before the flags were checked"),
    )
    with pytest.raises(
        SystemExit, match=r"--widths 0\.3: .*width/best has 4 heads per layer.*k/4: 0\.25, 0\.5"
    ):
        main(
            [
                "--from",
                str(tmp_path),
                "--settings",
                "all,2",
                "--widths",
                "1.0,0.3",
                "--out",
                str(tmp_path / "o"),
            ]
        )
    with pytest.raises(
        SystemExit, match=r"--widths 0\.3: .*width/best has 4 heads"
    ):  # not "K beyond the grid"
        main(
            [
                "--from",
                str(tmp_path),
                "--settings",
                "all,4",
                "--widths",
                "0.3",
                "--out",
                str(tmp_path / "o"),
            ]
        )


@pytest.mark.slow
def test_equal_compute_end_to_end_on_tiny(tmp_path, monkeypatch):
    from dynabert.presets import load_model, load_tokenizer

    monkeypatch.chdir(
        tmp_path
    )  # as from the repository root: the report's command names relative paths
    tiny_tsvs(tmp_path / "data")  # --data-dir data
    src = tmp_path / "run"
    load_model("tiny", num_labels=2, seed=0).save_pretrained(src / "width" / "best")
    load_tokenizer("tiny").save_pretrained(src / "width" / "best")
    with pytest.raises(
        SystemExit, match="no finished stage width"
    ):  # best/ exists while stage width still trains
        main(["--from", "run", "--out", "rep"])
    (src / "width" / "summary.json").write_text("{}")
    out = tmp_path / "rep"
    argv = [
        "--from",
        "run",
        "--settings",
        "all,4,6",
        "--out",
        "rep",
        "--data-dir",
        "data",
        "--examples",
        "32",
        "--batch-size",
        "16",
        "--max-seq-len",
        "32",
        "--calibration-rounds",
        "2",
    ]
    assert main(argv) == 0
    report = json.loads((out / "equal-compute.json").read_text())
    plan = report["plan"]["settings"]
    assert list(plan) == ["all", "k4", "k6"] and plan["all"]["steps"] == 2  # 32 examples / 16
    for name, entry in plan.items():
        summary = json.loads((src / "equal-compute" / name / "depth" / "summary.json").read_text())
        assert summary["steps"] == entry["steps"]  # the trainer ran exactly the planned steps
        assert summary["subnets_per_step"] == (entry["subnets_per_step"] or 12)
        assert entry["planned_seconds"] == pytest.approx(report["plan"]["budget_seconds"], rel=0.5)
        assert len(report["dev"][name]) == 12
    cost = report["calibration"]["seconds_per_step"]
    assert cost["k4"] < cost["all"] and plan["k4"]["steps"] >= plan["all"]["steps"]
    text = (out / "equal-compute.md").read_text()
    assert text.count("| w") == 12 and "| mean of all |" in text and "**Verdict:** k4 " in text
    assert "| training CPU s |" in text
    assert str(tmp_path) not in text and "--from run --settings all,4,6" in text
    # a second call trains nothing and calibrates nothing again
    before = (out / "calibration.json").read_text()
    assert main(argv) == 0
    assert (out / "calibration.json").read_text() == before
    # another plan for a finished setting is refused by name; other calibration inputs calibrate again
    with pytest.raises(
        SystemExit,
        match=r"\[all\] run/equal-compute/all finished 2 steps .* this plan gives it 3 "
        r"steps .*delete run/equal-compute/all",
    ):
        main([*argv, "--examples", "48"])
    from recipes import equal_compute

    monkeypatch.setattr(equal_compute, "calibrate", lambda *a: pytest.fail("recalibrated"))
    with pytest.raises(pytest.fail.Exception, match="recalibrated"):
        main([*argv, "--calibration-rounds", "3"])
    with pytest.raises(SystemExit, match="--calibration-rounds must be at least 1"):
        main([*argv, "--calibration-rounds", "0"])


def finished_width(folder):
    from dynabert.presets import load_model

    load_model("tiny").save_pretrained(folder / "width" / "best")
    (folder / "width" / "summary.json").write_text("{}")
    return folder


def test_an_out_file_or_a_missing_data_dir_is_refused_before_anything_loads(tmp_path, monkeypatch):
    from recipes import equal_compute

    src, data = finished_width(tmp_path / "run"), tiny_tsvs(tmp_path / "data")
    monkeypatch.setattr(
        equal_compute,
        "calibrate",
        lambda *a: pytest.fail("calibrated before the inputs were checked"),
    )
    (tmp_path / "file").write_text("x")
    base = ["--from", str(src), "--settings", "all,4", "--data-dir", str(data)]
    with pytest.raises(SystemExit, match="--out .*file.* is a file, not a folder"):
        main([*base, "--out", str(tmp_path / "file")])
    with pytest.raises(SystemExit, match="--runs .*file.* is a file, not a folder"):
        main([*base, "--out", str(tmp_path / "o"), "--runs", str(tmp_path / "file" / "runs")])
    (tmp_path / "o" / "equal-compute.md").mkdir(parents=True)
    with pytest.raises(SystemExit, match="equal-compute.md is a folder where the report writes"):
        main([*base, "--out", str(tmp_path / "o")])
    with pytest.raises(
        SystemExit, match="--data-dir /nope: no such folder; give the task's data folder"
    ):
        main([*base[:-2], "--data-dir", "/nope", "--out", str(tmp_path / "o2")])
    (data / "dev.tsv").unlink()
    with pytest.raises(SystemExit, match="no dev.tsv or dev.csv in"):
        main([*base, "--out", str(tmp_path / "o2")])
    assert not (tmp_path / "o2").exists() and not (src / "equal-compute").exists()


@pytest.mark.slow
def test_the_command_says_error_and_exits_2_without_a_traceback(tmp_path):
    import subprocess
    import sys

    src, data = finished_width(tmp_path / "run"), tiny_tsvs(tmp_path / "data")
    (tmp_path / "file").write_text("x")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "recipes.equal_compute",
            "--from",
            str(src),
            "--data-dir",
            str(data),
            "--out",
            str(tmp_path / "file"),
        ],
        capture_output=True,
        text=True,
    )
    assert (
        done.returncode == 2
        and done.stderr.startswith("error: --out ")
        and "Traceback" not in done.stderr
    )


def test_a_truncated_calibration_is_measured_again_and_written_whole(tmp_path, capsys):
    from recipes.equal_compute import kept_calibration, write_atomic

    path = tmp_path / "calibration.json"
    path.write_text(
        '{"seconds_per_step": {"all": 1.'
    )  # a kill mid-write, before writes were atomic
    assert kept_calibration(path, None, [None]) is None
    assert "unreadable" in capsys.readouterr().err
    path.write_text("[]")
    assert kept_calibration(path, None, [None]) is None
    write_atomic(path, '{"a": 1}')
    assert json.loads(path.read_text()) == {"a": 1} and [p.name for p in tmp_path.iterdir()] == [
        "calibration.json"
    ]


def test_a_dangling_width_link_of_a_moved_run_is_pointed_again(tmp_path):
    """A run folder renamed after the comparison leaves each setting's width/ link dangling; a rerun relinks it."""
    from recipes.equal_compute import link_width

    old, new = tmp_path / "old-run", tmp_path / "run"
    (old / "width").mkdir(parents=True)
    link_width(old / "equal-compute" / "all", old)
    old.rename(new)
    link = new / "equal-compute" / "all" / "width"
    assert link.is_symlink() and not link.exists()  # dangling after the rename
    link_width(new / "equal-compute" / "all", new)
    assert link.resolve() == (new / "width").resolve()
