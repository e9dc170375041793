"""The emulated aarch64 target on the tiny model: outputs match x86, instruction counts repeat (within 0.1%)."""

import os
import shutil

import numpy as np
import pytest

from devices import qemu_arm

pytestmark = [pytest.mark.arm, pytest.mark.slow]  # emulated ARM: minutes per cell


@pytest.fixture(scope="module")
def target():
    ok, why = qemu_arm.status()
    if not ok:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.skip(f"emulated ARM target not ready ({why}) and no root/apt-get to build it")
        qemu_arm.setup()  # idempotent; what `python -m devices setup qemu-arm` does
    return qemu_arm.default_cache()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    from bench.export import ensure_artifact
    from dynabert import DynaBert, SubnetSpec, extract, load_model
    from dynabert.evaluate import weights_sha

    hf = load_model("tiny")
    dyna, sha = DynaBert(hf), weights_sha(hf)
    cache = tmp_path_factory.mktemp("arm-artifacts")
    out = {}
    for spec in (SubnetSpec(1.0, 1.0), SubnetSpec(0.25, 0.5)):
        for fmt in ("onnx", "tflite"):
            out[(spec.subnet_id, fmt)] = ensure_artifact(
                extract(dyna, spec), sha, spec.subnet_id, fmt, 16, cache
            )[0]
    return out


def qemu_run(path, runtime, seq_len=16, save_output=None, cache=None):
    """The emulated target's measurement of one artifact (as the sweep plans it)."""
    from devices.inputs import read_input_spec
    from devices.request import RunRequest

    target = qemu_arm.QemuArm({"name": "qemu-arm", **({"cache": str(cache)} if cache else {})})
    spec = read_input_spec(path)
    return target.run(
        target.plan(
            RunRequest(
                artifact=path,
                runtime=runtime,
                inputs=spec,
                seq_len=seq_len,
                save_output=save_output or f"{path}.arm-out.npy",
            )
        )
    )


@pytest.mark.parametrize("subnet", ["w1.00-d1.00", "w0.25-d0.50"])
@pytest.mark.parametrize("fmt,runtime", [("onnx", "onnxruntime"), ("tflite", "litert")])
def test_arm_matches_x86_and_counts_repeat_within_0p1_percent(
    target, artifacts, subnet, fmt, runtime, tmp_path
):
    from devices.runner import load, make_inputs

    path = artifacts[(subnet, fmt)]
    first = qemu_run(path, runtime, save_output=str(tmp_path / "arm.npy"))
    assert first.ok, first.error
    assert first.machine == "aarch64"
    run, _ = load(runtime, str(path), 1)
    assert np.abs(np.load(tmp_path / "arm.npy") - run(make_inputs(1, 16, 30522, 2))).max() <= 1e-4
    second = qemu_run(path, runtime)
    # Exact repeats are the rule (w0.25-d0.50 and LiteRT repeat to the instruction), but on this machine the full
    # tiny model on onnxruntime moved between processes with an identical argv and environment, with the previous
    # code too: [1127344, 1130769, 1125619] vs [1127837, 1129923, 1124739] (0.08%), within the 0.1% the setup
    # notes give. The bound is that; a fixed output name removed the larger shift a random one caused.
    for a, b in zip(first.instructions_per_run, second.instructions_per_run):
        assert abs(a - b) <= 1e-3 * a, (first.instructions_per_run, second.instructions_per_run)
    assert second.instructions_per_inference > 0
    assert "not ARM latency" in first.extra["emulated"]["note"]


def test_smaller_subnet_needs_fewer_instructions(target, artifacts):
    big = qemu_run(artifacts[("w1.00-d1.00", "onnx")], "onnxruntime")
    small = qemu_run(artifacts[("w0.25-d0.50", "onnx")], "onnxruntime")
    assert small.instructions_per_inference < big.instructions_per_inference


def test_missing_qemu_is_named(monkeypatch, tmp_path):
    from devices.request import ROLES, InputSpec, RunRequest

    monkeypatch.setattr(qemu_arm, "qemu_binary", lambda: None)
    ok, why = qemu_arm.status()
    assert not ok and "qemu-user" in why
    request = RunRequest(
        artifact=tmp_path / "m.onnx",
        runtime="onnxruntime",
        inputs=InputSpec(ROLES, "int64", 100, 2),
    )
    r = qemu_arm.QemuArm({"name": "qemu-arm"}).run(request)
    assert not r.ok and not r.refused and "qemu-arm" in r.error and "qemu-user" in r.error
    torch_cell = qemu_arm.QemuArm({"name": "qemu-arm"}).run(
        RunRequest(artifact=tmp_path, runtime="torch", inputs=request.inputs)
    )
    assert torch_cell.refused and "no aarch64 torch" in torch_cell.error


def test_wrong_architecture_wheel_is_named(target, artifacts, tmp_path):
    """An x86_64 onnxruntime in the guest's site folder gives a clear failed cell, not a hang."""
    fake = tmp_path / "qemu-arm"
    fake.mkdir()
    for name in ("sysroot", "home", "libinsncount.so", "site-litert"):
        (fake / name).symlink_to(target / name)
    import onnxruntime

    x86_site = tmp_path / "x86-site"
    x86_site.mkdir()
    (x86_site / "onnxruntime").symlink_to(os.path.dirname(onnxruntime.__file__))
    (fake / "site-ort").symlink_to(x86_site)
    r = qemu_run(artifacts[("w1.00-d1.00", "onnx")], "onnxruntime", cache=fake)
    assert not r.ok and (
        "ImportError" in r.error or "ModuleNotFoundError" in r.error or "ELF" in r.error
    )
