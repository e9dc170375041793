"""A warm sweep (every cell already measured here) builds no model and imports no torch: a random-weight preset's
weights hash is cached, keyed by what decides those weights."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import artifacts
from bench.sweep import SweepConfig, run_sweep

ROOT = Path(__file__).resolve().parents[2]


def tiny_cfg(tmp_path: Path) -> SweepConfig:
    return SweepConfig(
        models=["tiny"],
        results=str(tmp_path / "r.jsonl"),
        runtimes=("onnxruntime",),
        widths=(1.0,),
        depths=(1.0,),
        seq_len=12,
        min_time_s=0,
        min_runs=2,
        warmup=1,
        cache=tmp_path / "cache",
    )


def refuse_builds(monkeypatch) -> None:
    def no_build(*a, **k):
        raise AssertionError("a model was built")

    monkeypatch.setattr("dynabert.presets.load_model", no_build)


@pytest.mark.slow
def test_warm_sweep_builds_no_model_and_imports_no_torch(tmp_path, monkeypatch):
    cfg = tiny_cfg(tmp_path)
    assert [r.status for r in run_sweep(cfg)] == ["ok"]
    with monkeypatch.context() as m:
        refuse_builds(m)
        assert run_sweep(cfg) == []  # every cell done: nothing built, nothing measured
    code = (
        "import sys; from bench.sweep import main; "
        f"rc = main(['--model', 'tiny', '--runtimes', 'onnxruntime', '--widths', '1.0', '--depths', '1.0', "
        f"'--seq-len', '12', '--cache-dir', {str(cfg.cache)!r}, '--results', {cfg.results!r}]); "
        "print(rc, sorted(m for m in ('torch', 'transformers', 'onnx') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TQDM_DISABLE": "1", "PYTHONPATH": str(ROOT)},
    )
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout + out.stderr


def test_cached_hash_is_the_built_models_hash(tmp_path):
    from dynabert.evaluate import weights_sha
    from dynabert.presets import load_model

    built = artifacts.load("tiny", tmp_path)
    assert built._dyna is not None  # first time: built, to hash it
    cached = artifacts.load("tiny", tmp_path)
    assert cached._dyna is None and cached.sha == built.sha == weights_sha(load_model("tiny"))
    assert weights_sha(cached.dyna.hf) == cached.sha  # built on first use, the same weights


@pytest.mark.parametrize("change", ["architecture", "seed", "torch", "transformers"])
def test_preset_hash_key_follows_what_decides_the_weights(tmp_path, monkeypatch, change):
    from dataclasses import replace

    import records.machine
    from dynabert.config import ARCHITECTURES

    before = artifacts.preset_key("tiny")
    artifacts.load("tiny", tmp_path)
    if change == "architecture":
        monkeypatch.setitem(ARCHITECTURES, "tiny", replace(ARCHITECTURES["tiny"], ffn_size=96))
    elif change == "seed":
        assert artifacts.preset_key("tiny", seed=1) != before
        return
    else:
        real = records.machine.package_versions
        monkeypatch.setattr(
            records.machine, "package_versions", lambda pkgs: {**real(pkgs), change: "0.0-other"}
        )
    after = artifacts.preset_key("tiny")
    assert after != before
    assert artifacts.preset_sha_file(tmp_path, "tiny", after) != artifacts.preset_sha_file(
        tmp_path, "tiny", before
    )
    assert artifacts.load("tiny", tmp_path)._dyna is not None  # not cached under the new key: built


def test_stale_cached_hash_is_refused_and_removed(tmp_path):
    artifacts.load("tiny", tmp_path)
    entry = artifacts.preset_sha_file(tmp_path, "tiny", artifacts.preset_key("tiny"))
    entry.write_text(json.dumps({"sha": "000000000000"}))
    model = artifacts.load("tiny", tmp_path)
    assert model.sha == "000000000000"
    with pytest.raises(ValueError, match="not the cached 000000000000.*run the command again"):
        _ = model.dyna
    assert not entry.exists()


@pytest.mark.slow
def test_export_workers_export_every_pending_cell_before_the_sweep_does(tmp_path, monkeypatch):
    """With 2 export workers the artifacts are made in the workers: the sweep's own process exports nothing (its
    exporter is broken here), and every cell is measured from the workers' checked artifacts."""

    def broken(*a, **k):
        raise AssertionError("exported in the sweep's process")

    monkeypatch.setattr("bench.export.export_onnx", broken)
    cfg = tiny_cfg(tmp_path)
    cfg.widths, cfg.runtimes, cfg.export_workers = (
        (1.0, 0.5),
        ("onnxruntime", "onnxruntime-int8"),
        2,
    )
    written = run_sweep(cfg)
    assert len(written) == 4 and all(r.status == "ok" for r in written), [r.error for r in written]


def test_deal_balances_work_and_keeps_a_subnetworks_formats_together():
    from bench.export_pool import deal
    from dynabert.config import SubnetSpec

    specs = [SubnetSpec(w, 1.0) for w in (1.0, 0.75, 0.5, 0.25)]
    jobs = [("m", s, f) for s in specs for f in ("onnx", "onnx-int8")] + [
        ("b", SubnetSpec(), "onnx")
    ]
    items = deal(jobs, 2, lambda model, spec: spec.width_mult)
    assert [m for m, _ in items].count("m") == 2 and [m for m, _ in items].count("b") == 1
    loads = sorted(
        sum(s.width_mult for s, f in work if f == "onnx") for m, work in items if m == "m"
    )
    assert loads == [1.25, 1.25]  # 1.0 + 0.25 and 0.75 + 0.5
    for _, work in items:
        assert all(
            (s, "onnx") in work for s, f in work
        )  # an int8 artifact's fp32 parent in the same item


@pytest.mark.slow
def test_export_only_fills_the_cache_and_the_next_sweep_measures_without_exporting(
    tmp_path, monkeypatch
):
    cfg = tiny_cfg(tmp_path)
    from bench.sweep import main

    assert (
        main(
            [
                "--model",
                "tiny",
                "--runtimes",
                "onnxruntime",
                "--widths",
                "1.0",
                "--depths",
                "1.0",
                "--seq-len",
                "12",
                "--cache-dir",
                str(cfg.cache),
                "--results",
                cfg.results,
                "--export-only",
            ]
        )
        == 0
    )
    assert not Path(cfg.results).exists()  # nothing measured, nothing written
    assert list(cfg.cache.rglob("*.onnx"))

    def broken(*a, **k):
        raise AssertionError("exported again")

    monkeypatch.setattr("bench.export.export_onnx", broken)
    cfg.export_only = False
    assert [r.status for r in run_sweep(cfg)] == ["ok"]
