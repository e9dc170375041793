"""Device profiles and the CLI; the adb target against a fake adb replaying recorded benchmark_model output."""

import os
import stat
from pathlib import Path

import pytest

from devices import adb, profiles
from devices.__main__ import main as devices_main

FIXTURE = Path(__file__).with_name("fixtures") / "benchmark_model_output.txt"


def test_builtin_profiles_load():
    all_ = profiles.load_all()
    assert {"local-cpu", "qemu-arm", "my-pi", "my-phone", "cuda"} <= set(all_)
    assert all_["my-pi"]["kind"] == "ssh" and all_["my-pi"]["threads"] == [1, 4]


def test_bad_profiles(tmp_path, monkeypatch):
    (tmp_path / "bad.toml").write_text('kind = "ssh"\n')
    monkeypatch.setenv("DYNABERT_DEVICES", str(tmp_path))
    with pytest.raises(ValueError, match=r"kind ssh needs \['host'\]"):
        profiles.load_all()
    (tmp_path / "bad.toml").write_text('kind = "toaster"\n')
    with pytest.raises(ValueError, match="kind 'toaster' is not one of"):
        profiles.load_all()
    (tmp_path / "bad.toml").unlink()
    with pytest.raises(ValueError, match="no device profile 'nope'"):
        profiles.get("nope")


def test_list_and_check_local(capsys):
    assert devices_main(["list"]) == 0
    out = capsys.readouterr().out
    assert "qemu-arm" in out and "my-pi" in out
    assert devices_main(["check", "local-cpu"]) == 0
    assert "onnxruntime" in capsys.readouterr().out


def test_unreachable_ssh_host_is_named(tmp_path, monkeypatch, capsys):
    (tmp_path / "gone.toml").write_text(
        'kind = "ssh"\nhost = "127.0.0.1"\nport = 1\nuser = "nobody"\n'
    )
    monkeypatch.setenv("DYNABERT_DEVICES", str(tmp_path))
    monkeypatch.setattr("devices.ssh.time.sleep", lambda s: None)
    assert devices_main(["check", "gone"]) == 1
    out = capsys.readouterr().out
    assert "device 'gone'" in out and "unreachable" in out and "gone.toml" in out


def test_parse_benchmark_model_output():
    r = adb.parse(FIXTURE.read_text())
    agg = r.aggregates
    assert agg["n_runs"] == 50 and agg["latency_ms_p50"] == pytest.approx(20.301)
    assert agg["latency_ms_mean"] == pytest.approx(
        20.4412
    ) and r.first_inference_ms == pytest.approx(24.571)
    assert agg["peak_rss_mb"] == pytest.approx(45.0859)
    with pytest.raises(ValueError, match="no 'count="):
        adb.parse("INFO: nothing here")


@pytest.fixture
def fake_adb(tmp_path, monkeypatch):
    """An `adb` on PATH that answers get-state, ls, push and replays benchmark_model output."""
    script = tmp_path / "bin" / "adb"
    script.parent.mkdir()
    script.write_text(f"""#!/bin/sh
[ "$1" = "-s" ] && shift 2
case "$1" in
  get-state) echo device ;;
  push) echo "$3" >> {tmp_path}/pushed ;;
  shell) case "$2" in
      ls*) grep -q "$(echo "$2" | cut -d' ' -f2)" {tmp_path}/pushed 2>/dev/null && echo found
           case "$2" in *benchmark_model*) echo /data/local/tmp/benchmark_model ;; esac ;;
      *benchmark_model*) cat {FIXTURE} ;;
    esac ;;
esac
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def test_adb_target_with_fake_adb(fake_adb):
    from devices.request import InputSpec, RunRequest

    profile = profiles.get("my-phone")
    ok, line = adb.check(profile)
    assert ok, line
    artifact = fake_adb / "m.tflite"
    artifact.write_bytes(b"not really a model")
    spec = InputSpec(
        ("a0", "a1", "a2"), "int32", 30522, 2, 1, 16
    )  # as read from a batch-1, seq-16 artifact
    request = RunRequest(artifact=artifact, runtime="litert", inputs=spec, seq_len=16)
    r = adb.Adb(profile).run(request)
    assert r.ok and r.aggregates["latency_ms_p50"] == pytest.approx(20.301)
    r2 = adb.Adb(profile).run(request)
    assert (
        r2.ok and (fake_adb / "pushed").read_text().count("dynabert-") == 1
    )  # pushed once, by hash


def test_adb_missing_binary_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    ok, line = adb.check(profiles.get("my-phone"))
    assert not ok and "adb not found" in line
