"""TinyBERT's data augmentation (spec 4): word replacement by a masked-language model, written once and reused.

For every word that is alphabetic and not a stop word: a single-WordPiece word is masked and the MLM's top-M
predictions become its candidates (the model sees the masked text, then the original text as segment B, as
TinyBERT's script feeds it); a word of several pieces takes its M nearest GloVe neighbours when a GloVe file is
given, and is kept as it is otherwise. N tries per text replace each candidate position with probability p;
distinct results are kept, the original first. Pair tasks augment each text column in turn, the other kept.

The augmented file is written in chunks with a progress file beside it, so a killed run resumes where it stopped;
the per-example random stream is seeded by (seed, example, column), so a resumed file equals an uninterrupted one.
Must not import bench or devices.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from dynabert.data import Split, TaskSpec, read_split

# TinyBERT's N per task (spec 4); other tasks and custom data use DEFAULT_N
N_PER_TASK = {
    "cola": 30,
    "mrpc": 30,
    "rte": 30,
    "stsb": 30,
    "sst2": 20,
    "qnli": 20,
    "mnli": 10,
    "qqp": 10,
}
DEFAULT_N = 20
# NLTK's English stop-word list, which TinyBERT's script uses
STOP_WORDS = frozenset(
    """
i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves he him his himself
she she's her hers herself it it's its itself they them their theirs themselves what which who whom this that that'll
these those am is are was were be been being have has had having do does did doing a an the and but if or because as
until while of at by for with about against between into through during before after above below to from up down in
out on off over under again further then once here there when where why how all any both each few more most other
some such no nor not only own same so than too very s t can will just don don't should should've now d ll m o re ve y
ain aren aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma mightn
mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't weren weren't won won't wouldn wouldn't
""".split()
)


@dataclass(frozen=True)
class AugmentConfig:
    """What decides the augmented file's content (and its cache key)."""

    model: str  # masked-LM checkpoint: local directory or hub id (e.g. bert-base-uncased)
    n: int = DEFAULT_N  # tries per text (TinyBERT's N)
    replace_prob: float = 0.4  # p: chance that a candidate position is replaced in a try
    top_k: int = 15  # M: MLM / GloVe candidates per word
    glove: str | None = None  # GloVe text file for multi-piece words (first 100,000 words are used)
    seed: int = 42

    def __post_init__(self) -> None:
        if self.n < 1 or self.top_k < 1 or not 0 < self.replace_prob <= 1:
            raise ValueError(
                f"augmentation needs n >= 1, top_k >= 1 and 0 < replace_prob <= 1, got {self}"
            )


