"""A Linux board over SSH (Raspberry Pi, Jetson, any aarch64 or x86 host), with the system ssh client.

Streams the runner and each artifact once (by content hash) into the profile's workdir, runs the runner there,
and returns its JSON. Installs nothing unless asked (`prepare`: pip install --target WORKDIR/site). A dropped
connection (ssh exit 255) is retried with back-off; the caller writes each finished record before the next cell.
Must not import dynabert or bench.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import subprocess
import time
from pathlib import Path

from devices.request import RunRequest, RunResult, from_runner_output, refusal
from devices.runner import SESSION_SUFFIX

RUNNER = Path(__file__).with_name("runner.py")
CONNECTION_FAILED = 255


class Unreachable(RuntimeError):
    pass


def _base(profile: dict) -> list[str]:
    opts = [
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=accept-new",
        "-o",
        "ConnectTimeout=10",
        "-o",
        f"UserKnownHostsFile={Path(profile.get('known_hosts', '~/.ssh/known_hosts')).expanduser()}",
    ]
    if profile.get("key"):
        opts += ["-i", str(Path(profile["key"]).expanduser())]
    return opts


def ssh(
    profile: dict,
    command: str,
    timeout_s: float = 600,
    retries: int = 3,
    backoff_s: float = 2.0,
    check: bool = True,
    stdin_path: Path | None = None,
) -> str:
    """Run `command` on the host; retries dropped connections, raises Unreachable naming host and fix."""
    target = f"{profile['user']}@{profile['host']}" if profile.get("user") else profile["host"]
    cmd = ["ssh", *_base(profile), "-p", str(profile.get("port", 22)), target, command]
    last = ""
    for attempt in range(retries + 1):
        try:
            if stdin_path is None:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
            else:
                with open(stdin_path, "rb") as f:
                    proc = subprocess.run(cmd, stdin=f, capture_output=True, timeout=timeout_s)
                proc.stdout, proc.stderr = (
                    proc.stdout.decode(errors="replace"),
                    proc.stderr.decode(errors="replace"),
                )
        except subprocess.TimeoutExpired:
            last = f"timed out after {timeout_s:.0f} s"
        else:
            if proc.returncode != CONNECTION_FAILED:
                if proc.returncode and check:
                    raise RuntimeError(
                        f"{profile['name']}: `{command[:80]}` failed ({proc.returncode}): "
                        f"{proc.stderr.strip()[-500:]}"
                    )
                return proc.stdout
            last = proc.stderr.strip()
        if attempt < retries:
            time.sleep(backoff_s * (attempt + 1))
    where = (
        profile.get("path") or f"devices/profiles/{profile['name']}.toml"
    )  # the file it was read from
    raise Unreachable(
        f"device {profile['name']!r} ({target}:{profile.get('port', 22)}) is unreachable: {last}. "
        f"Check host/port/user/key in {where} and that sshd runs there"
    )


def workdir(profile: dict) -> str:
    return profile.get("workdir", "~/.cache/dynabert-edge").rstrip("/")


def push(profile: dict, local: Path) -> str:
    """Remote path of `local`, copied only if that content is not there yet (name = sha256 prefix)."""
    digest = hashlib.sha256(local.read_bytes()).hexdigest()[:16]
    remote = f"{workdir(profile)}/blobs/{digest}{local.suffix}"
    if ssh(profile, f"test -f {remote} && echo yes || echo no").strip() != "yes":
        # streamed through ssh itself (no scp/sftp subsystem needed), renamed only when complete
        ssh(
            profile,
            f"mkdir -p {workdir(profile)}/blobs && cat > {remote}.part && mv {remote}.part {remote}",
            stdin_path=local,
        )
    return remote


def python(profile: dict) -> str:
    site = f"{workdir(profile)}/site"
    return f"PYTHONPATH={site}${{PYTHONPATH:+:$PYTHONPATH}} {profile.get('python', 'python3')}"


def check(profile: dict) -> dict:
    """Reachability, architecture and which runtimes import there."""
    probe = (
        "import platform, importlib.util as u, json; print(json.dumps({'arch': platform.machine(), "
        "'runtimes': [r for r, m in (('onnxruntime', 'onnxruntime'), ('litert', 'ai_edge_litert'), "
        "('litert', 'tflite_runtime')) if u.find_spec(m)], 'numpy': bool(u.find_spec('numpy'))}))"
    )
    out = ssh(profile, f"{python(profile)} -c {shlex.quote(probe)}")
    return json.loads(out.strip().splitlines()[-1])


def prepare(profile: dict) -> str:
    """Install numpy, onnxruntime and ai-edge-litert into WORKDIR/site on the device (pip, its own arch)."""
    site = f"{workdir(profile)}/site"
    return ssh(
        profile,
        f"{profile.get('python', 'python3')} -m pip install -q --target {site} numpy onnxruntime "
        f"ai-edge-litert",
        timeout_s=1800,
    )


class Ssh:
    """A Linux board over SSH; the runner there with its own numpy / onnxruntime / LiteRT (`prepare` installs them)."""

    kind = "ssh"

    def __init__(self, profile: dict):
        self.profile = profile
        self.unreachable: str | None = None  # why this target (one per sweep) was found unreachable

    def check(self) -> tuple[bool, str]:
        try:
            info = check(self.profile)
        except Unreachable as err:
            self.unreachable = str(err)
            return False, str(err)
        except RuntimeError as err:
            return False, str(err)
        if not info["runtimes"]:
            return False, (
                f"reachable ({info['arch']}) but no runtime imports there; run python -m devices "
                f"prepare {self.profile['name']} to install them into its workdir"
            )
        return (
            True,
            f"reachable, {info['arch']}, runtimes: {', '.join(sorted(set(info['runtimes'])))}",
        )

    def plan(self, request: RunRequest) -> RunRequest:
        return request

    def run(self, request: RunRequest) -> RunResult:
        """The runner's result from the device. An unreachable device is a refusal (the sweep records it as
        skipped) naming it and its profile; this target then refuses every later request at once with the same
        reason, so a sweep tries the connection once, not once per cell."""
        why = refusal(request, saving=False) or (
            None
            if request.runtime in ("onnxruntime", "litert")
            else f"the {request.runtime} runtime is local only (it loads the model with this project's code)"
        )
        if why:
            return RunResult.refuse(f"{self.profile['name']}: {why}")
        if (
            self.unreachable
        ):  # found once: its other cells are skipped at once, not retried for 12 s each
            return RunResult.refuse(f"skipped: {self.unreachable}")
        try:
            runner = push(self.profile, RUNNER)
            remote = push(self.profile, Path(request.artifact))
            sidecar = Path(str(request.artifact) + SESSION_SUFFIX)
            if (
                sidecar.is_file()
            ):  # the session settings travel with the artifact, under the name the runner reads
                ssh(self.profile, f"cat > {remote}{SESSION_SUFFIX}", stdin_path=sidecar)
            else:
                ssh(self.profile, f"rm -f {remote}{SESSION_SUFFIX}")
            buckets = {n: push(self.profile, Path(p)) for n, p in request.buckets}
            args = " ".join(
                request.runner_args(artifact=remote, buckets=buckets)
            )  # unquoted: a workdir may start with ~
            out = run_remote(self.profile, f"{python(self.profile)} {runner} {args}", request)
        except Unreachable as err:
            self.unreachable = str(err)
            return RunResult.refuse(f"skipped: {err}")
        except RuntimeError as err:
            return RunResult.failed(str(err))
        return from_runner_output(out, where=f"{self.profile['name']} runner")


def run_remote(profile: dict, command: str, request: RunRequest) -> str:
    """`command` on the board, the request's query set (if any) on its stdin."""
    payload = request.queries_json()
    if payload is None:
        return ssh(profile, command, timeout_s=request.timeout_s, check=False)
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        f.write(payload)
        f.flush()
        return ssh(
            profile, command, timeout_s=request.timeout_s, check=False, stdin_path=Path(f.name)
        )
