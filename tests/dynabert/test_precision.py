"""Mixed precision is applied the same way to every forward of a step (student, full-width and matched teacher),
and evaluation runs in full precision, outside the autocast wrapper Accelerate puts on the prepared module.
CPU bf16 here; the CUDA fp16/bf16 counterparts are in test_train_cuda.py."""

import pytest
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState

from dynabert.config import SubnetSpec
from dynabert.engine import Trainable, teacher_output
from dynabert.model import DynaBert

from factories import padded_batch, tiny_bert


@pytest.fixture
def fresh_accelerate_state():
    """Accelerate keeps one state per process; earlier in-process training set mixed_precision "no"."""
    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def test_teacher_and_student_share_the_autocast_and_evaluation_runs_in_fp32(fresh_accelerate_state):
    accelerator = Accelerator(cpu=True, mixed_precision="bf16")
    teacher = DynaBert(tiny_bert(seed=1)).eval()
    student = DynaBert(tiny_bert(seed=0)).eval()
    model = accelerator.prepare(Trainable(student))
    ids, mask = padded_batch()
    inputs = (ids, mask, None)
    cache = {}
    full = teacher_output(teacher, inputs, 1.0, False, cache, accelerator)
    matched = teacher_output(teacher, inputs, 0.5, False, cache, accelerator)
    assert (
        full.logits.dtype == matched.logits.dtype == torch.bfloat16
    )  # Linear ran in bf16 (LayerNorm stays fp32)
    with accelerator.autocast():
        trained = model(*inputs, spec=SubnetSpec(0.5, 1.0))
    assert trained.logits.dtype == torch.bfloat16
    core = accelerator.unwrap_model(model).student  # what evaluation calls
    evaluated = core(*inputs, spec=SubnetSpec(0.5, 1.0))
    assert evaluated.logits.dtype == evaluated.hidden_states[-1].dtype == torch.float32
    reference = DynaBert(tiny_bert(seed=0)).eval()(*inputs, spec=SubnetSpec(0.5, 1.0))
    assert torch.equal(evaluated.logits, reference.logits)
