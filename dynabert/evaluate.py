"""Task metric of every (width, depth) of one checkpoint, and the accuracy records for the results store.

`prepare` is the one place an evaluation is set up, for `dynabert evaluate` and `bench.artifact_accuracy` alike:
it checks the request against the model's own limits (positions, heads) and labels before reading anything
else, reads only the split it scores, and maps the checkpoint's outputs to the task's labels by name.
Must not import bench or devices.
"""

from __future__ import annotations

import hashlib
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

import records
from dynabert.config import SubnetSpec, check_grid, parse_mults
from dynabert.data import (
    Split,
    TaskSpec,
    collate,
    default_split,
    encode,
    get_task,
    load_split,
    task_dir,
)
from dynabert.flops import cost
from dynabert.limits import check_seq_len, check_tokenizer, input_limits
from dynabert.model import DynaBert
from dynabert.options import EvaluateOptions, TaskOptions
from dynabert.subnet import check_subnets, read_subnets, unique_specs
from records.provenance import this_run


@dataclass
class Evaluation:
    """A checkpoint made ready to score one split: labels aligned, inputs checked against the model's limits."""

    model_dir: Path
    task: TaskSpec
    split: Split
    task_key: str  # what records carry: the cited table's key (mnli-m / mnli-mm per MNLI dev split)
    labels: tuple[str, ...] | None  # None: regression
    dyna: DynaBert
    features: list[dict]
    pad_token_id: int
    specs: list  # SubnetSpec (widths written exactly as k/heads) or per-layer LayerwiseSpec

    def split_label(self, extra: str = "") -> str:
        return f"{self.split.name} ({self.split.source}, {len(self.features)} examples{extra})"


STAGE_NOTES = {
    "width": "its sub-networks were distilled at full depth only (stage depth did not finish)",
    "teacher": "it is the fine-tuned teacher: its sub-networks were never distilled (stages width and "
    "depth did not finish)",
}


def resolve_checkpoint(path: str) -> Path:
    """A model directory from a training OUTPUT (latest finished stage), a stage folder or a model folder.

    A training OUTPUT prints to stderr which stage's model is used, and warns when that stage is width or teacher
    (its sub-networks were not distilled at every width x depth). ValueError when none holds a config.json."""
    p = Path(path)
    for candidate in (p, p / "best"):
        if (candidate / "config.json").is_file():
            return candidate
    for stage in ("final", "depth", "width", "teacher"):
        candidate = p / stage / "best"
        if (candidate / "config.json").is_file():
            print(
                f"note: {path} is a training output; using {candidate} (stage {stage})",
                file=sys.stderr,
            )
            if stage in STAGE_NOTES:
                print(
                    f"warning: {candidate} is from stage {stage}: {STAGE_NOTES[stage]}; its accuracy at smaller "
                    f"widths and depths is not DynaBERT's (finish stage depth, or pass {candidate} to use it "
                    f"knowingly)",
                    file=sys.stderr,
                )
            return candidate
    raise ValueError(
        f"no model found at {path!r} (looked for config.json in it, in best/, and in "
        f"final|depth|width|teacher/best/); train first or pass a model directory"
    )


def requested_specs(task: TaskOptions, size, source: str) -> list:
    """--subnets FILE (grid points or per-layer; duplicates dropped, with a note), else the --widths x --depths
    grid; each checked against `size` (config.check_grid, subnet.check_subnets): ValueError names the flag or the
    file and item, the model and the fix."""
    if task.subnets:
        specs, dropped = unique_specs(
            check_subnets(read_subnets(task.subnets), size, task.subnets),
            size,
            parse_mults(task.depths, "depths"),
        )
        if dropped:
            print(
                f"note: {len(dropped)} duplicate sub-network(s) in {task.subnets} dropped (one canonical id each): "
                f"{'; '.join(dropped)}",
                file=sys.stderr,
            )
        return specs
    return check_grid(
        parse_mults(task.widths, "widths"), parse_mults(task.depths, "depths"), size, source
    )


def prepare(opts: TaskOptions, seq_len: int, seq_flag: str, limit: int | None = None) -> Evaluation:
    """Everything `opts` (dynabert.options.TaskOptions) names, checked in order: model limits and labels
    (config.json only), then the one scored file, then weights and tokens. ValueError names the bad value
    and the fix."""
    from transformers import AutoConfig

    from dynabert.labels import align_classifier, checkpoint_order, eval_labels
    from dynabert.model import bert_size
    from dynabert.presets import check_model_dir, load_model, load_tokenizer

    model_dir = resolve_checkpoint(opts.checkpoint)
    check_model_dir(
        model_dir
    )  # an unsupported model refused from config.json, before transformers reads it
    source = str(model_dir)
    task = get_task(opts.task, opts.text_columns, opts.label_column)
    split = opts.split or default_split(opts.task, task)
    config = AutoConfig.from_pretrained(model_dir)
    limits, size = input_limits(config), bert_size(config)
    check_seq_len(limits, seq_len, seq_flag, source)
    specs = requested_specs(opts, size, source)
    folder = task_dir(opts.data_dir, task)
    train_file = next(
        (folder / f"train{e}" for e in (".tsv", ".csv") if (folder / f"train{e}").is_file()), None
    )
    labels = eval_labels(task, config, train_file)
    checkpoint_order(config, task, labels, source)  # refuse before reading data or weights
    data = load_split(task, opts.data_dir, split, labels, opts.max_errors)
    if not len(data):
        raise ValueError(f"{data.source} holds no examples to score")
    hf = align_classifier(load_model(source), task, labels, source, note_generic=True)
    tokenizer = load_tokenizer(source)
    check_tokenizer(tokenizer, limits, source)
    features = encode(data, tokenizer, seq_len, limit, limits, seq_flag, source)
    return Evaluation(
        model_dir,
        task,
        data,
        task.key(split),
        labels,
        DynaBert(hf),
        features,
        tokenizer.pad_token_id or 0,
        specs,
    )


