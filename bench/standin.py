"""A small SST-2-format stand-in data set whose label is a word rule: for checks that must run where GLUE is not
(the test suite's `sst2_dir` fixture, `python -m bench.gpu_check`). One writer, so both make the same kind of data.

Each sentence is `filler_words` words from FILLER and `label_words` words from GOOD (label 1) or BAD (label 0),
shuffled; files have SST-2's header `sentence<TAB>label`. A model that learns the rule reaches ~100% dev accuracy.
"""

from __future__ import annotations

import random
from pathlib import Path

GOOD = ("good", "great", "fine", "lovely", "fun", "superb")
BAD = ("bad", "dull", "awful", "boring", "weak", "poor")
FILLER = (
    "the",
    "film",
    "was",
    "quite",
    "a",
    "story",
    "with",
    "acting",
    "and",
    "plot",
    "very",
    "its",
    "cast",
)
WORDS = (*GOOD, *BAD, *FILLER)  # every word the stand-in uses (for a word-level tokenizer)


def write_sst2_standin(
    folder: str | Path,
    rows: dict[str, int],
    filler_words: int = 5,
    label_words: int = 3,
    seed: int = 0,
) -> Path:
    """Write `rows` ({"train.tsv": 2048, "dev.tsv": 256}: file name -> examples) into `folder` (created); returns
    it. Deterministic for a seed."""
    rng, folder = random.Random(seed), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in rows.items():
        lines = ["sentence\tlabel"]
        for _ in range(n):
            label = rng.randint(0, 1)
            words = rng.sample(FILLER, filler_words) + [
                rng.choice(GOOD if label else BAD) for _ in range(label_words)
            ]
            rng.shuffle(words)
            lines.append(" ".join(words) + f"\t{label}")
        (folder / name).write_text("\n".join(lines) + "\n")
    return folder
