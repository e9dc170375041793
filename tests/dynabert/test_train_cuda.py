"""CUDA paths of the trainer (run by `python -m bench.gpu_check` on a GPU machine; skipped without a GPU)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dynabert.config import default_grid
from dynabert.engine import Trainable, make_accelerator, teacher_output, train_step
from dynabert.losses import LossSettings
from dynabert.model import DynaBert

from factories import padded_batch, tiny_bert

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch sees none)"),
]

LOAD_ON_CPU = """
import sys, torch
from accelerate import Accelerator
from dynabert.engine import Trainable
from dynabert.model import DynaBert
sys.path.insert(0, "tests")
from factories import tiny_bert
assert not torch.cuda.is_available()
acc = Accelerator(cpu=True)
model = Trainable(DynaBert(tiny_bert(seed=5)))
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
model, opt = acc.prepare(model, opt)
acc.load_state(sys.argv[1], map_location="cpu")
saved = torch.load(sys.argv[2], map_location="cpu")
assert all(torch.equal(saved[k], v) for k, v in acc.unwrap_model(model).state_dict().items() if k in saved)
assert len(opt.state_dict()["state"]) > 0
print("loaded on cpu")
"""


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_cuda_step_in_mixed_precision_then_the_gpu_state_loads_on_cpu(precision, tmp_path):
    accelerator = make_accelerator(precision)
    assert accelerator.device.type == "cuda"
    teacher = DynaBert(tiny_bert(seed=1)).to(accelerator.device).eval().requires_grad_(False)
    model = Trainable(DynaBert(tiny_bert(seed=0)).train())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model, optimizer = accelerator.prepare(model, optimizer)
    ids, mask = padded_batch()
    batch = {
        "input_ids": ids.cuda(),
        "attention_mask": mask.cuda(),
        "labels": torch.zeros(3).long().cuda(),
    }
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    t_out = teacher_output(
        teacher, (batch["input_ids"], batch["attention_mask"], None), 0.5, False, {}, accelerator
    )
    assert (
        t_out.logits.dtype == dtype
    )  # the matched-width teacher runs under the same autocast as the student
    for _ in range(3):
        loss = train_step(
            model, teacher, default_grid(), "dynabert", LossSettings(1.0, 1.0), batch, accelerator
        )
        assert loss == loss  # not NaN
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    assert (accelerator.scaler is not None) == (precision == "fp16")
    accelerator.save_state(str(tmp_path / "state"))
    torch.save(
        {k: v.cpu() for k, v in accelerator.unwrap_model(model).state_dict().items()},
        tmp_path / "w.pt",
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", LOAD_ON_CPU, str(tmp_path / "state"), str(tmp_path / "w.pt")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "loaded on cpu" in done.stdout, done.stderr[-3000:]


def test_resume_after_kill_is_bit_exact_on_the_gpu(tmp_path, sst2_dir):
    """The CPU test's kill-and-resume on the GPU: dropout on, so the CUDA random state must be restored."""
    from test_train import test_resume_after_kill_matches_uninterrupted

    test_resume_after_kill_matches_uninterrupted(tmp_path, sst2_dir)
