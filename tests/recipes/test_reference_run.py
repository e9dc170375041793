"""The reference run's documented command parses and passes its budget flags to the steps it runs."""

import recipes.reference_run as ref
import recipes.reference_summary as summary


def test_documented_command_reaches_the_steps(tmp_path, monkeypatch):
    ran = {}
    monkeypatch.setattr(ref, "step", lambda out, until, name, cmd, done=None: ran.setdefault(name, cmd))
    monkeypatch.setattr(summary, "write", lambda out, runs: out / "README.md")
    assert ref.main(["--width-samples", "8000", "--depth-samples", "8000", "--depth-lr", "1e-4",
                     "--out", str(tmp_path / "rep"), "--runs", str(tmp_path / "runs")]) == 0

    def flag(name, key):
        cmd = ran[name]
        return cmd[cmd.index(key) + 1]

    assert flag("stage1-width", "--max-train-samples") == "8000" and "--learning-rate" not in ran["stage1-width"]
    assert flag("stage2-depth", "--max-train-samples") == "8000" and flag("stage2-depth", "--learning-rate") == "1e-4"
    for name in ("baseline-distilbert", "baseline-tinybert", "fixed-control"):
        assert flag(name, "--max-train-samples") == "16000" and flag(name, "--learning-rate") == "1e-4"
    assert {"artifact-accuracy", "cpu-sweep", "arm-instructions", "pareto-report"} <= set(ran)