def load_mlm(name: str):
    """(tokenizer, masked-LM) of `name`; refuses a checkpoint without a trained MLM head instead of guessing."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from dynabert.presets import MINILM, minilm_dir

    path = str(minilm_dir()) if name == MINILM else name
    if Path(path).exists() and not (Path(path) / "config.json").is_file():
        raise ValueError(
            f"--augment-model {name!r}: no config.json there; pass a masked-LM checkpoint directory "
            f"such as a local copy of bert-base-uncased"
        )
    try:
        model, info = AutoModelForMaskedLM.from_pretrained(path, output_loading_info=True)
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as err:
        raise ValueError(
            f"--augment-model {name!r} cannot be loaded as a masked-language model "
            f"({type(err).__name__}: {str(err).splitlines()[0]}); pass a local directory of a BERT-style "
            f"MLM checkpoint (e.g. bert-base-uncased)"
        ) from None
    if info.get("missing_keys"):
        raise ValueError(
            f"--augment-model {name!r} has no trained masked-LM head (missing "
            f"{sorted(info['missing_keys'])[:3]}...); it would propose random words. Pass a checkpoint "
            f"saved with its MLM head, such as bert-base-uncased"
        )
    return tokenizer, model.eval()


def load_glove(
    path: str, vocab_size: int = 100_000
) -> tuple[np.ndarray, dict[str, int], list[str]]:
    """Unit-normalised vectors of the first `vocab_size` words of a GloVe text file."""
    words, vectors = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            items = line.rstrip().split(" ")
            if len(items) < 2:
                continue
            words.append(items[0])
            vectors.append(np.asarray(items[1:], dtype=np.float32))
            if len(words) == vocab_size:
                break
    if not words or len({len(v) for v in vectors}) != 1:
        raise ValueError(
            f"{path}: not a GloVe text file (one word and its vector per line, all of one length)"
        )
    matrix = np.stack(vectors)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return matrix, {w: i for i, w in enumerate(words)}, words


class Augmenter:
    """Candidates per word (MLM or GloVe), then N random tries per text."""

    def __init__(self, cfg: AugmentConfig, tokenizer, mlm, batch_size: int = 64):
        self.cfg, self.tok, self.mlm, self.batch_size = cfg, tokenizer, mlm, batch_size
        self.glove = load_glove(cfg.glove) if cfg.glove else None
        self.max_len = min(getattr(mlm.config, "max_position_embeddings", 512), 512)
        self.special = set(tokenizer.all_special_tokens)
        self._pieces: dict[str, list[str]] = {}

    def words(self, text: str) -> list[str]:
        """BERT's basic tokenisation (normaliser + pre-tokeniser: lower case, punctuation split)."""
        backend = getattr(self.tok, "backend_tokenizer", None)
        if backend is None:
            return self.tok.basic_tokenizer.tokenize(text)
        normalized = backend.normalizer.normalize_str(text) if backend.normalizer else text
        return [w for w, _ in backend.pre_tokenizer.pre_tokenize_str(normalized)]

    def pieces(self, word: str) -> list[str]:
        if word not in self._pieces:
            self._pieces[word] = self.tok.tokenize(word)
        return self._pieces[word]

    def _glove_candidates(self, word: str) -> list[str]:
        if self.glove is None:
            return []
        matrix, index, vocab = self.glove
        if word not in index:
            return []
        scores = matrix @ matrix[index[word]]
        scores[index[word]] = -np.inf
        return [vocab[i] for i in np.argsort(-scores)[: self.cfg.top_k]]

    @torch.no_grad()
    def candidates(self, texts: list[list[str]]) -> list[dict[int, list[str]]]:
        """For each word list: {word index: candidate words} over the replaceable words."""
        out: list[dict[int, list[str]]] = [{} for _ in texts]
        queries = []  # (text index, word index, input ids, mask position)
        tok = self.tok
        for t, words in enumerate(texts):
            pieces = [self.pieces(w) for w in words]
            flat = [p for ps in pieces for p in ps]
            starts = np.cumsum([0] + [len(ps) for ps in pieces])
            for i, word in enumerate(words):
                if re.search("[^a-z]", word.lower()) or word.lower() in STOP_WORDS:
                    continue
                if len(pieces[i]) != 1:
                    out[t][i] = self._glove_candidates(word) or [word]
                    continue
                pos = 1 + int(starts[i])  # after [CLS]
                if pos >= self.max_len - 1:
                    out[t][i] = [word]
                    continue
                masked = flat[: pos - 1] + [tok.mask_token] + flat[pos:]
                tokens = [tok.cls_token, *masked, tok.sep_token, *flat, tok.sep_token][
                    : self.max_len
                ]
                first = min(len(masked) + 2, len(tokens))
                queries.append(
                    (
                        t,
                        i,
                        tok.convert_tokens_to_ids(tokens),
                        [0] * first + [1] * (len(tokens) - first),
                        pos,
                    )
                )
        for b in range(0, len(queries), self.batch_size):
            chunk = queries[b : b + self.batch_size]
            width = max(len(q[2]) for q in chunk)
            ids = torch.full((len(chunk), width), tok.pad_token_id or 0)
            types = torch.zeros_like(ids)
            mask = torch.zeros_like(ids)
            for r, (_, _, q_ids, q_types, _) in enumerate(chunk):
                ids[r, : len(q_ids)] = torch.tensor(q_ids)
                types[r, : len(q_types)] = torch.tensor(q_types)
                mask[r, : len(q_ids)] = 1
            kwargs = {"token_type_ids": types} if "token_type_ids" in tok.model_input_names else {}
            logits = self.mlm(input_ids=ids, attention_mask=mask, **kwargs).logits
            rows = logits[
                torch.arange(len(chunk)), torch.tensor([q[4] for q in chunk])
            ]  # [n, vocab]
            top = torch.topk(rows, self.cfg.top_k, dim=-1).indices.tolist()
            for (t, i, *_), ids_ in zip(chunk, top):
                words = [
                    w
                    for w in tok.convert_ids_to_tokens(ids_)
                    if not w.startswith("##") and w not in self.special
                ]
                out[t][i] = words or [texts[t][i]]
        return out

    def variants(
        self, original: str, words: list[str], cands: dict[int, list[str]], rng: random.Random
    ) -> list[str]:
        """The original first, then the distinct results of N tries."""
        found = [original]
        for _ in range(self.cfg.n):
            new = list(words)
            for i in sorted(cands):
                choice = rng.choice(cands[i])
                if rng.random() < self.cfg.replace_prob:
                    new[i] = choice
            text = " ".join(new)
            if text not in found:
                found.append(text)
        return found


