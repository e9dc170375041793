"""Sub-network specs, grids and architecture sizes: the one place that works out heads, FFN and layers kept.

Must not import torch, transformers, bench or devices: everything here is plain arithmetic on a config.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from fractions import Fraction

DEFAULT_WIDTHS: tuple[float, ...] = (1.0, 0.75, 0.5, 0.25)
DEFAULT_DEPTHS: tuple[float, ...] = (1.0, 0.75, 0.5)
HEAD_TYPES = ("bert-pooler", "roberta-head", "distilbert-head")


@dataclass(frozen=True)
class BertSize:
    """Architecture of a full BERT/RoBERTa/DistilBERT classifier: what FLOPs and parameters are computed from."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    head_size: int = 64
    ffn_size: int = 3072
    max_positions: int = 512
    type_vocab_size: int = 2
    num_labels: int = 2
    # "bert-pooler" (dense+tanh on [CLS], then classifier), "roberta-head", or "distilbert-head" (dense+ReLU)
    head_type: str = "bert-pooler"

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (
                not isinstance(value, int) or value < (0 if f.name == "type_vocab_size" else 1)
            ):
                raise ValueError(f"BertSize.{f.name} must be a positive int, got {value!r}")
        if self.head_type not in HEAD_TYPES:
            raise ValueError(
                f"BertSize.head_type must be one of {HEAD_TYPES}, got {self.head_type!r}"
            )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> BertSize:
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown BertSize keys {sorted(unknown)}")
        return cls(**d)


# Architecture-only presets (random weights; dynabert.presets builds them): here, beside BertSize, so that
# naming one or reading its shape imports no torch.
ARCHITECTURES: dict[str, BertSize] = {
    "bert-base": BertSize(),
    "tinybert-4l-312d": BertSize(
        hidden_size=312, num_layers=4, num_heads=12, head_size=26, ffn_size=1200
    ),
    "tinybert-6l-768d": BertSize(num_layers=6),
    # DistilBERT itself (DistilBertForSequenceClassification): 6 x 768, 12 heads, FFN 3072, no token-type
    # embeddings, a ReLU pre-classifier
    "distilbert-6l-768d": BertSize(num_layers=6, type_vocab_size=0, head_type="distilbert-head"),
    "tiny": BertSize(
        hidden_size=64, num_layers=2, num_heads=4, head_size=16, ffn_size=128, max_positions=512
    ),
}


