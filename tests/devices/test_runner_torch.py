"""devices/ imports nothing from dynabert: the runner's torch runtime loads an extracted sub-network through
transformers (the code saved beside its weights) and gives the project's logits in a process without dynabert."""

from pathlib import Path

import numpy as np
import pytest
import torch
from no_dynabert import imports_of, run_without_dynabert

from devices.runner import make_inputs
from dynabert import DynaBert, SubnetSpec, extract, load_model

ROOT = Path(__file__).resolve().parents[2]


def test_devices_import_nothing_from_dynabert():
    files = sorted((ROOT / "devices").rglob("*.py"))
    assert files
    for path in files:
        found = {m for m in imports_of(path.read_text()) if m.split(".")[0] == "dynabert"}
        assert not found, f"{path.relative_to(ROOT)} imports {found}"


@pytest.mark.slow
def test_torch_runtime_runs_subnet_without_dynabert(tmp_path):
    sub = extract(DynaBert(load_model("tiny")), SubnetSpec(0.5, 0.5))
    sub.save_pretrained(tmp_path / "sub")
    saved = tmp_path / "logits.npy"
    script = (
        f"import json\nfrom devices.runner import main\n"
        f"main(['--artifact', {str(tmp_path / 'sub')!r}, '--runtime', 'torch', '--seq-len', '16', "
        f"'--vocab-size', '{sub.config.vocab_size}', '--type-vocab-size', '{sub.config.type_vocab_size}', "
        f"'--warmup', '1', '--min-runs', '2', '--min-time', '0', '--save-output', {str(saved)!r}])\n"
    )
    result = run_without_dynabert(script, tmp_path / "isolated", extra_path=str(ROOT))
    assert result["ok"], result
    assert result["runtime_version"].startswith("torch") and len(result["samples_ms"]) >= 2
    inputs = {
        k: torch.from_numpy(v)
        for k, v in make_inputs(1, 16, sub.config.vocab_size, sub.config.type_vocab_size).items()
    }
    with torch.no_grad():
        ref = sub(**inputs).logits.numpy()
    np.testing.assert_allclose(np.load(saved), ref, atol=1e-6, rtol=0)


def test_torch_runtime_names_an_extraction_saved_without_its_code(tmp_path):
    """A sub-network saved before extractions carried their code (no auto_map) gets the fix, not a deep error."""
    import json

    import pytest

    from devices.runner import load

    sub = extract(DynaBert(load_model("tiny")), SubnetSpec(0.5, 0.5))
    sub.save_pretrained(tmp_path / "torch")  # the sweep's cache names the folder `torch`
    threads = torch.get_num_threads()
    try:  # in this process: the remote code loads beside dynabert's own registered classes
        run, _ = load("torch", str(tmp_path / "torch"), 1)
        inputs = make_inputs(1, 8, sub.config.vocab_size, sub.config.type_vocab_size)
        with torch.no_grad():
            ref = sub(**{k: torch.from_numpy(v) for k, v in inputs.items()}).logits.numpy()
        np.testing.assert_allclose(run(inputs), ref, atol=1e-6, rtol=0)
    finally:
        torch.set_num_threads(threads)
    config_path = tmp_path / "torch" / "config.json"
    config = json.loads(config_path.read_text())
    del config["auto_map"]
    config_path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="saved without its modeling code.*extract it again"):
        load("torch", str(tmp_path / "torch"), 1)
