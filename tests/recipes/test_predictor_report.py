"""The predictor report: summary.json in the issue's shape, the error plot and a README labelled preliminary."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from recipes.predictor_report import main  # noqa: E402
from test_predictor import synthetic, table_law  # noqa: E402

from dynabert import records  # noqa: E402


def test_report_from_synthetic_records(tmp_path):
    store = tmp_path / "r.jsonl"
    for r in synthetic(table_law, n=40):
        records.append(store, r)
    assert main(["--records", str(store), "--out", str(tmp_path / "rep"), "--weights", "synthetic"]) == 0
    s = json.loads((tmp_path / "rep" / "summary.json").read_text())
    (p,) = s["predictor"]
    assert set(p) >= {"device", "runtime", "n_train", "n_heldout", "mape", "within_10pct", "spearman"}
    assert p["model"] == "lookup" and p["mape"] < 1e-6 and p["within_10pct"] == 1.0 and s["status"] == "preliminary"
    text = (tmp_path / "rep" / "README.md").read_text()
    assert "PRELIMINARY" in text and "`synthetic` weights" in text and "| flops |" in text
    assert (tmp_path / "rep" / "predictor-error.png").stat().st_size > 1000
