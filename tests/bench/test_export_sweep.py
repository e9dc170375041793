"""Exports pass their numerics check for several sub-networks; corrupt artifacts, missing runtimes, failed cells
and killed sweeps give clear messages and lose no finished record."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

import records
from bench.export import ensure_artifact
from bench.sweep import SweepConfig, run_sweep
from bench.sweep import main as sweep_main
from devices.inputs import read_input_spec
from devices.local import LocalCpu, available
from devices.request import RunRequest, RunResult
from dynabert import DynaBert, SubnetSpec, extract
from dynabert.evaluate import weights_sha

from messages import assert_names

ROOT = Path(__file__).resolve().parents[2]


def run_fresh(path, runtime, seq_len, inputs=None, **kw):
    """One local fresh-process run of `path` (quick settings); `inputs` defaults to the artifact's own spec."""
    inputs = inputs or read_input_spec(path)
    request = RunRequest(
        artifact=path,
        runtime=runtime,
        inputs=inputs,
        seq_len=seq_len,
        warmup=1,
        min_runs=2,
        min_time_s=0.0,
        **kw,
    )
    return LocalCpu({"name": "local-cpu"}).run(request)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("artifacts")


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["onnx", "onnx-int8", "tflite", "tflite-int8"])
@pytest.mark.parametrize("wd", [(1.0, 1.0), (0.25, 0.5), (0.75, 0.5)])
def test_export_numerics(tiny_dyna, cache, fmt, wd):
    dyna, sha = tiny_dyna
    spec = SubnetSpec(*wd)
    path, meta = ensure_artifact(extract(dyna, spec), sha, spec.subnet_id, fmt, 16, cache)
    assert meta["ok"] and meta["argmax_agree"], meta
    assert meta["max_abs_err"] <= (1e-4 if not fmt.endswith("int8") else meta["tolerance"])
    assert path.stat().st_size == meta["bytes"]
    again, _ = ensure_artifact(
        extract(dyna, spec), sha, spec.subnet_id, fmt, 16, cache
    )  # cached: same file
    assert again == path and again.stat().st_mtime == path.stat().st_mtime


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_distilbert_layout_exports_and_runs(cache, fmt, tmp_path):
    """A sub-network cut from a DistilBERT-layout model (no token-type embeddings, ReLU head) goes through the
    same export, check and runner path; the runner's token_type_ids are simply not consumed."""
    from factories import tiny_distilbert

    hf = tiny_distilbert(layers=2, vocab=30522)
    sub = extract(DynaBert(hf), SubnetSpec(0.5, 0.5))
    path, meta = ensure_artifact(sub, weights_sha(hf), "w0.50-d0.50", fmt, 16, cache)
    assert meta["ok"] and meta["max_abs_err"] <= 1e-4, meta
    out = run_fresh(
        path, "onnxruntime" if fmt == "onnx" else "litert", 16, save_output=str(tmp_path / "y.npy")
    )
    assert out.ok, out
    assert read_input_spec(path).type_vocab_size == 1  # no token-type table: types drawn as 0


@pytest.mark.slow
def test_corrupted_artifact_is_a_clear_error(tiny_dyna, cache, tmp_path):
    dyna, sha = tiny_dyna
    path, _ = ensure_artifact(extract(dyna, SubnetSpec()), sha, "w1.00-d1.00", "onnx", 16, cache)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    good = read_input_spec(path)
    out = run_fresh(bad, "onnxruntime", 16, inputs=good)
    assert not out.ok and (
        "INVALID" in out.error or "protobuf" in out.error.lower() or "Load" in out.error
    )
    bad_tfl = tmp_path / "bad.tflite"
    bad_tfl.write_bytes(b"\0" * 1000)
    out = run_fresh(bad_tfl, "litert", 16, inputs=good)
    assert not out.ok and out.error


@pytest.mark.slow
def test_runner_runs_onnxruntime_without_telemetry(tiny_dyna, cache, tmp_path, monkeypatch):
    """onnxruntime >= 1.29 starts a telemetry uploader and an on-disk event cache under HOME unless told not to;
    the runner must measure inference alone, so a fresh HOME stays free of that cache."""
    dyna, sha = tiny_dyna
    path, _ = ensure_artifact(
        extract(dyna, SubnetSpec(0.25, 0.5)), sha, "w0.25-d0.50", "onnx", 16, cache
    )
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("ORT_DISABLE_TELEMETRY", raising=False)
    out = run_fresh(path, "onnxruntime", 16)
    assert out.ok, out
    assert not (tmp_path / ".cache" / "Microsoft").exists()


def test_missing_runtime_named():
    ok, why = available("onnxruntime")
    assert ok
    ok, why = available("tensorrt")
    assert not ok and "unknown runtime" in why


