"""The results schema (records/): a leaf package, one machine identity, validated once at construction, and every
store committed under reports/ still loading."""

import ast
import json
import math
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

import records
from records import Key, Measurement, Provenance, Record

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("dynabert", "bench", "devices", "recipes")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside functions (relative imports resolved)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            out.add(node.module)
    return out


def test_the_schema_package_imports_nothing_of_the_project_nor_torch():
    for path in sorted((ROOT / "records").glob("*.py")):
        for module in imported_modules(path):
            root = module.split(".")[0]
            assert root not in PROJECT + ("torch", "onnxruntime", "numpy"), (
                f"{path.name} imports {module}"
            )
    # and for real: importing every module of it loads none of them
    code = (
        "import sys, records, records.provenance, records.machine, records.store, records.schema;"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {PROJECT + ('torch',)!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "[]"


def test_dynabert_declares_no_device_runtime_or_machine_fields():
    assert not (ROOT / "dynabert" / "records.py").exists()
    banned = (
        "device",
        "runtime",
        "machine",
        "cpu_model",
        "fingerprint",
        "latency",
        "instructions",
        "rss",
    )
    for path in sorted((ROOT / "dynabert").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                assert node.name != "Record", f"{path.name} declares a Record"
                for item in node.body:
                    if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        name = item.target.id
                        assert not any(b in name for b in banned), (
                            f"{path.name}: {node.name}.{name}"
                        )


def test_the_cpu_is_identified_in_one_place():
    readers = []
    for package in PROJECT + ("records",):
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text())
            if any(
                isinstance(n, ast.Constant) and n.value == "/proc/cpuinfo" for n in ast.walk(tree)
            ):
                readers.append(path.relative_to(ROOT).as_posix())
    assert readers == ["records/machine.py"]


def test_every_field_is_declared_once_in_one_part_and_the_record_is_their_union_in_order():
    names = [f.name for part in (Key, Measurement, Provenance) for f in fields(part)]
    assert len(names) == len(set(names))
    assert [f.name for f in fields(Record)] == names
    assert {"device", "runtime", "machine_fingerprint"} <= {f.name for f in fields(Key)}
    assert {"machine", "cpu_model", "git_sha"} <= {f.name for f in fields(Provenance)}
    assert {"latency_ms_p50", "instructions_per_inference", "peak_rss_mb", "metric_value"} <= {
        f.name for f in fields(Measurement)
    }


def a_record(**measured) -> Record:
    key = Key(
        kind="latency", model_id="tiny", checkpoint_sha="abc", subnet_id="w1.00-d1.00", threads=1
    )
    prov = Provenance(git_sha="0123", machine={"fingerprint": "f" * 12})
    return Record.of(key, Measurement(width_mult=1.0, depth_mult=1.0, **measured), prov)


def test_a_record_is_built_from_its_parts_and_gives_them_back():
    rec = a_record(latency_ms_p50=2.5, samples_ms=[2.0, 3.0])
    assert rec.latency_ms_p50 == 2.5 and rec.git_sha == "0123" and rec.threads == 1
    assert rec.key == records.normal_key(
        Key(
            kind="latency",
            model_id="tiny",
            checkpoint_sha="abc",
            subnet_id="w1.00-d1.00",
            threads=1,
        )
    )
    assert rec.key.workload == "synthetic"  # a record from before workloads: synthetic traffic
    assert rec.measurement.samples_ms == [2.0, 3.0] and rec.provenance.fingerprint == "f" * 12
    assert Record.from_dict(json.loads(json.dumps(rec.to_dict()))) == rec


@pytest.mark.parametrize(
    "bad, named",
    [
        ({"latency_ms_p50": math.nan}, "latency_ms_p50 must be a finite number"),
        ({"latency_ms_p50": 0.0}, "latency_ms_p50 must be > 0"),
        ({"latency_ms_std": -1.0}, "latency_ms_std must be >= 0"),
        ({"load_ms": "3"}, "load_ms must be a finite number"),
        (
            {"instructions_per_inference": True},
            "instructions_per_inference must be a finite number",
        ),
        ({"status": "done"}, "status must be one of ok, error, skipped"),
    ],
)
def test_a_bad_value_is_refused_at_construction_naming_the_field(bad, named):
    with pytest.raises(ValueError, match=named):
        a_record(**bad)
    with pytest.raises(ValueError, match=named):  # the same rule for a stored line
        Record.from_dict({**a_record().to_dict(), **bad})


def test_a_bad_key_is_refused_naming_the_field():
    with pytest.raises(ValueError, match="kind must be one of accuracy, latency"):
        Key(kind="memory", model_id="m", checkpoint_sha="s", subnet_id="w")
    with pytest.raises(ValueError, match="threads must be >= 1"):
        Key(kind="latency", model_id="m", checkpoint_sha="s", subnet_id="w", threads=0)
    with pytest.raises(ValueError, match=r"unknown record fields \['latency_s'\]"):
        Record.from_dict({**a_record().to_dict(), "latency_s": 1.0})


def test_the_store_knows_what_is_done_on_this_machine_only(tmp_path):
    path = tmp_path / "r.jsonl"
    ok, failed = a_record(latency_ms_p50=1.0), a_record(status="error", error="boom")
    store = records.Store.open(path)  # missing: empty
    store.append(failed)
    assert not store.done(ok.key)
    store.append(ok)
    assert store.done(ok.key) and store.read() == [failed, ok]
    reopened = records.Store.open(path)
    assert reopened.done(ok.key)
    other_machine = Key(**{**ok.key.to_dict(), "machine_fingerprint": "0" * 12})
    assert not reopened.done(other_machine)
    assert not records.Store(path).done(ok.key)  # a sitting of its own: only what it appends counts


def committed_stores() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "reports/*.jsonl"], capture_output=True, text=True, cwd=ROOT
    ).stdout.split()
    return [ROOT / p for p in listed] or sorted((ROOT / "reports").rglob("*.jsonl"))


def test_every_committed_store_loads_every_line(capsys):
    stores = committed_stores()
    assert len(stores) >= 10
    for path in stores:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        assert len(records.read(path)) == len(lines), path
    assert "warning" not in capsys.readouterr().err


def test_done_compares_keys_in_their_normal_form(tmp_path):
    """A key built without a workload (an accuracy record's, say) finds the record it wrote: both sides of `done`
    are normal keys (a missing workload is the synthetic one)."""
    from records import Key, Measurement, Record, Store
    from records.provenance import this_run

    key = Key(
        kind="accuracy",
        model_id="m",
        checkpoint_sha="abc",
        subnet_id="w1.00-d1.00",
        runtime="onnxruntime",
    )
    store = Store.open(tmp_path / "r.jsonl")
    assert not store.done(key)
    store.append(
        Record.of(
            key,
            Measurement(width_mult=1.0, depth_mult=1.0, metric_name="accuracy", metric_value=0.5),
            this_run(),
        )
    )
    assert store.done(key) and Store.open(tmp_path / "r.jsonl").done(key)
