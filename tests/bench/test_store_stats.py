import json
import os

import pytest

import records
from bench.stats import summarize
from records import Record

from factories import latency_record
from messages import assert_names


def rec(subnet="w1.00-d1.00", **kw):
    return latency_record(
        subnet_id=subnet,
        model_id="tiny",
        checkpoint_sha="abc",
        seq_len=32,
        **{"latency_ms_p50": None, "device": None, **kw},
    )


def test_stats_hand_computed():
    s = summarize([1.0, 2.0, 3.0, 4.0, 10.0])
    assert s["latency_ms_p50"] == 3.0
    assert s["latency_ms_p90"] == pytest.approx(4.0 + 0.6 * 6.0)  # rank 3.6 between 4 and 10
    assert s["latency_ms_p99"] == pytest.approx(4.0 + 0.96 * 6.0)
    assert s["latency_ms_mean"] == 4.0
    assert s["latency_ms_std"] == pytest.approx(
        (50 / 4) ** 0.5
    )  # squares 9+4+1+0+36 = 50, over n-1
    assert s["latency_cv"] == pytest.approx((50 / 4) ** 0.5 / 4)
    assert s["n_runs"] == 5
    with pytest.raises(ValueError, match="no latency samples"):
        summarize([])


def test_record_round_trip(tmp_path):
    store = tmp_path / "r.jsonl"
    a = rec(
        latency_ms_p50=1.5, samples_ms=[1.0, 2.0], env={"governor": None}, metrics={"accuracy": 0.9}
    )
    records.append(store, a)
    records.append(store, rec("w0.25-d0.50", status="error", error="boom"))
    back = records.read(store)
    assert back[0] == a and back[1].status == "error"
    opened = records.Store.open(store)
    assert opened.done(a.key) and opened.finished == {a.key}  # the error record is not done
    assert a.key.machine_fingerprint is None and a.key.kind == "latency"
    with pytest.raises(ValueError, match="unknown record fields"):
        Record.from_dict({**a.to_dict(), "latency_s": 1})


def test_half_written_line_is_skipped_and_mended(tmp_path, capsys):
    store = tmp_path / "r.jsonl"
    records.append(store, rec())
    with open(store, "a") as f:
        f.write(json.dumps(rec("w0.50-d1.00").to_dict())[:40])  # a crash mid-write
    assert len(records.read(store)) == 1
    assert "r.jsonl:2: skipped" in capsys.readouterr().err
    records.append(store, rec("w0.75-d1.00"))
    assert [r.subnet_id for r in records.read(store)] == ["w1.00-d1.00", "w0.75-d1.00"]


def test_a_line_with_bytes_that_are_not_utf8_is_skipped_and_named(tmp_path, capsys):
    """One corrupt byte used to make the whole store unreadable ('utf-8' codec can't decode byte 0xff), naming no
    file; now only its line is skipped, named with the file and line number."""
    store = tmp_path / "r.jsonl"
    records.append(store, rec())
    with open(store, "ab") as f:
        f.write(b'{"kind": "latency", \xff\xfe}\n')
    records.append(store, rec("w0.75-d1.00"))
    assert [r.subnet_id for r in records.read(store)] == ["w1.00-d1.00", "w0.75-d1.00"]
    assert_names(capsys.readouterr().err, "r.jsonl:2", "not UTF-8")


def test_unwritable_results_path(tmp_path):
    target = tmp_path / "ro"
    target.mkdir()
    os.chmod(target, 0o500)
    try:
        if os.access(target, os.W_OK):
            pytest.skip("running as a user that can write anywhere (root)")
        with pytest.raises(ValueError, match="cannot append to the results file"):
            records.append(target / "r.jsonl", rec())
    finally:
        os.chmod(target, 0o700)


def test_results_path_is_a_directory(tmp_path):
    with pytest.raises(ValueError, match="cannot append to the results file"):
        records.append(tmp_path, rec())
