"""The emulated aarch64 target: qemu-user + a Debian arm64 sysroot + real aarch64 wheels + an instruction counter.

Each counted inference is bracketed by markers. The counts repeat to the instruction across processes only with:
no helper threads in the guest (numpy's OpenBLAS pool wakes on host timing, so OPENBLAS_NUM_THREADS=1), no
onnxruntime spin-waiting or telemetry (the runner switches it off), 3 warm-up runs, and an identical argv shape
(the guest heap layout depends on it). The minimum of the per-run counts is reported, all of them kept.
Recipe and pitfalls: ../shared/notes/arm-emulation.md (fake ARM /proc/cpuinfo, precompiled stdlib, -cpu
neoverse-n1, manylinux_2_34 tags). The primary figure is the exact number of guest instructions per inference,
counted by a TCG plugin between two markers the runner emits; emulated wall time is kept but is never ARM latency.
Must not import dynabert or bench.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from devices.request import RunRequest, RunResult, from_runner_output, refusal

PLUGIN_SRC = Path(__file__).with_name("plugin") / "insncount.c"
RUNNER = Path(__file__).with_name("runner.py")
DEBS = (
    "libc6 libgcc-s1 libstdc++6 zlib1g libexpat1 libffi8 libbz2-1.0 liblzma5 libcrypt1 libuuid1 libssl3 "
    "libsqlite3-0 libncursesw6 libtinfo6 libreadline8 libdb5.3 libgdbm6 media-types python3.11-minimal "
    "libpython3.11-minimal libpython3.11-stdlib"
).split()
PLATFORMS = [
    "manylinux2014_aarch64",
    "manylinux_2_17_aarch64",
    "manylinux_2_27_aarch64",
    "manylinux_2_28_aarch64",
    "manylinux_2_31_aarch64",
    "manylinux_2_34_aarch64",
]
SITES = {
    "onnxruntime": ("site-ort", ["onnxruntime", "numpy"]),
    "litert": ("site-litert", ["ai-edge-litert"]),
}
CPUINFO = (
    "processor\t: {i}\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp "
    "asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
    "CPU variant\t: 0x3\nCPU part\t: 0xd0c\nCPU revision\t: 1\n\n"
)


def default_cache() -> Path:
    return (
        Path(os.environ.get("DYNABERT_CACHE", Path.home() / ".cache" / "dynabert-edge"))
        / "qemu-arm"
    )


def qemu_binary() -> str | None:
    return shutil.which("qemu-aarch64")


def status(cache: Path | None = None) -> tuple[bool, str]:
    """(ready, what is missing and the command that fixes it)."""
    cache = cache or default_cache()
    if qemu_binary() is None:
        return (
            False,
            "qemu-aarch64 not found: install Debian's qemu-user (apt-get install qemu-user)",
        )
    if not (cache / "sysroot" / "usr" / "bin" / "python3.11").is_file():
        return False, f"no arm64 sysroot in {cache}: run python -m devices setup qemu-arm"
    missing = [rt for rt, (site, _) in SITES.items() if not (cache / site).is_dir()]
    if missing:
        return (
            False,
            f"no aarch64 wheels for {missing} in {cache}: run python -m devices setup qemu-arm",
        )
    return True, f"ready ({cache})"


def _run(cmd: list[str], **kw) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode:
        raise RuntimeError(
            f"{' '.join(cmd[:4])} ... failed ({proc.returncode}): {proc.stderr.strip()[-800:]}"
        )


def setup(cache: Path | None = None) -> Path:
    """Build the target into `cache` (idempotent: finished parts are kept). Needs apt-get (root) and PyPI."""
    cache = (cache or default_cache()).expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    if qemu_binary() is None:
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            raise RuntimeError(
                "qemu-aarch64 is missing; install Debian's qemu-user as root (apt-get install qemu-user)"
            )
        _run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "qemu-user"])
    root = cache / "sysroot"
    if not (root / "usr" / "bin" / "python3.11").is_file():
        apt = [
            "-o",
            "APT::Architecture=arm64",
            "-o",
            "APT::Architectures::=arm64",
            "-o",
            f"Dir::State::Lists={cache}/apt/lists",
            "-o",
            f"Dir::Cache={cache}/apt/cache",
            "-o",
            "Dir::State::status=/dev/null",
            "-o",
            "Debug::NoLocking=1",
        ]
        for d in ("apt/lists/partial", "apt/cache/archives/partial", "debs"):
            (cache / d).mkdir(parents=True, exist_ok=True)
        _run(["apt-get", *apt, "-qq", "update"])
        _run(["apt-get", *apt, "-qq", "download", *DEBS], cwd=cache / "debs")
        for d in ("usr/bin", "usr/lib", "usr/sbin", "proc"):
            (root / d).mkdir(parents=True, exist_ok=True)
        for link in ("bin", "lib", "sbin"):
            if not (root / link).exists():
                (root / link).symlink_to(f"usr/{link}")
        for deb in sorted((cache / "debs").glob("*.deb")):
            tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
            _run(["tar", "-C", str(root), "--keep-directory-symlink", "-xf", "-"], stdin=tar.stdout)
            tar.wait()
        (root / "proc" / "cpuinfo").write_text(
            "".join(CPUINFO.format(i=i) for i in range(2))
        )  # see pitfall 3
        subprocess.run(
            [
                sys.executable,
                "-m",
                "compileall",
                "-q",
                "-j2",
                "-s",
                str(root),
                "-p",
                "/",
                str(root / "usr/lib/python3.11"),
            ],
            capture_output=True,
        )  # pitfall 5: precompiled stdlib
    (cache / "home").mkdir(exist_ok=True)
    for site, packages in SITES.values():
        if not (cache / site).is_dir():
            tmp = cache / f"{site}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            plat = [a for p in PLATFORMS for a in ("--platform", p)]
            _run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--no-cache-dir",
                    "--target",
                    str(tmp),
                    "--only-binary=:all:",
                    "--python-version",
                    "3.11",
                    "--implementation",
                    "cp",
                    *plat,
                    *packages,
                ]
            )
            tmp.rename(cache / site)
    plugin = cache / "libinsncount.so"
    if not plugin.is_file():
        _run(
            [
                "gcc",
                "-O2",
                "-shared",
                "-fPIC",
                "-fvisibility=hidden",
                "-o",
                str(plugin),
                str(PLUGIN_SRC),
            ]
        )
    return cache


EMULATED = {
    "warmup": 3,
    "min_runs": 2,
    "min_time_s": 0.0,
    "count_runs": 3,
}  # see the module docstring


class QemuArm:
    """Emulated aarch64: aarch64 onnxruntime and LiteRT under qemu-user; the figure is guest instructions."""

    kind = "qemu-arm"

    def __init__(self, profile: dict):
        self.profile = profile
        self.cpu = profile.get("cpu", "neoverse-n1")
        self.cache = Path(profile["cache"]).expanduser() if profile.get("cache") else None

    def check(self) -> tuple[bool, str]:
        return status(self.cache)

    def plan(self, request: RunRequest) -> RunRequest:
        """The emulated measurement: 3 warm-ups, 2 timed runs (emulated wall time, kept apart), 3 counted runs;
        the logits are brought back (beside the artifact) to be compared with this machine's."""
        return replace(
            request,
            **EMULATED,
            save_output=request.save_output or f"{request.artifact}.arm-out.npy",
        )

    def run(self, request: RunRequest) -> RunResult:
        """Runner result from the emulated target, with `instructions_per_inference` (exact, from the plugin)."""
        why = refusal(request, counting=True) or (
            None
            if request.runtime in SITES
            else f"no aarch64 {request.runtime} here (only {', '.join(SITES)})"
        )
        if why:
            return RunResult.refuse(f"qemu-arm: {why}")
        cache = (self.cache or default_cache()).expanduser()
        ok, why = status(cache)
        if not ok:
            return RunResult.failed(f"qemu-arm: {why}")
        # always the same argv, to the character (a fixed output name; its content, not only its length, moves the
        # count): the guest's memory layout, and with it the instruction count, depends on it. A lock keeps two
        # sweeps from sharing the name; a run that saves its output counts like one that does not.
        out_npy = cache / "home" / "out.npy"
        cmd = [
            *(["setarch", "-R"] if shutil.which("setarch") else []),
            "env",
            "-i",
            *guest_env(cache, request),
            qemu_binary(),
            "-plugin",
            str(cache / "libinsncount.so"),
            "-d",
            "plugin",
            "-cpu",
            self.cpu,
            "-L",
            str(cache / "sysroot"),
            str(cache / "sysroot/usr/bin/python3.11"),
            str(RUNNER),
            *request.runner_args(),
            "--save-output",
            str(out_npy),
        ]
        with open(cache / "home" / ".run.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            out_npy.unlink(missing_ok=True)
            try:
                proc = subprocess.run(
                    cmd,
                    capture_output=True,
                    text=True,
                    timeout=request.timeout_s,
                    input=request.queries_json(),
                )
            except subprocess.TimeoutExpired:
                return RunResult.failed(
                    f"qemu-arm: runner timed out after {request.timeout_s:.0f} s"
                )
            if out_npy.exists():
                shutil.move(
                    str(out_npy), request.save_output
                ) if request.save_output else out_npy.unlink()
        result = from_runner_output(
            proc.stdout, proc.stderr, proc.returncode, where="qemu-arm runner"
        )
        counted = instruction_counts(proc.stderr, request.count_runs)
        if result.ok and counted:
            # consecutive runs differ by < 1% (the allocator's state moves on); each is deterministic across processes
            result.instructions_per_inference, result.instructions_per_run = min(counted), counted
        result.extra["emulated"] = {
            "qemu": qemu_binary(),
            "cpu": self.cpu,
            "sysroot": home_relative(cache / "sysroot"),
            "note": "wall times are emulated (qemu TCG on x86), not ARM latency",
        }
        return result


def guest_env(cache: Path, request: RunRequest) -> list[str]:
    return [
        "PATH=/usr/bin:/bin",
        f"HOME={cache / 'home'}",
        "LANG=C.UTF-8",
        "PYTHONHASHSEED=0",
        "PYTHONDONTWRITEBYTECODE=1",
        "DYNABERT_NO_SPIN=1",
        "OPENBLAS_NUM_THREADS=1",
        "OMP_NUM_THREADS=1",
        f"PYTHONPATH={cache / SITES[request.runtime][0]}",
    ]


def instruction_counts(stderr: str, count_runs: int) -> list[int] | None:
    """The plugin's per-run counts between the runner's markers, or None unless all `count_runs` were seen."""
    marks = {
        int(m): int(d) for m, d in re.findall(r"insncount: mark=(\d+) vcpu=\d+ delta=(\d+)", stderr)
    }
    per_run = [marks[2 + i] for i in range(count_runs) if 2 + i in marks]
    return per_run if count_runs and len(per_run) == count_runs else None


def home_relative(path: Path) -> str:
    """`path` with the user's home shown as ~ (records are committed: no machine's absolute home path in them)."""
    try:
        return "~/" + Path(path).resolve().relative_to(Path.home().resolve()).as_posix()
    except ValueError:
        return str(path)