def metric_fields(metrics: dict[str, float], reason: str | None) -> dict:
    """Record fields of one scored sub-network: an undefined metric is an error record with its reason, never a
    number."""
    name = next(iter(metrics))
    if reason is not None:
        return {
            "metric_name": name,
            "metric_value": None,
            "metrics": None,
            "status": "error",
            "error": f"{'/'.join(metrics)} undefined: {reason}",
        }
    return {"metric_name": name, "metric_value": metrics[name], "metrics": metrics}


def describe(metrics: dict[str, float], reason: str | None) -> str:
    """'accuracy 0.8125, f1 0.8' or 'pearson/spearman undefined (...)' for a console line."""
    if reason is not None:
        return f"{'/'.join(metrics)} undefined ({reason})"
    return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if not math.isnan(v))


def weights_sha(model: torch.nn.Module) -> str:
    """First 12 hex digits of a SHA-256 over the state dict (names and bytes): identifies the weights."""
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:12]


@torch.no_grad()
def predict(
    dyna: DynaBert,
    features: list[dict],
    spec: SubnetSpec,
    batch_size: int,
    pad_token_id: int,
    regression: bool,
) -> list:
    """Predictions (class index, or the score for regression) of one sub-network, in example order."""
    was_training = dyna.training
    dyna.eval()
    device = next(dyna.parameters()).device
    order = sorted(
        range(len(features)), key=lambda i: len(features[i]["input_ids"])
    )  # less padding
    out = [None] * len(features)
    for s in range(0, len(order), batch_size):
        idx = order[s : s + batch_size]
        batch = collate([features[i] for i in idx], pad_token_id, regression)
        tt = batch.get("token_type_ids")
        logits = dyna(
            batch["input_ids"].to(device),
            batch["attention_mask"].to(device),
            None if tt is None else tt.to(device),
            spec=spec,
        ).logits
        values = logits.squeeze(-1).tolist() if regression else logits.argmax(-1).tolist()
        for i, v in zip(idx, values):
            out[i] = v
    dyna.train(was_training)
    return out


def evaluate_specs(
    dyna: DynaBert,
    features: list[dict],
    specs: list[SubnetSpec],
    metric,
    batch_size: int,
    pad_token_id: int,
    regression: bool,
    warn=None,
) -> dict[str, dict[str, float]]:
    """{subnet_id: metrics dict} for every spec; `warn(line)` is called for a sub-network predicting (nearly) one
    class (metrics.one_class_warning)."""
    from dynabert.metrics import one_class_warning

    labels, out = [f["labels"] for f in features], {}
    for spec in specs:
        preds = predict(dyna, features, spec, batch_size, pad_token_id, regression)
        out[spec.subnet_id] = metric(preds, labels)
        if warn is not None and (why := one_class_warning(preds, labels)):
            warn(f"warning: {spec.subnet_id}: {why}")
    return out


def score(ev: Evaluation, spec: SubnetSpec, batch_size: int) -> tuple[dict[str, float], str | None]:
    """(metrics, why undefined or None) of one sub-network on the prepared split (torch)."""
    from dynabert.metrics import METRICS, one_class_warning, undefined

    preds = predict(ev.dyna, ev.features, spec, batch_size, ev.pad_token_id, ev.labels is None)
    gold = [f["labels"] for f in ev.features]
    if why := one_class_warning(preds, gold):
        print(f"warning: {spec.subnet_id}: {why}", file=sys.stderr)
    return METRICS[ev.task.metric](preds, gold), undefined(ev.task.metric, preds, gold)


def accuracy_record(
    ev: Evaluation,
    spec,
    metrics: dict[str, float],
    reason: str | None,
    seq_len: int,
    family: str,
    sha: str,
    prov: records.Provenance,
    split: str | None = None,
) -> records.Record:
    """The accuracy record of one scored sub-network (a grid point or a per-layer spec) of `ev`'s checkpoint."""
    key = records.Key(
        kind="accuracy",
        model_id=str(ev.model_dir),
        checkpoint_sha=sha,
        subnet_id=spec.subnet_id,
        task=ev.task_key,
        split=split or ev.split_label(),
        seq_len=seq_len,
    )
    measured = records.Measurement(
        **records.cost_fields(cost(ev.dyna.full_size, spec, seq_len)),
        family=family,
        accuracy_source="measured",
        **metric_fields(metrics, reason),
    )
    return records.Record.of(key, measured, prov)


def run_evaluate(opts: EvaluateOptions) -> int:
    """`dynabert evaluate`: one accuracy record per (width, depth), or per sub-network of --subnets -> the store."""
    if opts.results:
        records.check_writable(opts.results)  # before anything is loaded or scored
    ev = prepare(opts, opts.max_seq_len, "--max-seq-len")
    sha, prov = weights_sha(ev.dyna.hf), this_run()
    store = Path(opts.results) if opts.results else ev.model_dir / "accuracy.jsonl"
    records.check_writable(store)
    for spec in ev.specs:
        metrics, reason = score(ev, spec, opts.batch_size)
        records.append(
            store,
            accuracy_record(ev, spec, metrics, reason, opts.max_seq_len, opts.family, sha, prov),
        )
        print(f"{spec.subnet_id}: {describe(metrics, reason)}")
    print(f"{len(ev.specs)} records ({ev.task_key}) -> {store}", file=sys.stderr)
    return 0
