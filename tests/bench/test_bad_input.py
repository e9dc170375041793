"""Bad input is refused with the true reason, naming the thing and the fix, where it arises and before any work:
sidecars beside artifacts (session settings, input specs, export metadata), runner size flags, path flags,
task files, unsupported model configs."""

import json
import shutil

import pandas as pd
import pytest

from bench import session_settings
from bench.export import ensure_artifact
from bench.pareto import main as pareto_main
from devices import runner
from devices.inputs import read_input_spec
from dynabert import DynaBert, SubnetSpec, extract, load_model
from dynabert.evaluate import weights_sha

from messages import assert_names

SPEC = SubnetSpec(0.5, 0.5)


@pytest.fixture(scope="module")
def onnx_artifact(tmp_path_factory):
    hf = load_model("tiny")
    cache = tmp_path_factory.mktemp("artifacts")
    path, _ = ensure_artifact(
        extract(DynaBert(hf), SPEC), weights_sha(hf), SPEC.subnet_id, "onnx", 16, cache
    )
    return path


@pytest.fixture
def copy(onnx_artifact, tmp_path):
    out = tmp_path / "model.onnx"
    shutil.copy(onnx_artifact, out)
    return out


@pytest.mark.parametrize(
    "content,kind", [("[]", "list"), ('"fast"', "str"), ("3", "int"), ("null", "NoneType")]
)
def test_session_sidecar_that_is_not_an_object_is_refused_naming_the_file(copy, content, kind):
    session_settings.sidecar(copy).write_text(content)
    with pytest.raises(
        ValueError,
        match=rf"model\.onnx\.session\.json: holds a JSON {kind}, not an object.*fix or "
        rf"delete the file",
    ):
        runner.load("onnxruntime", str(copy), 1)
    assert not session_settings.is_current(
        copy
    )  # the export's cache check: damaged means written again


@pytest.mark.parametrize(
    "key,value,named",
    [
        (
            "disabled_optimizers",
            ["SkipLayerNormFuson"],
            "'SkipLayerNormFuson', not a graph optimizer of onnxruntime",
        ),
        (
            "execution_provider",
            "CPUExecutionProvidr",
            "'CPUExecutionProvidr' is not an onnxruntime execution provider",
        ),
    ],
)
def test_session_sidecar_naming_an_unknown_optimizer_or_provider_is_refused(
    copy, key, value, named
):
    session_settings.write(copy)
    data = json.loads(session_settings.sidecar(copy).read_text())
    session_settings.sidecar(copy).write_text(json.dumps({**data, key: value}))
    with pytest.raises(
        ValueError, match=rf"model\.onnx\.session\.json: .*{named}.*fix or delete the file"
    ):
        runner.load("onnxruntime", str(copy), 1)


@pytest.mark.parametrize("key", ["disabled_optimizers", "graph_optimization_level"])
def test_session_sidecar_missing_a_setting_is_refused(copy, key):
    session_settings.write(copy)
    data = json.loads(session_settings.sidecar(copy).read_text())
    del data[key]
    session_settings.sidecar(copy).write_text(json.dumps(data))
    with pytest.raises(
        ValueError, match=rf"model\.onnx\.session\.json: has no {key}.*fix or delete the file"
    ):
        runner.load("onnxruntime", str(copy), 1)


def test_session_sidecar_that_is_a_directory_is_refused_and_a_missing_one_warned(copy, capsys):
    session_settings.sidecar(copy).unlink(missing_ok=True)
    assert runner.session_settings(str(copy))["source"] == "onnxruntime default (no sidecar)"
    assert "timing onnxruntime's default session, not the shipped one" in capsys.readouterr().err
    session_settings.sidecar(copy).mkdir()
    with pytest.raises(ValueError, match=r"model\.onnx\.session\.json: is a directory"):
        runner.load("onnxruntime", str(copy), 1)


def test_shipped_settings_name_only_known_optimizers():
    settings = session_settings.recommended()
    assert set(settings.disabled_optimizers) <= runner.ORT_OPTIMIZERS
    runner.check_sidecar(
        "x.session.json", settings.to_json()
    )  # what the project writes passes its own check


@pytest.mark.parametrize("content", ["[]", "{not json", '{"stamp": 3}'])
def test_damaged_inputs_cache_is_read_from_the_artifact_again(copy, content):
    want = read_input_spec(copy)
    copy.with_name(copy.name + ".inputs.json").write_text(content)
    assert read_input_spec(copy) == want


