"""The SSH target against a real OpenSSH server on 127.0.0.1 with throwaway keys, including a dropped connection."""

import getpass
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from devices import ssh

pytestmark = pytest.mark.slow  # starts sshd and sweeps over it

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, root: Path):
        self.root, self.port, self.proc = root, free_port(), None
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "host_key")],
            check=True,
        )
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "user_key")],
            check=True,
        )
        (root / "authorized_keys").write_text((root / "user_key.pub").read_text())
        (root / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {root / 'host_key'}\n"
            f"AuthorizedKeysFile {root / 'authorized_keys'}\nPasswordAuthentication no\nUsePAM no\n"
            f"StrictModes no\nPermitRootLogin prohibit-password\nPidFile {root / 'sshd.pid'}\n"
        )

    def start(self):
        Path("/run/sshd").mkdir(exist_ok=True)
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.root / "sshd_config")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("sshd did not start")

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def server(tmp_path):
    if not os.path.exists(SSHD) or os.geteuid() != 0:
        pytest.skip("needs Debian's openssh-server and root (.ci/run installs it)")
    srv = Server(tmp_path)
    srv.start()
    yield srv
    srv.stop()


def profile_for(srv, tmp_path) -> dict:
    return {
        "name": "loopback",
        "kind": "ssh",
        "host": "127.0.0.1",
        "port": srv.port,
        "user": getpass.getuser(),
        "key": str(srv.root / "user_key"),
        "known_hosts": str(tmp_path / "known_hosts"),
        "workdir": str(tmp_path / "remote"),
        "python": sys.executable,
        "threads": [1],
    }


def write_profile(folder: Path, prof: dict) -> None:
    lines = [
        f"{k} = {v!r}".replace("'", '"') if isinstance(v, str) else f"{k} = {v}"
        for k, v in prof.items()
    ]
    (folder / f"{prof['name']}.toml").write_text("\n".join(lines) + "\n")


def test_ssh_check_and_run(server, tmp_path):
    from bench.export import ensure_artifact
    from dynabert import DynaBert, SubnetSpec, extract, load_model
    from dynabert.evaluate import weights_sha

    prof = profile_for(server, tmp_path)
    info = ssh.check(prof)
    assert info["runtimes"] and info["arch"]
    hf = load_model("tiny")
    path, _ = ensure_artifact(
        extract(DynaBert(hf), SubnetSpec(0.5, 0.5)),
        weights_sha(hf),
        "w0.50-d0.50",
        "onnx",
        16,
        tmp_path / "cache",
    )
    from devices.inputs import read_input_spec
    from devices.request import RunRequest

    request = RunRequest(
        artifact=path,
        runtime="onnxruntime",
        inputs=read_input_spec(path),
        seq_len=16,
        warmup=1,
        min_runs=3,
        min_time_s=0,
    )
    r = ssh.Ssh(prof).run(request)
    assert r.ok and len(r.samples_ms) >= 3, r.error
    session = r.extra[
        "session_options"
    ]  # the artifact's session settings travelled with it (issue 18)
    assert session["source"].startswith("sidecar") and session["disabled_optimizers"] == [
        "SkipLayerNormFusion"
    ]
    blobs = list((tmp_path / "remote" / "blobs").iterdir())
    ssh.Ssh(prof).run(request)
    assert sorted(blobs) == sorted(
        (tmp_path / "remote" / "blobs").iterdir()
    )  # copied once, by hash


def test_dropped_connection_mid_sweep_is_retried(server, tmp_path, monkeypatch):
    import records
    from bench.sweep import SweepConfig, run_sweep

    folder = tmp_path / "profiles"
    folder.mkdir()
    write_profile(folder, profile_for(server, tmp_path))
    monkeypatch.setenv("DYNABERT_DEVICES", str(folder))
    store = tmp_path / "r.jsonl"

    def drop_then_restore():  # kill sshd after the first record lands, bring it back 3 s later
        while not store.exists() or not store.read_text().strip():
            time.sleep(0.05)
        server.stop()
        time.sleep(3)
        server.start()

    t = threading.Thread(target=drop_then_restore)
    t.start()
    cfg = SweepConfig(
        models=["tiny"],
        results=str(store),
        runtimes=("onnxruntime",),
        widths=(1.0, 0.5, 0.25),
        depths=(0.5,),
        seq_len=16,
        min_time_s=0,
        min_runs=3,
        warmup=1,
        devices=("loopback",),
        cache=tmp_path / "cache",
    )
    written = run_sweep(cfg)
    t.join()
    assert [r.status for r in written] == ["ok", "ok", "ok"], [r.error for r in written]
    assert len(records.read(store)) == 3 and all(
        r.device == "loopback" for r in records.read(store)
    )


def test_unreachable_board_is_tried_once_per_sweep_and_its_cells_skipped(tmp_path, monkeypatch):
    """Before: a profile at 127.0.0.1:1 cost 12 s of retries for every cell, and the message pointed at
    devices/profiles/NAME.toml though the profile came from $DYNABERT_DEVICES."""
    from devices import profiles
    from devices.request import InputSpec, RunRequest
    from devices.targets import target_for

    (tmp_path / "gone.toml").write_text(
        'kind = "ssh"\nhost = "127.0.0.1"\nport = 1\nuser = "nobody"\n'
    )
    monkeypatch.setenv("DYNABERT_DEVICES", str(tmp_path))
    monkeypatch.setattr("devices.ssh.time.sleep", lambda s: None)  # the back-off, not waited here
    calls, real = [], ssh.ssh

    def counted(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(ssh, "ssh", counted)
    target = target_for(profiles.get("gone"))  # one target per device per sweep (bench.sweep)
    artifact = tmp_path / "m.onnx"
    artifact.write_bytes(b"not run")
    spec = InputSpec(("input_ids", "attention_mask", "token_type_ids"), "int64", 200, 2)
    request = RunRequest(artifact=artifact, runtime="onnxruntime", inputs=spec, seq_len=16)
    first = target.run(request)
    assert len(calls) == 1  # the first cell tried (with its retries) and found it unreachable
    rest = [target.run(request) for _ in range(5)]
    assert len(calls) == 1  # the other cells did not try again
    for r in (first, *rest):
        assert not r.ok and r.refused  # recorded as skipped, with the reason
        assert "device 'gone'" in r.error and "unreachable" in r.error
        assert str(tmp_path / "gone.toml") in r.error and "devices/profiles/gone" not in r.error
