"""Per-layer sub-networks: heads and FFN neurons per layer, and which layers are kept (MatFormer's Mix'n'Match,
HAT's and once-for-all's search spaces). The uniform (width, depth) grid (config.SubnetSpec) is the special case.

Rewiring puts the most important heads and neurons first in every layer, so keeping the first k heads and the first
f neurons of any layer, independently per layer, is a valid sub-network of the same weights (spec 1.1 and 2).

A `LayerwiseSpec` lists, per layer of the source model, the heads and FFN neurons kept; 0 and 0 mean the layer is
skipped. Its id reads the same way: 'h12.9.0.6-f1536.1152.0.768' (heads per source layer, then FFN per source
layer). `layer_plan(spec, size)` turns either kind of spec into the one shape the model, extraction and the FLOPs
count use: (source layer, heads, FFN) per kept layer, in order.
Must not import torch, transformers, bench or devices.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Union

from dynabert.config import DEFAULT_DEPTHS, BertSize, SubnetSpec


class LayerChoice(NamedTuple):
    """One kept layer: its index in the source model, heads kept (leftmost) and FFN neurons kept (leftmost)."""

    layer: int
    heads: int
    ffn: int


LayerPlan = tuple[LayerChoice, ...]


@dataclass(frozen=True)
class LayerwiseSpec:
    """Heads and FFN neurons kept per source layer (0 and 0: the layer is skipped); at least one layer kept.

    heads, ffn: one int per layer of the source model. Raises ValueError naming the layer on a bad value.
    """

    heads: tuple[int, ...]
    ffn: tuple[int, ...]

    def __post_init__(self) -> None:
        heads, ffn = tuple(self.heads), tuple(self.ffn)
        object.__setattr__(self, "heads", heads)
        object.__setattr__(self, "ffn", ffn)
        if len(heads) != len(ffn) or not heads:
            raise ValueError(f"a per-layer sub-network needs one heads and one FFN value per layer; got "
                             f"{len(heads)} heads and {len(ffn)} FFN values")
        for i, (h, f) in enumerate(zip(heads, ffn)):
            if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (h, f)):
                raise ValueError(f"layer {i}: heads and FFN must be whole numbers >= 0, got {h!r}, {f!r}")
            if (h == 0) != (f == 0):
                raise ValueError(f"layer {i}: heads {h}, FFN {f}: a layer is kept (both >= 1) or skipped (both 0)")
        if not any(heads):
            raise ValueError("a per-layer sub-network must keep at least one layer (all heads are 0)")

    @property
    def subnet_id(self) -> str:
        """'h<heads per source layer>-f<FFN per source layer>', dot-separated, 0 = skipped: stable and readable."""
        return f"h{'.'.join(map(str, self.heads))}-f{'.'.join(map(str, self.ffn))}"

    @classmethod
    def parse(cls, subnet_id: str) -> LayerwiseSpec:
        try:
            h, f = subnet_id.split("-")
            assert h[0] == "h" and f[0] == "f"
            return cls(tuple(int(x) for x in h[1:].split(".")), tuple(int(x) for x in f[1:].split(".")))
        except (ValueError, AssertionError, IndexError):
            raise ValueError(f"not a per-layer sub-network id: {subnet_id!r} (expected e.g. "
                             f"'h12.6.0.3-f1536.768.0.384': heads, then FFN neurons, per source layer)") from None

    def to_json(self) -> dict:
        return {"heads": list(self.heads), "ffn": list(self.ffn)}

    @classmethod
    def from_json(cls, d: dict) -> LayerwiseSpec:
        if not isinstance(d, dict) or set(d) != {"heads", "ffn"}:
            raise ValueError(f"a per-layer sub-network in JSON is {{\"heads\": [...], \"ffn\": [...]}} (one value "
                             f"per source layer, 0 = skipped); got {d!r}")
        return cls(tuple(d["heads"]), tuple(d["ffn"]))

    def layer_ids(self, num_layers: int) -> tuple[int, ...]:
        self._check_layers(num_layers)
        return tuple(i for i, h in enumerate(self.heads) if h)

    def _check_layers(self, num_layers: int) -> None:
        if len(self.heads) != num_layers:
            raise ValueError(f"sub-network {self.subnet_id} gives {len(self.heads)} layers; the model has "
                             f"{num_layers}: give one heads/FFN value per layer (0 to skip it)")

    def check(self, size: BertSize) -> None:
        """Raise ValueError naming the layer if this spec cannot be cut from a model of this size."""
        self._check_layers(size.num_layers)
        for i, (h, f) in enumerate(zip(self.heads, self.ffn)):
            if h > size.num_heads or f > size.ffn_size:
                raise ValueError(f"sub-network {self.subnet_id}, layer {i}: {h} heads and {f} FFN neurons; the "
                                 f"model has {size.num_heads} heads and {size.ffn_size} neurons per layer")

    def resolve(self, size: BertSize) -> LayerwiseSpec:
        self.check(size)
        return self


AnySpec = Union[SubnetSpec, LayerwiseSpec]


def layer_plan(spec: AnySpec, size: BertSize) -> LayerPlan:
    """(source layer, heads, FFN) of every kept layer, in order; checks `spec` against `size` (ValueError)."""
    spec.check(size)
    if isinstance(spec, LayerwiseSpec):
        return tuple(LayerChoice(i, h, f) for i, (h, f) in enumerate(zip(spec.heads, spec.ffn)) if h)
    heads, ffn = spec.heads_kept(size.num_heads), spec.ffn_kept(size.num_heads, size.ffn_size)
    return tuple(LayerChoice(i, heads, ffn) for i in spec.layer_ids(size.num_layers))


def layerwise(spec: AnySpec, size: BertSize) -> LayerwiseSpec:
    """Any spec written per layer (a grid point becomes its per-layer form)."""
    if isinstance(spec, LayerwiseSpec):
        return spec.resolve(size)
    heads, ffn = [0] * size.num_layers, [0] * size.num_layers
    for c in layer_plan(spec, size):
        heads[c.layer], ffn[c.layer] = c.heads, c.ffn
    return LayerwiseSpec(tuple(heads), tuple(ffn))


def canonical(spec: AnySpec, size: BertSize, depths: tuple[float, ...] = DEFAULT_DEPTHS) -> AnySpec:
    """The grid point (SubnetSpec, its id and records) when a per-layer spec is one, else the spec itself.

    A grid point: every kept layer k heads and int(k/heads * FFN) neurons, the layers a depth in `depths` keeps.
    """
    if isinstance(spec, SubnetSpec):
        return spec.resolve(size)
    plan = layer_plan(spec, size)
    k = plan[0].heads
    for depth in depths:
        grid = SubnetSpec(k / size.num_heads, depth)
        try:
            if layer_plan(grid, size) == plan:
                return grid
        except ValueError:
            continue
    return spec


def summary_mults(plan: LayerPlan, size: BertSize) -> tuple[float, float]:
    """(mean share of heads over kept layers, share of layers kept), 4 decimals: what a per-layer record carries
    as width_mult / depth_mult (a summary, not a grid coordinate: its subnet_id says what it is)."""
    width = sum(c.heads for c in plan) / (len(plan) * size.num_heads)
    return round(width, 4), round(len(plan) / size.num_layers, 4)


def parse_subnet(text: str) -> AnySpec:
    """A sub-network from its id ('w0.50-d0.75' or 'h..-f..') or its JSON form ({"heads": [...], "ffn": [...]}).

    Raises ValueError naming both forms."""
    text = text.strip()
    if text.startswith("{"):
        try:
            return LayerwiseSpec.from_json(json.loads(text))
        except json.JSONDecodeError as err:
            raise ValueError(f"sub-network JSON does not parse ({err}): {text!r}") from None
    if text.startswith("h"):
        return LayerwiseSpec.parse(text)
    return SubnetSpec.parse(text)


def read_subnets(path: str | Path) -> list[AnySpec]:
    """Sub-networks from a JSON file: a list whose items are ids or {"heads": [...], "ffn": [...]} objects.

    Raises ValueError naming the file and the item."""
    path = Path(path)
    try:
        items = json.loads(path.read_text())
    except OSError as err:
        raise ValueError(f"cannot read the sub-networks file {str(path)!r}: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"the sub-networks file {str(path)!r} is not JSON ({err})") from None
    if not isinstance(items, list) or not items:
        raise ValueError(f"the sub-networks file {str(path)!r} must hold a non-empty JSON list of ids or "
                         f"{{\"heads\": [...], \"ffn\": [...]}} objects")
    out = []
    for n, item in enumerate(items):
        try:
            out.append(LayerwiseSpec.from_json(item) if isinstance(item, dict) else parse_subnet(str(item)))
        except ValueError as err:
            raise ValueError(f"{path}: item {n}: {err}") from None
    return out


def write_subnets(path: str | Path, specs: list[AnySpec], size: BertSize) -> None:
    """The JSON file read_subnets reads: grid points as ids, per-layer specs as objects."""
    items = [s.subnet_id if isinstance(s, SubnetSpec) else s.to_json() for s in (canonical(x, size) for x in specs)]
    Path(path).write_text("[\n" + ",\n".join(json.dumps(i) for i in items) + "\n]\n")