def cache_key(split: Split, cfg: AugmentConfig) -> str:
    """Content hash of the source rows and of every setting that shapes the output."""
    h = hashlib.sha256(json.dumps(asdict(cfg), sort_keys=True).encode())
    for text, label in zip(split.texts, split.labels):
        h.update(("\t".join(text) + f"\t{label}\n").encode())
    return h.hexdigest()[:12]


def _clean(text: str) -> str:
    return " ".join(text.replace("\t", " ").split())


def augment_file(
    split: Split,
    task: TaskSpec,
    labels: tuple[str, ...] | None,
    cfg: AugmentConfig,
    out_dir: Path,
    chunk: int = 32,
    limit: int | None = None,
) -> Path:
    """The augmented TSV of `split` (text_a[, text_b], label), made once and resumed after a kill."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{task.name}-train-aug-{cache_key(split, cfg)}.tsv"
    if target.is_file():
        return target
    partial, progress_file = (
        target.with_suffix(".tsv.partial"),
        target.with_suffix(".progress.json"),
    )
    columns = [f"text_{c}" for c in "ab"[: len(task.text_columns)]]
    done = 0
    if partial.is_file() and progress_file.is_file():
        progress = json.loads(progress_file.read_text())
        done = progress["examples"]
        with open(partial, "r+b") as f:
            f.truncate(progress["bytes"])  # drop a chunk half-written when the run was killed
    else:
        partial.write_text("\t".join(columns + ["label"]) + "\n", encoding="utf-8")
    tokenizer, mlm = load_mlm(cfg.model)
    aug = Augmenter(cfg, tokenizer, mlm)
    n = len(split) if limit is None else min(limit, len(split))
    from tqdm.auto import tqdm

    bar = tqdm(total=n, initial=done, desc="augment", unit="ex")
    while done < n:
        rows = range(done, min(done + chunk, n))
        lines = []
        for col in range(len(task.text_columns)):
            originals = [split.texts[r][col] for r in rows]
            words = [aug.words(t) for t in originals]
            cands = aug.candidates(words)
            for r, original, w, c in zip(rows, originals, words, cands):
                rng = random.Random(f"{cfg.seed}:{r}:{col}")
                label = split.labels[r] if labels is None else labels[split.labels[r]]
                for text in aug.variants(original, w, c, rng):
                    texts = list(split.texts[r])
                    texts[col] = text
                    lines.append("\t".join(_clean(x) for x in texts) + f"\t{label}\n")
        with open(partial, "a", encoding="utf-8") as f:
            f.write("".join(lines))
            f.flush()
            os.fsync(f.fileno())
        done = rows.stop
        tmp = progress_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"examples": done, "bytes": partial.stat().st_size}))
        tmp.replace(progress_file)
        bar.update(len(rows))
    bar.close()
    partial.replace(target)
    progress_file.unlink(missing_ok=True)
    (target.with_suffix(".json")).write_text(
        json.dumps({**asdict(cfg), "source": split.source, "examples": n}, indent=1)
    )
    return target


def augmented_train(
    split: Split, task: TaskSpec, labels: tuple[str, ...] | None, cfg: AugmentConfig, out_dir: Path
) -> Split:
    """The training split DynaBERT's --data_aug trains on: the original rows, then the augmented file's rows
    (which hold the originals again, as in the official setup)."""
    path = augment_file(split, task, labels, cfg, out_dir)
    file_task = TaskSpec(
        task.name,
        tuple(f"text_{c}" for c in "ab"[: len(task.text_columns)]),
        "label",
        labels,
        task.metric,
    )
    extra = read_split(path, file_task, labels)
    print(
        f"augmented training data: {len(split)} original + {len(extra)} rows from {path}",
        file=sys.stderr,
    )
    return Split(
        "train", split.texts + extra.texts, split.labels + extra.labels, f"{split.source} + {path}"
    )