@pytest.mark.slow
def test_damaged_export_metadata_means_export_again(onnx_artifact, tmp_path):
    cache = onnx_artifact.parents[2]
    meta = onnx_artifact.with_name(onnx_artifact.name + ".json")
    saved = meta.read_text()
    meta.write_text("[]")
    hf = load_model("tiny")
    try:
        path, got = ensure_artifact(
            lambda: extract(DynaBert(hf), SPEC), weights_sha(hf), SPEC.subnet_id, "onnx", 16, cache
        )
        assert path == onnx_artifact and got["ok"] and json.loads(meta.read_text())["ok"]
    finally:
        if not meta.read_text().startswith("{"):
            meta.write_text(saved)


def test_runner_names_the_size_flag_past_the_models_table(copy, capsys):
    """tiny has 2 token types: --type-vocab-size 50 draws types up to 49, past its table."""
    argv = [
        "--artifact",
        str(copy),
        "--runtime",
        "onnxruntime",
        "--vocab-size",
        "30522",
        "--type-vocab-size",
        "50",
        "--seq-len",
        "16",
        "--warmup",
        "0",
        "--min-runs",
        "1",
        "--min-time",
        "0",
    ]
    assert runner.main(argv) == 1
    error = json.loads(capsys.readouterr().out)["error"]
    assert (
        "--type-vocab-size 50 is larger than the model's own" in error
        and "table of 2 rows" in error
    )
    assert "--vocab-size" not in error.split("):")[1].split(";")[0]  # the token ids stayed in range


@pytest.mark.parametrize(
    "message,flag",
    [
        (
            "Embedding Lookup: index out of bounds. Got 7, and bounds are [0, 1]Node number 5",
            "--type-vocab-size 9",
        ),
        (
            "Embedding Lookup: index out of bounds. Got 1500, and bounds are [0, 199]",
            "--vocab-size 30522",
        ),
        ("IndexError: index out of range in self", "--type-vocab-size 9 or --vocab-size 30522"),
    ],
)
def test_lookup_errors_of_every_runtime_name_the_flag(message, flag):
    why = runner.lookup_error(RuntimeError(message), "m.tflite", 30522, 9)
    assert f"{flag} is larger than the model's own" in why and "m.tflite" in why
    assert runner.lookup_error(RuntimeError("some other failure"), "m.tflite", 30522, 9) is None


