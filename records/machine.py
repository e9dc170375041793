"""This machine's identity: what decides a latency (CPU, cores used, kernel-choosing ISA features, memory, OS,
runtime versions) and a short fingerprint of it, so a measurement is only ever reused on the machine that made it.
The one place the CPU's identity is read (records.provenance reads it once per run).

Must not import dynabert, bench, devices or recipes, nor torch or the runtimes (versions are read from package
metadata), so it is cheap enough to compute once per run.

ISA features listed are those that change which kernels the runtimes pick (oneDNN/MLAS/XNNPACK dispatch):
x86: AVX2, FMA, AVX-512F/BW/VL, AVX-512 VNNI, AVX-VNNI, AVX-512 BF16/FP16, AMX tile/int8/bf16;
ARM: asimd (NEON), asimddp (dotprod), i8mm, sve/sve2, bf16, fphp/asimdhp (fp16).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

X86_FEATURES = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
)
ARM_FEATURES = ("asimd", "asimddp", "i8mm", "sve", "sve2", "bf16", "fphp", "asimdhp")
RUNTIME_PACKAGES = ("torch", "onnxruntime", "ai-edge-litert", "numpy")
INT8_DOT_FEATURES = (
    "avx512_vnni",
    "avx_vnni",
    "amx_int8",
    "asimddp",
    "i8mm",
)  # int8 dot-product instructions


@dataclass(frozen=True)
class Machine:
    """What a latency depends on. `fingerprint` (12 hex digits) hashes every other field."""

    cpu_model: str | None
    arch: str  # platform.machine(): x86_64, aarch64, ...
    cores_used: int  # CPUs this process may run on (affinity), not the machine's total
    logical_cpus: int | None
    isa: tuple[str, ...]  # kernel-choosing features present (X86_FEATURES / ARM_FEATURES order)
    memory_gib: int | None  # MemTotal, rounded to whole GiB
    os: str  # system and kernel release, e.g. "Linux 6.8.0"
    python: str
    runtimes: dict = field(default_factory=dict)  # package -> version (None if not installed)
    fingerprint: str = ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["isa"] = list(self.isa)
        return d

    @property
    def label(self) -> str:
        """Short human label for legends and table columns: CPU, cores, int8-dot-product features, fingerprint."""
        cpu = (
            (self.cpu_model or self.arch).replace("(R)", "").replace("(TM)", "").replace(" CPU", "")
        )
        dots = [f for f in self.isa if f in INT8_DOT_FEATURES]
        isa = "+".join(dots) or "no int8-dot ISA"
        return f"{' '.join(cpu.split())}, {self.cores_used} cores, {isa} [{self.fingerprint}]"


def fingerprint(fields: dict) -> str:
    """sha256 (first 12 hex digits) of the identity fields as sorted JSON; the fingerprint field itself excluded."""
    body = {k: v for k, v in fields.items() if k != "fingerprint"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=list).encode()).hexdigest()[:12]


def _cpuinfo() -> tuple[str | None, set[str]]:
    """(model name, flag set) from /proc/cpuinfo; (None, empty) where it is unreadable (non-Linux)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or None, set()
    model, flags = None, set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "Hardware", "cpu model") and model is None:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    if (
        model is None and "CPU implementer" in text
    ):  # ARM Linux: no model name; implementer + part identify it
        ids = {
            k.strip(): v.strip()
            for k, _, v in (line.partition(":") for line in text.splitlines())
            if k.strip() in ("CPU implementer", "CPU part")
        }
        model = f"ARM implementer {ids.get('CPU implementer')} part {ids.get('CPU part')}"
    return model or platform.processor() or None, flags


def _memory_gib() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20)
    except OSError:
        pass
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
    except (ValueError, OSError, AttributeError):
        return None


def package_versions(packages: tuple[str, ...]) -> dict:
    """Installed version of each package (None where it is not installed)."""
    out = {}
    for pkg in packages:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def this_machine(cores_used: int | None = None) -> Machine:
    """The identity of the machine this process runs on. `cores_used` defaults to this process's affinity."""
    model, flags = _cpuinfo()
    arch = platform.machine()
    known = (
        ARM_FEATURES
        if arch.lower() in ("aarch64", "arm64") or arch.startswith("arm")
        else X86_FEATURES
    )
    if cores_used is None:
        cores_used = (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else (os.cpu_count() or 1)
        )
    fields = dict(
        cpu_model=model,
        arch=arch,
        cores_used=cores_used,
        logical_cpus=os.cpu_count(),
        isa=[f for f in known if f in flags],
        memory_gib=_memory_gib(),
        os=f"{platform.system()} {platform.release().split('-')[0]}",
        python=platform.python_version(),
        runtimes=package_versions(RUNTIME_PACKAGES),
    )
    return Machine(**{**fields, "isa": tuple(fields["isa"])}, fingerprint=fingerprint(fields))


def from_dict(d: dict) -> Machine:
    """A Machine from its to_dict() form (as stored in a record)."""
    return Machine(**{**d, "isa": tuple(d.get("isa") or ())})


def has_int8_dot(isa: tuple[str, ...] | list[str]) -> bool:
    """True if the CPU has an int8 dot-product instruction (VNNI/AMX on x86, dotprod/i8mm on ARM).

    Without one, x86 u8 x s8 int8 GEMMs use vpmaddubsw, whose int16 intermediate sums saturate; onnxruntime's
    quantization docs recommend reduce_range (7-bit weights) there (onnxruntime.ai/docs/performance/model-
    optimizations/quantization.html, "When to use reduce_range").
    """
    return any(f in INT8_DOT_FEATURES for f in isa)
