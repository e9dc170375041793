"""devices/ imports nothing from dynabert: the runner's torch runtime loads an extracted sub-network through
transformers (the code saved beside its weights) and gives the project's logits in a process without dynabert."""

from pathlib import Path

import numpy as np
import torch

from devices.runner import make_inputs
from dynabert import DynaBert, SubnetSpec, extract, load_model
from no_dynabert import imports_of, run_without_dynabert

ROOT = Path(__file__).resolve().parents[2]


def test_devices_import_nothing_from_dynabert():
    files = sorted((ROOT / "devices").rglob("*.py"))
    assert files
    for path in files:
        found = {m for m in imports_of(path.read_text()) if m.split(".")[0] == "dynabert"}
        assert not found, f"{path.relative_to(ROOT)} imports {found}"


def test_torch_runtime_runs_subnet_without_dynabert(tmp_path):
    sub = extract(DynaBert(load_model("tiny")), SubnetSpec(0.5, 0.5))
    sub.save_pretrained(tmp_path / "sub")
    saved = tmp_path / "logits.npy"
    script = (f"import json\nfrom devices.runner import main\n"
              f"main(['--artifact', {str(tmp_path / 'sub')!r}, '--runtime', 'torch', '--seq-len', '16', "
              f"'--warmup', '1', '--min-runs', '2', '--min-time', '0', '--save-output', {str(saved)!r}])\n")
    result = run_without_dynabert(script, tmp_path / "isolated", extra_path=str(ROOT))
    assert result["ok"], result
    assert result["runtime_version"].startswith("torch") and len(result["samples_ms"]) >= 2
    inputs = {k: torch.from_numpy(v) for k, v in make_inputs(1, 16).items()}
    with torch.no_grad():
        ref = sub(**inputs).logits.numpy()
    np.testing.assert_allclose(np.load(saved), ref, atol=1e-6, rtol=0)
