"""`dynabert-bench COMMAND ...` (= `python -m bench COMMAND ...` = `python -m bench.COMMAND ...`): one entry point
for the bench commands, each module's own `main(argv)` and its own `--help`.

Must not measure or report itself: it only picks the module.
"""

from __future__ import annotations

import importlib
import sys

# command -> (module, one line); the modules' own parsers hold every option
COMMANDS = {
    "export": ("bench.export", "export one sub-network to ONNX / TFLite (fp32, int8) and check it"),
    "sweep": (
        "bench.sweep",
        "measure sub-networks x runtimes x threads x devices into a records store",
    ),
    "pareto": (
        "bench.pareto",
        "the report (figures, tables) from records; `select`, `search` subcommands",
    ),
    "predictor": ("bench.predictor", "sample per-layer sub-networks; fit a latency predictor"),
    "artifact-accuracy": (
        "bench.artifact_accuracy",
        "dev accuracy of the exported artifacts themselves",
    ),
    "gpu-check": ("bench.gpu_check", "check a CUDA machine in one command"),
}


def usage() -> str:
    lines = ["usage: dynabert-bench COMMAND [options]   (COMMAND --help for its options)", ""]
    lines += [f"  {name:18s} {line}" for name, (_, line) in COMMANDS.items()]
    lines += [
        "",
        "example: dynabert-bench sweep --model tiny --runtimes onnxruntime --results out.jsonl",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    name = args[0].replace("_", "-")
    if name not in COMMANDS:
        print(f"error: unknown command {args[0]!r}; one of {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return module.main(args[1:])


if __name__ == "__main__":
    sys.exit(main())
