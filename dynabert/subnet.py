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
from typing import NamedTuple

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
        heads, ffn = _as_tuple(self.heads, "heads"), _as_tuple(self.ffn, "ffn")
        object.__setattr__(self, "heads", heads)
        object.__setattr__(self, "ffn", ffn)
        name = _raw_id(heads, ffn)
        if len(heads) != len(ffn) or not heads:
            raise ValueError(
                f"sub-network {name}: {len(heads)} heads values and {len(ffn)} FFN values; give one of "
                f"each per layer of the source model (0 and 0 to skip a layer)"
            )
        for i, (h, f) in enumerate(zip(heads, ffn)):
            for what, v in (("heads", h), ("FFN", f)):
                if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                    raise ValueError(
                        f"sub-network {name}, layer {i}: {what} {v!r} is not a whole number >= 0; "
                        f"give a count of {'heads' if what == 'heads' else 'FFN neurons'} kept"
                    )
            if (h == 0) != (f == 0):
                raise ValueError(
                    f"sub-network {name}, layer {i}: {h} heads and {f} FFN neurons; a layer is kept "
                    f"(heads and FFN both >= 1) or skipped (both 0): give both or neither"
                )
        if not any(heads):
            raise ValueError(
                f"sub-network {name} skips every layer (all heads 0); keep at least one layer"
            )

    @property
    def subnet_id(self) -> str:
        """'h<heads per source layer>-f<FFN per source layer>', dot-separated, 0 = skipped: stable and readable."""
        return _raw_id(self.heads, self.ffn)

    @classmethod
    def parse(cls, subnet_id: str) -> LayerwiseSpec:
        """A spec from its id; ValueError naming the id, the layer and the rule (the values' rules: __post_init__)."""
        form = (
            "write it as 'h<heads per layer>-f<FFN neurons per layer>', dot-separated, 0 and 0 for a skipped "
            "layer (e.g. 'h12.6.0.3-f1536.768.0.384')"
        )
        parts = subnet_id.split("-")
        if len(parts) != 2 or parts[0][:1] != "h" or parts[1][:1] != "f":
            raise ValueError(f"not a per-layer sub-network id: {subnet_id!r}; {form}")
        values = []
        for part, what in zip(parts, ("heads", "FFN")):
            row = part[1:].split(".")
            for i, x in enumerate(row):
                if not (x.isascii() and x.isdigit()):
                    raise ValueError(
                        f"per-layer sub-network id {subnet_id!r}, layer {i}: {what} {x!r} is not a "
                        f"whole number >= 0; {form}"
                    )
            values.append(tuple(int(x) for x in row))
        return cls(*values)

    def to_json(self) -> dict:
        return {"heads": list(self.heads), "ffn": list(self.ffn)}

    @classmethod
    def from_json(cls, d: dict) -> LayerwiseSpec:
        form = (
            'a per-layer sub-network in JSON is {"heads": [...], "ffn": [...]}: one whole number per layer of '
            "the source model each, 0 and 0 for a skipped layer"
        )
        if not isinstance(d, dict) or set(d) != {"heads", "ffn"}:
            keys = f"keys {sorted(d)}" if isinstance(d, dict) else f"a {type(d).__name__}"
            raise ValueError(f"{form}; got {keys}: {json.dumps(d)[:200]}")
        for key in ("heads", "ffn"):
            if not isinstance(d[key], list):
                raise ValueError(f'{form}; got "{key}": {json.dumps(d[key])[:100]} (not a list)')
        return cls(tuple(d["heads"]), tuple(d["ffn"]))

    def layer_ids(self, num_layers: int) -> tuple[int, ...]:
        self._check_layers(num_layers)
        return tuple(i for i, h in enumerate(self.heads) if h)

    def _check_layers(self, num_layers: int) -> None:
        if len(self.heads) != num_layers:
            raise ValueError(
                f"sub-network {self.subnet_id} gives {len(self.heads)} layers; the model has "
                f"{num_layers}: give one heads/FFN value per layer (0 to skip it)"
            )

    def check(self, size: BertSize) -> None:
        """Raise ValueError naming the id, the layer and the model's sizes if this spec cannot be cut from `size`."""
        self._check_layers(size.num_layers)
        for i, (h, f) in enumerate(zip(self.heads, self.ffn)):
            if h > size.num_heads or f > size.ffn_size:
                raise ValueError(
                    f"sub-network {self.subnet_id}, layer {i}: {h} heads and {f} FFN neurons; the "
                    f"model has {size.num_heads} heads and {size.ffn_size} neurons per layer: give at "
                    f"most {size.num_heads} heads and {size.ffn_size} neurons"
                )

    def resolve(self, size: BertSize) -> LayerwiseSpec:
        self.check(size)
        return self


AnySpec = SubnetSpec | LayerwiseSpec


def _raw_id(heads: tuple, ffn: tuple) -> str:
    """The id's text of any values; the JSON form when some are not whole numbers (messages name what was given)."""
    if not all(isinstance(v, int) for v in (*heads, *ffn)):
        return json.dumps({"heads": list(heads), "ffn": list(ffn)}, default=repr)
    return f"h{'.'.join(map(str, heads))}-f{'.'.join(map(str, ffn))}"