@pytest.mark.slow
def test_missing_runtime_package_in_runner(tmp_path):
    """A runner on a machine without ai_edge_litert/tflite_runtime says which package is missing."""
    shim = tmp_path / "shim"
    shim.mkdir()
    for name in ("ai_edge_litert", "tflite_runtime"):
        (shim / name).mkdir()
        (shim / name / "__init__.py").write_text(f"raise ImportError('No module named {name}')\n")
    env = {**os.environ, "PYTHONPATH": str(shim)}
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "devices" / "runner.py"),
            "--artifact",
            "x.tflite",
            "--runtime",
            "litert",
            "--vocab-size",
            "100",
            "--type-vocab-size",
            "2",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    result = json.loads(proc.stdout)
    assert not result["ok"]
    assert_names(result["error"], "ai-edge-litert", "tflite-runtime", "pip install")


@pytest.mark.slow
def test_sweep_writes_records_and_resumes(tmp_path, cache, capsys):
    store = tmp_path / "r.jsonl"
    args = [
        "--model",
        "tiny",
        "--runtimes",
        "onnxruntime,litert",
        "--widths",
        "1.0,0.5",
        "--depths",
        "1.0",
        "--seq-len",
        "16",
        "--min-time",
        "0",
        "--min-runs",
        "3",
        "--warmup",
        "1",
        "--cache-dir",
        str(cache),
        "--results",
        str(store),
    ]
    assert sweep_main(args) == 0
    recs = records.read(store)
    assert len(recs) == 4 and all(r.status == "ok" for r in recs)
    r = recs[0]
    assert (
        r.latency_ms_p50 > 0
        and r.n_runs >= 3
        and len(r.samples_ms) == r.n_runs
        and r.peak_rss_mb > 0
    )
    assert r.flops == 2 * (2 * 16 * (4 * 64 * 64 + 2 * 64 * 128) + 64 * 64 + 64 * 2)
    assert (
        r.git_sha is not None and r.cpu_model and r.runtime_version and r.export_max_abs_err < 1e-4
    )
    assert isinstance(r.env["load_avg_1min"], float)  # each record: the load when its cell finished
    assert [x.timestamp_utc for x in recs] == sorted(
        x.timestamp_utc for x in recs
    )  # stamped when measured
    assert "median latency" in capsys.readouterr().out
    assert sweep_main(args) == 0  # all done: nothing measured again
    assert len(records.read(store)) == 4


@pytest.mark.slow
def test_every_export_happens_before_the_first_timed_run(tmp_path, monkeypatch):
    """Exports (torch threads, files written) never run beside a timed process: all come first."""
    import bench.sweep as sweep

    cache = tmp_path / "fresh-cache"
    seen = []

    def fake_device(target, request):
        seen.append(sorted(p.name for p in cache.rglob("*.onnx")))
        return RunResult.failed("not timed in this test")

    monkeypatch.setattr(sweep, "run_on_device", fake_device)
    cfg = SweepConfig(
        models=["tiny"],
        results=str(tmp_path / "r.jsonl"),
        runtimes=("onnxruntime",),
        widths=(1.0, 0.5),
        depths=(1.0,),
        seq_len=12,
        min_time_s=0,
        min_runs=2,
        cache=cache,
    )
    run_sweep(cfg)
    # each artifact and the plain export it was fused from (<stem>.unfused.onnx, bench/ort_fusion.py)
    assert len(seen) == 2 and all(len(names) == 4 for names in seen)
    assert all(sum(n.endswith(".unfused.onnx") for n in names) == 2 for names in seen)


@pytest.mark.slow
def test_failed_cell_still_writes_a_record(tmp_path, cache, monkeypatch):

    def broken(*a, **k):
        raise RuntimeError("converter exploded")

    monkeypatch.setattr("bench.export.export_tflite", broken)
    store = tmp_path / "r.jsonl"
    cfg = SweepConfig(
        models=["tiny"],
        results=str(store),
        runtimes=("litert",),
        widths=(0.75,),
        depths=(0.75,),
        seq_len=12,
        min_time_s=0,
        min_runs=2,
        cache=tmp_path / "fresh-cache",
    )
    written = run_sweep(cfg)
    assert [r.status for r in written] == ["error"] and "converter exploded" in written[0].error
    assert records.read(store)[0].status == "error"