@dataclass(frozen=True)
class SubnetSpec:
    """One sub-network: a width multiplier (heads, FFN) and a depth multiplier (layers), both in (0, 1]."""

    width_mult: float = 1.0
    depth_mult: float = 1.0

    def __post_init__(self) -> None:
        for name in ("width_mult", "depth_mult"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
                raise TypeError(f"{name} must be a number in (0, 1], got {value!r}")
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {value!r}")
        object.__setattr__(self, "width_mult", float(self.width_mult))
        object.__setattr__(self, "depth_mult", float(self.depth_mult))

    @property
    def subnet_id(self) -> str:
        """The one id format used in records, pytest ids and file names, e.g. 'w0.75-d0.50'."""
        return f"w{self.width_mult:.2f}-d{self.depth_mult:.2f}"

    @classmethod
    def parse(cls, subnet_id: str) -> SubnetSpec:
        try:
            w, d = subnet_id.split("-")
            assert w[0] == "w" and d[0] == "d"
            return cls(float(w[1:]), float(d[1:]))
        except (ValueError, TypeError, AssertionError, IndexError):  # TypeError: 'wnan-d1'
            raise ValueError(
                f"not a sub-network id: {subnet_id!r} (expected e.g. 'w0.75-d0.50')"
            ) from None

    def heads_kept(self, num_heads: int) -> int:
        """k heads for a width k/heads (official code: round(heads * m_w)); refused if zero or between two k.

        A width written with d >= 2 decimals means k/heads when it is k/heads rounded to d decimals and no other
        k is: 0.33, 0.3333 and 0.333333 (what `.2f` subnet ids, `.4g` messages and `:g` commands print) all
        mean 4 of 12 heads. One decimal must be exact (0.3 of 12 heads is refused; 0.3 of 10 is 3 heads).
        """
        kept = whole_heads(self.width_mult, num_heads)
        if kept is None and num_heads * self.width_mult < 1:
            kept = 0
        if kept is None:
            valid = ", ".join(f"{k / num_heads:.4g}" for k in range(1, num_heads + 1))
            raise ValueError(
                f"width_mult {self.width_mult} gives {num_heads * self.width_mult:.4g} of {num_heads} "
                f"heads, not a whole number; a width must be k/{num_heads}: one of {valid}"
            )
        if kept < 1:
            raise ValueError(
                f"width_mult {self.width_mult} keeps 0 of {num_heads} heads; "
                f"the smallest width for this model is {1 / num_heads:.4g}"
            )
        return kept

    def resolve(self, size: BertSize) -> SubnetSpec:
        """This spec with its width written exactly as k/heads (0.33 of 12 heads -> 1/3), checked against `size`."""
        self.check(size)
        return SubnetSpec(self.heads_kept(size.num_heads) / size.num_heads, self.depth_mult)

    def ffn_kept(self, num_heads: int, ffn_size: int) -> int:
        """FFN neurons scale by the same factor as the heads: int(heads_kept/heads * ffn), at least 1 (spec 1.1)."""
        return max(1, int(self.heads_kept(num_heads) / num_heads * ffn_size))

    def layer_ids(self, num_layers: int) -> tuple[int, ...]:
        """Layers kept (0-indexed): D = round(L*m_d), i-th kept = floor(i/m_d) (spec 1.2, official code)."""
        depth = round(num_layers * self.depth_mult)
        if depth < 1:
            raise ValueError(
                f"depth_mult {self.depth_mult} keeps 0 of {num_layers} layers; "
                f"the smallest depth for this model is {1 / num_layers:.4g}"
            )
        ids = tuple(math.floor(i / self.depth_mult + 1e-9) for i in range(depth))
        assert ids[-1] < num_layers and len(set(ids)) == depth, ids
        return ids

    def teacher_hidden_ids(self, num_layers: int) -> tuple[int, ...]:
        """Teacher hidden-state index for each student hidden state (spec 1.3).

        Student entry 0 is the embedding output and entry j the output of its j-th kept layer. It is compared
        with the teacher state just before the student's next kept layer: t(j) = layer_ids[j] for j < D, t(D) = L.
        """
        ids = self.layer_ids(num_layers)
        return (0, *ids[1:], num_layers)

    def check(self, size: BertSize) -> None:
        """Raise ValueError naming the value if this spec cannot be cut from a model of this size."""
        self.heads_kept(size.num_heads)
        self.layer_ids(size.num_layers)


def _decimals(value: float) -> int:
    """Decimal places of the shortest text that reads back as `value`: 0.3333 -> 4, 1e-05 -> 5, 0.25 -> 2."""
    mantissa, _, exponent = repr(float(value)).partition("e")
    return max(0, len(mantissa.partition(".")[2]) - int(exponent or 0))


def whole_heads(width: float, num_heads: int) -> int | None:
    """The k with width == k/num_heads (exactly, or as k/num_heads rounded to width's own >= 2 decimals); else None.

    0 when width keeps less than half a head. Source of the rounding rule: every value this project prints
    (subnet ids `.2f`, messages `.4g`, commands `:g`) must be accepted back.
    """
    exact = width * num_heads
    if abs(exact - round(exact)) <= 1e-6:
        return round(exact)
    places = _decimals(width)
    if places < 2:
        return None
    half = 0.5 * 10.0**-places + 1e-12
    hits = [k for k in range(0, num_heads + 1) if abs(k / num_heads - width) <= half]
    return hits[0] if len(hits) == 1 else None


def default_grid(
    widths: tuple[float, ...] = DEFAULT_WIDTHS, depths: tuple[float, ...] = DEFAULT_DEPTHS
) -> list[SubnetSpec]:
    """Every (width, depth) pair, depth outer and width inner, largest first (the official training order)."""
    return [SubnetSpec(w, d) for d in depths for w in widths]


def parse_mults(text: str, name: str) -> tuple[float, ...]:
    """'1.0,0.5' -> (1.0, 0.5); fractions too ('4/12' -> 0.333...); a clear error naming the flag on anything else
    (not a number, or outside (0, 1]). Whether a model can take them: check_mults."""
    try:
        values = tuple(float(Fraction(x.strip())) for x in text.split(",") if x.strip())
    except (ValueError, ZeroDivisionError):
        raise ValueError(
            f"--{name} must be comma-separated numbers (or fractions k/n) in (0, 1], got {text!r}"
        ) from None
    if not values:
        raise ValueError(f"--{name} is empty: give comma-separated numbers in (0, 1], e.g. 1.0,0.5")
    bad = [v for v in values if not 0.0 < v <= 1.0]
    if bad:
        raise ValueError(
            f"--{name} {text!r}: {bad[0]:g} is not in (0, 1]; a multiplier is the share of the full "
            f"model kept, e.g. 1.0,0.75,0.5"
        )
    return values


def valid_mults(n: int) -> str:
    """'0.25, 0.5, 0.75, 1': the multipliers k/n, k = 1..n, as messages print them (`.4g`, read back exactly)."""
    return ", ".join(f"{k / n:.4g}" for k in range(1, n + 1))


def check_mults(
    values: tuple[float, ...], kind: str, size: BertSize, source: str, flag: str
) -> None:
    """Raise ValueError naming `flag`, the model and its valid multipliers unless every value cuts a sub-network of
    `size`: a width (kind "width") k/heads of its heads (SubnetSpec.heads_kept), a depth at least one layer
    (SubnetSpec.layer_ids: round(layers x depth) >= 1). The one check every --widths/--depths flag goes through,
    called before any data or weights are loaded."""
    n = size.num_heads if kind == "width" else size.num_layers
    for v in values:
        try:
            SubnetSpec(v, 1.0).heads_kept(n) if kind == "width" else SubnetSpec(1.0, v).layer_ids(n)
        except (TypeError, ValueError):
            if kind == "width":
                raise ValueError(
                    f"{flag} {v:g}: {source} has {n} heads per layer, and {v:g} x {n} = {v * n:.4g} "
                    f"heads is not a whole number >= 1; give widths k/{n}: {valid_mults(n)}"
                ) from None
            raise ValueError(
                f"{flag} {v:g}: {source} has {n} layers, and {v:g} x {n} = {v * n:.4g} rounds to 0 "
                f"layers kept; give depths that keep at least one layer, e.g. k/{n}: "
                f"{valid_mults(n)}"
            ) from None


def check_grid(
    widths: tuple[float, ...],
    depths: tuple[float, ...],
    size: BertSize,
    source: str,
    flags: tuple[str, str] = ("--widths", "--depths"),
) -> list[SubnetSpec]:
    """The widths x depths grid (default_grid order), every multiplier checked against `size` (check_mults) and
    every width written exactly as k/heads. Raises ValueError naming the flag, the model and the valid values, and
    naming two multipliers that give the same heads, or a depth given twice."""
    check_mults(widths, "width", size, source, flags[0])
    check_mults(depths, "depth", size, source, flags[1])
    grid = [s.resolve(size) for s in default_grid(widths, depths)]
    keys = (
        (flags[0], widths, lambda v: f"{SubnetSpec(v).heads_kept(size.num_heads)} heads"),
        (flags[1], depths, lambda v: f"depth {v:g}"),
    )
    for (
        flag,
        values,
        kept,
    ) in keys:  # two multipliers of one sub-network: the sandwich draw would fail at step 0
        seen: dict[str, float] = {}
        for v in values:
            if kept(v) in seen:
                raise ValueError(
                    f"{flag} {','.join(f'{x:g}' for x in values)}: {seen[kept(v)]:g} and {v:g} give the "
                    f"same sub-networks of {source} ({kept(v)}); give each multiplier once"
                )
            seen[kept(v)] = v
    return grid