def _as_tuple(values, what: str) -> tuple:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(
            f"a per-layer sub-network's {what} must be a list with one whole number per layer, "
            f"got {values!r}"
        )
    return tuple(values)


def layer_plan(spec: AnySpec, size: BertSize) -> LayerPlan:
    """(source layer, heads, FFN) of every kept layer, in order; checks `spec` against `size` (ValueError)."""
    spec.check(size)
    if isinstance(spec, LayerwiseSpec):
        return tuple(
            LayerChoice(i, h, f) for i, (h, f) in enumerate(zip(spec.heads, spec.ffn)) if h
        )
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
    if text.startswith("w"):
        return SubnetSpec.parse(text)
    raise ValueError(
        f"not a sub-network id: {text!r}; give a grid point 'w<width>-d<depth>' (e.g. 'w0.75-d0.50'), "
        f"a per-layer id 'h<heads per layer>-f<FFN per layer>' (e.g. 'h4.0.2-f96.0.48') or its JSON "
        f'{{"heads": [...], "ffn": [...]}}'
    )


def is_grid_id(subnet_id: object) -> bool:
    """True for a uniform grid point's id ('w0.50-d0.75'); False for a per-layer id and anything else. What every
    table or figure laid out by (width, depth) keeps: a per-layer record's width_mult/depth_mult are a summary
    (summary_mults) that can equal a grid point's, never a grid coordinate."""
    try:
        return isinstance(parse_subnet(str(subnet_id)), SubnetSpec)
    except ValueError:
        return False


def read_subnets(path: str | Path) -> list[AnySpec]:
    """Sub-networks from a JSON file: a non-empty list whose items are ids or {"heads": [...], "ffn": [...]} objects,
    in file order (item n of the file is entry n). Raises ValueError naming the file, the item index and the fix.
    Whether a model can take them: check_subnets."""
    path = Path(path)
    form = 'a JSON list of sub-network ids ("w0.50-d0.75", "h4.2-f128.64") or {"heads": [...], "ffn": [...]} objects'
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ValueError(
            f"cannot read the sub-networks file {str(path)!r}: {err.strerror}; give a readable "
            f"file holding {form}"
        ) from None
    except UnicodeDecodeError:
        raise ValueError(
            f"the sub-networks file {str(path)!r} is not text (not UTF-8); it must hold {form}"
        ) from None
    except json.JSONDecodeError as err:
        raise ValueError(
            f"the sub-networks file {str(path)!r} is not JSON ({err}); it must hold {form}"
        ) from None
    if not isinstance(items, list):
        raise ValueError(
            f"the sub-networks file {str(path)!r} holds a JSON {_json_kind(items)}, not a list; it "
            f"must hold {form}"
        )
    if not items:
        raise ValueError(
            f"the sub-networks file {str(path)!r} holds an empty list: nothing to do; list at least "
            f"one sub-network ({form})"
        )
    out = []
    for n, item in enumerate(items):
        try:
            if isinstance(item, dict):
                out.append(LayerwiseSpec.from_json(item))
            elif isinstance(item, str):
                out.append(parse_subnet(item))
            else:
                raise ValueError(
                    f"{json.dumps(item)[:100]} is a JSON {_json_kind(item)}; an item is an id "
                    f'string or a {{"heads": [...], "ffn": [...]}} object'
                )
        except (ValueError, TypeError) as err:
            raise ValueError(f"{path}: item {n}: {err}") from None
    return out


def _json_kind(value) -> str:
    """JSON's own name of a parsed value's type (object, array, number, ...), for messages."""
    names = {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
    }
    return names.get(type(value), "null")


def check_subnets(specs: list[AnySpec], size: BertSize, where: str) -> list[AnySpec]:
    """Each spec resolved against `size` (a grid width written exactly as k/heads). ValueError names `where` (the
    file), the item index and the reason."""
    out = []
    for n, spec in enumerate(specs):
        try:
            out.append(spec.resolve(size))
        except (ValueError, TypeError) as err:
            raise ValueError(f"{where}: item {n} ({spec.subnet_id}): {err}") from None
    return out


def unique_specs(
    specs: list[AnySpec], size: BertSize, depths: tuple[float, ...] = DEFAULT_DEPTHS
) -> tuple[list[AnySpec], list[str]]:
    """(specs in their canonical form (`canonical` over the run's `depths`), each once in first-seen order; one line
    per dropped duplicate saying which item it repeats): a grid point and its per-layer form, or one id twice, are
    one sub-network."""
    kept: dict[str, int] = {}
    out, dropped = [], []
    for n, spec in enumerate(specs):
        canon = canonical(spec, size, depths)
        first = kept.setdefault(canon.subnet_id, n)
        if first == n:
            out.append(canon)
        else:
            same = "" if spec.subnet_id == canon.subnet_id else f" = {canon.subnet_id}"
            dropped.append(f"item {n} ({spec.subnet_id}{same}) repeats item {first}")
    return out, dropped


def write_subnets(path: str | Path, specs: list[AnySpec], size: BertSize) -> None:
    """The JSON file read_subnets reads: grid points as ids, per-layer specs as objects."""
    items = [
        s.subnet_id if isinstance(s, SubnetSpec) else s.to_json()
        for s in (canonical(x, size) for x in specs)
    ]
    Path(path).write_text("[\n" + ",\n".join(json.dumps(i) for i in items) + "\n]\n")