@pytest.mark.slow
def test_killed_sweep_loses_nothing(tmp_path, cache):
    store = tmp_path / "r.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "bench.sweep",
        "--model",
        "tiny",
        "--runtimes",
        "onnxruntime",
        "--seq-len",
        "16",
        "--widths",
        "1.0,0.5,0.25",
        "--min-time",
        "0.5",
        "--min-runs",
        "3",
        "--cache-dir",
        str(cache),
        "--results",
        str(store),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        if store.exists() and len(store.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = records.read(store)
    assert 2 <= len(before) < 9, "the kill came too late to test resume"
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
    after = records.read(store)
    assert len(after) == 9 and len({r.key for r in after}) == 9
    assert after[: len(before)] == before


@pytest.mark.slow
def test_processes_are_interleaved_and_pooled(tmp_path, cache, monkeypatch):
    """processes=3: round r of every cell before round r + 1 of any; timed runs pooled, medians kept."""
    import bench.sweep as sweep

    order = []
    real = sweep.run_on_device

    def spy(target, request):
        order.append(request.artifact.parent.name)
        return real(target, request)

    monkeypatch.setattr(sweep, "run_on_device", spy)
    store = tmp_path / "r.jsonl"
    cfg = SweepConfig(
        models=["tiny"],
        results=str(store),
        runtimes=("onnxruntime",),
        widths=(1.0, 0.5),
        depths=(1.0,),
        seq_len=12,
        min_time_s=0,
        min_runs=4,
        warmup=1,
        cache=cache,
        processes=3,
    )
    written = run_sweep(cfg)
    assert order == ["w1.00-d1.00", "w0.50-d1.00"] * 3
    for rec in written:
        assert rec.status == "ok" and rec.n_runs == 12 and len(rec.env["process_medians_ms"]) == 3
    assert run_sweep(cfg) == []  # finished cells are not measured again


@pytest.mark.slow
def test_another_machines_store_is_remeasured_here(tmp_path, cache):
    """A store written on another machine (another fingerprint, or none: records from before machine identity)
    makes no cell count as done here: every cell is measured again, and the new records carry this machine's
    fingerprint, description and a timestamp; the foreign records stay as they were."""
    from records.machine import this_machine

    store = tmp_path / "r.jsonl"
    cfg = SweepConfig(
        models=["tiny"],
        results=str(store),
        runtimes=("onnxruntime",),
        widths=(1.0, 0.5),
        depths=(1.0, 0.5),
        seq_len=12,
        min_time_s=0,
        min_runs=3,
        warmup=1,
        cache=cache,
    )
    here = this_machine()
    first = run_sweep(cfg)
    assert len(first) == 4 and {r.machine_fingerprint for r in first} == {here.fingerprint}
    assert (
        first[0].machine["isa"] == list(here.isa)
        and first[0].machine["cpu_model"] == here.cpu_model
    )
    other = {**first[0].machine, "cpu_model": "Other CPU", "isa": ["avx2", "fma"]}
    foreign = [replace(r, machine_fingerprint="0123456789ab", machine=other) for r in first]
    foreign += [
        replace(first[0], machine_fingerprint=None, machine=None)
    ]  # an old, unfingerprinted record
    store.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in foreign))
    again = run_sweep(cfg)
    assert sorted(r.subnet_id for r in again) == sorted(
        r.subnet_id for r in first
    )  # every cell, once
    assert all(r.machine_fingerprint == here.fingerprint and r.timestamp_utc for r in again)
    assert len(records.read(store)) == len(foreign) + 4
    assert run_sweep(cfg) == []  # now measured here: nothing to do


def test_machine_fingerprint_covers_what_decides_latency():
    """The fingerprint is a hash of every identity field: changing any one (ISA, cores, a runtime version)
    changes it; the same fields give the same fingerprint."""
    from records.machine import fingerprint, this_machine

    m = this_machine().to_dict()
    assert fingerprint(m) == this_machine().fingerprint and len(fingerprint(m)) == 12
    for change in (
        {"isa": ["avx2"]},
        {"cores_used": m["cores_used"] + 1},
        {"runtimes": {**m["runtimes"], "onnxruntime": "0.0.1"}},
        {"cpu_model": "Other"},
    ):
        assert fingerprint({**m, **change}) != fingerprint(m)


def _counting_check(monkeypatch):
    """Replace bench.export.check by itself plus a log of the formats it checked."""
    import bench.export as export

    real, calls = export.check, []
    monkeypatch.setattr(
        export, "check", lambda model, fmt, *a: calls.append(fmt) or real(model, fmt, *a)
    )
    return calls


@pytest.mark.slow
def test_changed_exporter_version_reexports_and_rechecks(tiny_dyna, tmp_path, monkeypatch):
    """The cached file and its check belong to the exporter versions that made them: another onnxscript version
    is another cache entry, exported and checked anew; the old entry is left as it was."""
    import bench.export as export

    dyna, sha = tiny_dyna
    spec = SubnetSpec(0.5, 0.5)
    path, meta = ensure_artifact(extract(dyna, spec), sha, spec.subnet_id, "onnx", 16, tmp_path)
    assert meta["export_key"]["exporters"]["onnxscript"] is not None
    real = export.package_versions
    monkeypatch.setattr(
        export,
        "package_versions",
        lambda pkgs: {
            **real(pkgs),
            **({"onnxscript": "0.0.1-other"} if "onnxscript" in pkgs else {}),
        },
    )
    calls = _counting_check(monkeypatch)
    again, meta2 = ensure_artifact(extract(dyna, spec), sha, spec.subnet_id, "onnx", 16, tmp_path)
    assert again != path and again.is_file() and path.is_file()
    assert (
        calls == ["onnx"]
        and meta2["ok"]
        and meta2["export_key"]["exporters"]["onnxscript"] == "0.0.1-other"
    )


