"""OpenVINO (openvino, openvino-int8 via NNCF) and ExecuTorch (executorch, executorch-int8 via XNNPACK) artifacts:
exported, checked against torch, cached by their settings, read back and timed in a fresh runner process; a
missing package is a skip naming its pip command; an op the converter cannot take is an error naming the op."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench.cells import RUNTIMES, Cell, skip_reason
from bench.export import ensure_artifact, export_key
from devices.inputs import read_input_spec
from devices.local import LocalCpu
from devices.request import RunRequest
from dynabert import DynaBert, SubnetSpec, extract, load_model
from dynabert.evaluate import weights_sha

openvino = pytest.importorskip("openvino", reason="pip install openvino nncf")
executorch = pytest.importorskip("executorch", reason="pip install executorch")

ROOT = Path(__file__).resolve().parents[2]
SPEC = SubnetSpec(0.5, 0.5)
SEQ = 16


@pytest.fixture(scope="module")
def tiny():
    hf = load_model("tiny")
    return extract(DynaBert(hf), SPEC), weights_sha(hf)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("artifacts")


def run_fresh(path: Path, runtime: str) -> object:
    request = RunRequest(
        artifact=path,
        runtime=runtime,
        inputs=read_input_spec(path),
        seq_len=SEQ,
        warmup=1,
        min_runs=2,
        min_time_s=0.0,
        pin=True,
    )
    return LocalCpu({"name": "local-cpu"}).run(request)


@pytest.mark.slow
def test_openvino_fp32_and_int8_pass_the_check_and_run_with_the_latency_settings(tiny, cache):
    sub, sha = tiny
    fp32, meta = ensure_artifact(sub, sha, SPEC.subnet_id, "openvino", SEQ, cache)
    assert meta["ok"] and meta["max_abs_err"] <= 1e-4, meta
    assert meta["bytes"] > fp32.with_suffix(".bin").stat().st_size  # the .xml and its weights
    int8, qmeta = ensure_artifact(sub, sha, SPEC.subnet_id, "openvino-int8", SEQ, cache)
    assert qmeta["ok"] and qmeta["max_abs_err"] <= qmeta["tolerance"], qmeta
    assert qmeta["quantization"]["calibration"] == "synthetic"
    assert qmeta["quantization"]["nncf"] and qmeta["bytes"] < meta["bytes"] / 2
    spec = read_input_spec(fp32)
    assert (spec.vocab_size, spec.type_vocab_size) == (
        sub.config.vocab_size,
        sub.config.type_vocab_size,
    )
    assert (spec.batch, spec.seq_len) == (None, None)  # dynamic axes
    result = run_fresh(int8, "openvino")
    assert result.ok, result.error
    props = result.extra["compile_properties"]
    assert props["PERFORMANCE_HINT"] == "LATENCY" and props["NUM_STREAMS"] == "1"
    assert props["INFERENCE_NUM_THREADS"] == "1" and props["INFERENCE_PRECISION_HINT"] == "f32"
    assert result.runtime_version.startswith("openvino ")


def test_openvino_int8_calibration_source_keys_the_cache():
    from bench.openvino_export import Calibration

    synthetic = export_key("openvino-int8", ["avx2"])
    task = export_key("openvino-int8", ["avx2"], Calibration("task:sst2 train split"))
    assert synthetic["quantization"]["calibration"] == "synthetic"
    assert task != synthetic and task["quantization"]["calibration"].startswith("task:sst2")


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["pte", "pte-int8"])
def test_executorch_program_passes_the_check_records_its_delegation_and_runs(tiny, cache, fmt):
    sub, sha = tiny
    path, meta = ensure_artifact(sub, sha, SPEC.subnet_id, fmt, SEQ, cache)
    assert meta["ok"] and meta["max_abs_err"] <= meta["tolerance"], meta
    if fmt == "pte":
        assert meta["tolerance"] == 1e-4
    share = meta["delegation"]["delegated_share"]
    assert 0.5 < share <= 1.0, meta["delegation"]
    assert meta["delegation"]["non_delegated_ops"] == sum(
        meta["delegation"]["non_delegated_op_types"].values()
    )
    spec = read_input_spec(path)
    assert (spec.batch, spec.seq_len, spec.dtype) == (1, SEQ, "int64")
    result = run_fresh(path, "executorch")
    assert result.ok, result.error
    assert result.runtime_version.startswith("executorch ")
    assert result.extra["executorch_threads"] == 1


def test_a_missing_runtime_package_is_a_skip_naming_its_pip_command():
    """In a process where openvino, nncf and executorch cannot be imported (sys.modules entries None, which
    importlib reports as not found), every new runtime's cell is refused naming the install."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "sys.modules.update(openvino=None, nncf=None, executorch=None)\n"
        "from bench.cells import Cell, skip_reason\n"
        "from devices.local import LocalCpu\n"
        "from dynabert.config import SubnetSpec\n"
        "t = LocalCpu({'name': 'local-cpu'})\n"
        "for r in ('openvino', 'openvino-int8', 'executorch', 'executorch-int8'):\n"
        "    print(r, '|', skip_reason(Cell('m', 'dynabert', SubnetSpec(), r, 1), t))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, check=True
    ).stdout
    why = dict(line.split(" | ") for line in out.splitlines())
    for runtime, dist in (("openvino", "openvino"), ("openvino-int8", "openvino")):
        assert f"pip install 'dynabert-edge[openvino]' (or: pip install {dist})" in why[runtime]
    for runtime in ("executorch", "executorch-int8"):
        assert (
            "pip install 'dynabert-edge[executorch]' (or: pip install executorch)" in why[runtime]
        )


def test_new_runtimes_run_here_when_installed():
    target = LocalCpu({"name": "local-cpu"})
    for runtime in ("openvino", "openvino-int8", "executorch", "executorch-int8"):
        assert runtime in RUNTIMES
        assert skip_reason(Cell("m", "dynabert", SPEC, runtime, 1), target) is None


@torch.library.custom_op("dynabert_test::mystery", mutates_args=())
def mystery(x: torch.Tensor) -> torch.Tensor:
    return x * 2


@mystery.register_fake
def _(x):
    return torch.empty_like(x)


class WithMysteryOp(torch.nn.Module):
    """A classifier whose logits pass through an op no converter knows."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.config = inner, inner.config

    def forward(self, input_ids, attention_mask, token_type_ids):
        out = self.inner(input_ids, attention_mask, token_type_ids)
        out.logits = mystery(out.logits)
        return out


@pytest.mark.slow
def test_an_op_openvino_cannot_take_is_an_error_naming_the_op(tiny, tmp_path):
    sub, sha = tiny
    with pytest.raises(Exception, match="mystery"):
        ensure_artifact(WithMysteryOp(sub), sha, SPEC.subnet_id, "openvino", SEQ, tmp_path)
    assert not list(tmp_path.rglob("openvino-*.xml"))  # nothing cached under the runtime's name