def test_report_inputs_and_outputs_get_the_true_reason(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for argv, reason in (
        (["--results", str(tmp_path)], "is a directory, not a file; pass the store inside it"),
        (["--results", str(tmp_path / "none.jsonl")], "does not exist"),
        (["--results", str(afile), "--out", str(afile / "rep")], "is a file, not a folder"),
    ):
        assert pareto_main(argv) == 2
        assert reason in capsys.readouterr().err


def test_sweep_refuses_an_unwritable_results_path_before_any_work(tmp_path, monkeypatch, capsys):
    from bench import sweep

    def no_work(*a, **k):
        raise AssertionError("work started")

    monkeypatch.setattr(sweep, "prepare_pending", no_work)
    afile = tmp_path / "afile"
    afile.write_text("x")
    for path, reason in (
        (tmp_path, "is a directory; give a file"),
        (afile / "r.jsonl", "is a file, not a folder"),
    ):
        assert sweep.main(["--model", "tiny", "--results", str(path)]) == 2
        assert reason in capsys.readouterr().err
    assert (
        sweep.main(
            [
                "--model",
                "tiny",
                "--results",
                str(tmp_path / "r.jsonl"),
                "--cache-dir",
                str(afile / "c"),
            ]
        )
        == 2
    )
    assert "--cache-dir" in capsys.readouterr().err


def test_evaluate_refuses_its_results_path_before_loading(tmp_path, capsys):
    from dynabert.cli import main as dynabert_main

    rc = dynabert_main(
        [
            "evaluate",
            "--checkpoint",
            str(tmp_path / "no-model"),
            "--task",
            "sst2",
            "--data-dir",
            str(tmp_path),
            "--results",
            str(tmp_path),
        ]
    )
    assert rc == 2 and f"--results {str(tmp_path)!r} is a directory" in capsys.readouterr().err


def test_task_files_get_the_true_reason(tmp_path):
    from dynabert.data import get_task, load_split, task_dir

    task = get_task("sst2", None, None)
    (tmp_path / "dev.tsv").write_text("")
    with pytest.raises(ValueError, match=r"dev\.tsv' is a file; pass the task folder"):
        task_dir(tmp_path / "dev.tsv", task)
    with pytest.raises(ValueError, match=r"dev\.tsv is empty \(no header row, no examples\)"):
        load_split(task, tmp_path, "dev", task.labels)
    with pytest.raises(ValueError, match="does not exist"):
        task_dir(tmp_path / "nowhere", task)


def test_unsupported_model_is_refused_before_transformers_reads_its_config(tmp_path, capfd):
    """A GPT-2 config whose token ids lie outside its vocabulary: transformers would warn twice while parsing it."""
    from transformers import GPT2Config

    from dynabert.cli import main as dynabert_main

    GPT2Config(vocab_size=100, n_layer=1, n_embd=8, n_head=2).save_pretrained(tmp_path / "gpt2")
    capfd.readouterr()
    for argv in (
        [
            "extract",
            "--checkpoint",
            str(tmp_path / "gpt2"),
            "--width",
            "0.5",
            "--depth",
            "0.5",
            "--output-dir",
            str(tmp_path / "sub"),
        ],
        [
            "evaluate",
            "--checkpoint",
            str(tmp_path / "gpt2"),
            "--task",
            "sst2",
            "--data-dir",
            str(tmp_path),
        ],
    ):
        assert dynabert_main(argv) == 2
        out = capfd.readouterr()
        assert_names(out.err, "'gpt2'", "BERT, RoBERTa and DistilBERT")
        assert "bos_token_id" not in out.err + out.out


def test_log_axes_are_labelled_at_any_span_and_the_legend_names_the_machine():
    from bench.figures import latency_vs_flops_figure

    machine = "this machine: Test CPU, measured 2026-11-30"
    for flops in ([2.1e6, 2.9e6, 3.8e6], [2e6, 1.3e7], [1e9, 2e10], [1e9, 1.05e9]):
        eff = pd.DataFrame(
            {
                "flops": flops,
                "latency_ms_p50": [0.1 * (i + 1) for i in range(len(flops))],
                "runtime": "onnxruntime",
                "family": "dynabert",
                "model_id": "tiny",
                "machine": machine,
            }
        )
        fig = latency_vs_flops_figure(eff, "t")
        fig.canvas.draw()
        ax = fig.axes[0]
        lo, hi = ax.get_xlim()
        shown = [
            t.get_text()
            for t in ax.get_xticklabels()
            if lo <= t.get_position()[0] <= hi and t.get_text()
        ]
        assert len(shown) >= 2, (flops, shown)
        assert machine in ax.get_legend().get_title().get_text().replace("\n", " ")


def test_results_path_check_leaves_nothing_behind(tmp_path):
    import records

    target = tmp_path / "new" / "deeper" / "r.jsonl"
    records.check_writable(target)
    assert list(tmp_path.iterdir()) == []  # nothing created: a refused run leaves no empty store


@pytest.mark.parametrize(
    "content,reason", [("[]", "holds a JSON list, not a model config"), ("{", "not JSON")]
)
def test_damaged_model_config_is_named_by_the_runner_and_the_input_reader(
    tmp_path, content, reason
):
    (tmp_path / "config.json").write_text(content)
    for read in (
        lambda: runner.config_object(tmp_path / "config.json"),
        lambda: read_input_spec(tmp_path),
    ):
        with pytest.raises(ValueError, match=rf"config\.json.*{reason}.*save"):
            read()


@pytest.mark.parametrize(
    "flags",
    [
        ["select", "--max-latency-ms", "nan"],
        ["select", "--max-latency-ms", "5", "--max-memory-mb", "-1"],
        [
            "search",
            "--checkpoint",
            "x",
            "--task",
            "sst2",
            "--data-dir",
            "x",
            "--results",
            "x",
            "--max-latency-ms",
            "4",
            "--max-memory-mb",
            "inf",
        ],
    ],
)
def test_budget_flags_refuse_non_positive_or_non_finite_values(flags, capsys):
    from bench.pareto import main as pareto_main

    with pytest.raises(SystemExit) as stop:
        pareto_main(flags)
    assert stop.value.code == 2 and "must be a positive, finite number" in capsys.readouterr().err


def test_search_refuses_a_non_finite_latency_budget():
    from bench.search_run import parse_budgets

    with pytest.raises(ValueError, match="positive, finite milliseconds"):
        parse_budgets("4,nan")