@pytest.mark.slow
@pytest.mark.parametrize("change", ["tolerance", "runtime", "isa"])
def test_changed_tolerance_runtime_or_cpu_rechecks_the_cached_file(
    tiny_dyna, tmp_path, monkeypatch, change
):
    """A cached int8 verdict is reused only under the tolerance, checking-runtime version and CPU features it
    was made with; any other -> the same file is checked again (not re-exported) and the new key stored."""
    import bench.export as export
    import records.machine as machine

    dyna, sha = tiny_dyna
    spec = SubnetSpec(0.25, 0.5)
    path, meta = ensure_artifact(
        extract(dyna, spec), sha, spec.subnet_id, "onnx-int8", 16, tmp_path
    )
    mtime = path.stat().st_mtime_ns
    if change == "tolerance":
        monkeypatch.setattr(export, "INT8_REL_TOL", export.INT8_REL_TOL / 2)
    elif change == "runtime":
        real = export.package_versions
        monkeypatch.setattr(
            export,
            "package_versions",
            lambda pkgs: {
                **real(pkgs),
                **({"onnxruntime": "9.9.9"} if pkgs == ("onnxruntime",) else {}),
            },
        )
    else:
        real_m = machine.this_machine
        monkeypatch.setattr(
            machine, "this_machine", lambda *a: replace(real_m(*a), isa=("avx2", "fma", "amx_int8"))
        )
    calls = _counting_check(monkeypatch)
    again, meta2 = ensure_artifact(
        extract(dyna, spec), sha, spec.subnet_id, "onnx-int8", 16, tmp_path
    )
    assert again == path and path.stat().st_mtime_ns == mtime  # same file, not re-exported
    assert calls == ["onnx-int8"] and meta2["check_key"] != meta["check_key"]
    again, _ = ensure_artifact(extract(dyna, spec), sha, spec.subnet_id, "onnx-int8", 16, tmp_path)
    assert calls == ["onnx-int8"]  # the new verdict is cached in its turn


def test_onnx_int8_settings_follow_the_cpu():
    """reduce_range (7-bit weights) exactly where the CPU lacks an int8 dot-product instruction."""
    from bench.export import onnx_int8_settings

    assert onnx_int8_settings(("avx2", "fma"))["reduce_range"] is True
    assert onnx_int8_settings(("avx2", "avx512f", "avx512_vnni"))["reduce_range"] is False
    assert onnx_int8_settings(("asimd", "asimddp"))["reduce_range"] is False
    assert all(onnx_int8_settings(isa)["per_channel"] for isa in (("avx2",), ("avx_vnni",)))


@pytest.mark.slow
def test_export_only_names_a_failed_export_and_exits_1(tmp_path, monkeypatch, capsys):
    """--export-only writes no records, so a failed export is said on stderr and in the exit code, never
    reported as 'exported and checked'."""
    from bench.sweep import main

    def broken(*a, **k):
        raise RuntimeError("converter exploded")

    monkeypatch.setattr("bench.export.export_tflite", broken)
    store = tmp_path / "r.jsonl"
    assert (
        main(
            [
                "--model",
                "tiny",
                "--runtimes",
                "litert",
                "--widths",
                "0.75",
                "--depths",
                "0.75",
                "--seq-len",
                "12",
                "--cache-dir",
                str(tmp_path / "fresh-cache"),
                "--results",
                str(store),
                "--export-only",
            ]
        )
        == 1
    )
    out, err = capsys.readouterr()
    assert "0 pending cell(s) exported and checked, 1 failed" in out and "converter exploded" in err
    assert not store.exists()


def test_onnx_int8_candidates_start_with_the_cpus_settings_then_leave_attention_fp32():
    from bench.export import onnx_int8_candidates, onnx_int8_settings

    vnni = ("avx2", "avx512f", "avx512_vnni")
    got = onnx_int8_candidates(vnni)
    assert got[0] == onnx_int8_settings(vnni) and got[1]["op_types_to_quantize"] == ["MatMul"]
    assert got[2] == {**got[1], "reduce_range": True} and len(got) == 3
    assert (
        len(onnx_int8_candidates(("avx2", "fma"))) == 2
    )  # reduce_range already on: the third is the second
