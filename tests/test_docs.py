"""The README stays a five-minute read and the docs cannot rot: every code block marked runnable
(`<!-- runnable -->` on the line before its fence) is run, on tiny settings, by test_runnable_docs_commands_run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MARKER = "<!-- runnable -->"
README_MAX_WORDS = 1500
# what a runnable block says for a user -> what the test runs (tiny model, small generated data)
TINY = {
    "--model minilm-l6": "--model tiny",
    "--max-train-samples 1500": "--max-train-samples 64",
}
FENCE = re.compile(r"^```(\w+)?[^\n]*\n(.*?)^```", re.S | re.M)


def runnable_blocks(text: str) -> list[str]:
    """The bodies of the fenced blocks whose fence line comes right after the runnable marker."""
    out = []
    for m in re.finditer(re.escape(MARKER) + r"\s*\n(```[^\n]*\n.*?^```)", text, re.S | re.M):
        out.append(FENCE.match(m.group(1)).group(2))
    return out


def doc_pages() -> list[Path]:
    return sorted((ROOT / "docs").glob("*.md"))


def tiny(block: str) -> str:
    for user, test in TINY.items():
        block = block.replace(user, test)
    return block


def test_readme_has_at_most_1500_words():
    words = len((ROOT / "README.md").read_text().split())
    assert words <= README_MAX_WORDS, f"README.md has {words} words (at most {README_MAX_WORDS})"


def test_readme_and_docs_relative_links_point_at_files():
    link = re.compile(r"\]\((?!https?:|#)([^)#\s]+)")
    for page in [ROOT / "README.md", *doc_pages()]:
        for target in link.findall(page.read_text()):
            assert (page.parent / target).exists(), (
                f"{page.relative_to(ROOT)} links to missing {target}"
            )


def test_runnable_blocks_are_found_and_a_marked_block_is_bash():
    text = "a\n" + MARKER + "\n```bash\necho one\n```\n\n```bash\necho not marked\n```\n"
    assert runnable_blocks(text) == ["echo one\n"]
    found = {p.name: runnable_blocks(p.read_text()) for p in doc_pages()}
    assert sum(map(len, found.values())) >= 2, found
    for page in doc_pages():
        for m in re.finditer(re.escape(MARKER) + r"\s*\n```(\w*)", page.read_text()):
            assert m.group(1) == "bash", f"{page.name}: a runnable block must be ```bash"


@pytest.mark.slow
@pytest.mark.parametrize("page", [p.name for p in doc_pages() if runnable_blocks(p.read_text())])
def test_runnable_docs_commands_run(page, tmp_path):
    """Each page's runnable blocks, in order, in one folder holding glue_data/SST-2 (a generated stand-in),
    with the tiny model; each must exit 0."""
    from bench.standin import write_sst2_standin

    write_sst2_standin(
        tmp_path / "glue_data" / "SST-2", {"train.tsv": 64, "dev.tsv": 32}, filler_words=3
    )
    env = os.environ | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "DYNABERT_CACHE": str(tmp_path / "cache"),
    }
    for block in runnable_blocks((ROOT / "docs" / page).read_text()):
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", tiny(block)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, (
            f"{page}: {tiny(block)}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        )
