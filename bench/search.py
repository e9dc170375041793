"""Search per-layer sub-networks under a latency (and memory) budget: predict, then measure.

An evolutionary search (HAT's: parents = the most accurate candidates that fit, children by per-layer mutation and
crossover) or a random search over per-layer (heads, FFN, kept) choices. Each candidate is scored by its accuracy on
a fixed dev subset (the dynamic model, no extraction) and must fit the budget by the latency predictor
(bench/predictor.py, fitted on measured records of the same device, runtime, threads, sequence length, machine and
architecture). The best few are then scored on the full dev set, exported and measured for real (bench.sweep);
the answer is the most accurate *measured* one that fits, never a prediction.

`python -m bench.pareto search --checkpoint CK --task sst2 --data-dir DIR --results STORE --max-latency-ms 10,20`
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from math import comb

from dynabert.config import BertSize
from dynabert.subnet import LayerwiseSpec


@dataclass(frozen=True)
class Space:
    """Per layer: skipped (when allowed) or one of `heads` x `ffn`; at least `min_layers` layers kept."""

    num_layers: int
    heads: tuple[int, ...]
    ffn: tuple[int, ...]
    allow_skip: bool = True
    min_layers: int = 1

    def __post_init__(self) -> None:
        if not self.heads or not self.ffn or min(self.heads) < 1 or min(self.ffn) < 1:
            raise ValueError(
                f"a search space needs heads and FFN choices >= 1; got {self.heads}, {self.ffn}"
            )
        if not 1 <= self.min_layers <= self.num_layers:
            raise ValueError(f"min_layers must be in 1..{self.num_layers}, got {self.min_layers}")

    def layer_options(self) -> list[tuple[int, int]]:
        return [(h, f) for h in self.heads for f in self.ffn] + (
            [(0, 0)] if self.allow_skip else []
        )

    def valid(self, spec: LayerwiseSpec) -> bool:
        return sum(1 for h in spec.heads if h) >= self.min_layers


def space_for(size: BertSize, widths: tuple[float, ...]) -> Space:
    """Heads k = round(heads * w) and FFN int(k/heads * FFN) for each width w, chosen per layer independently."""
    ks = sorted({max(1, round(size.num_heads * w)) for w in widths})
    ffn = sorted({max(1, int(k / size.num_heads * size.ffn_size)) for k in ks})
    return Space(size.num_layers, tuple(ks), tuple(ffn))


def space_size(space: Space) -> int:
    """Distinct sub-networks in `space`: per-layer choices over the layers, less those keeping < min_layers layers."""
    kept_options = len(space.heads) * len(space.ffn)
    return sum(
        comb(space.num_layers, k)
        * kept_options**k
        * (1 if space.allow_skip else 0) ** (space.num_layers - k)
        for k in range(space.min_layers, space.num_layers + 1)
    )


@dataclass
class SearchConfig:
    strategy: str = "evolution"  # or "random"
    population: int = 20
    generations: int = 10
    parents: int = 5
    mutation_prob: float = 0.3  # per layer
    seed: int = 0


@dataclass(frozen=True)
class Scored:
    spec: LayerwiseSpec
    accuracy: float  # on the search's dev subset (fraction)
    predicted: float  # predicted latency (ms) or whatever the cost function returns


@dataclass
class Scorer:
    """Accuracy (cached by id) and the budget test of candidates."""

    accuracy: Callable[[LayerwiseSpec], float]
    cost: Callable[[LayerwiseSpec], float]
    budget: float
    fits_extra: Callable[[LayerwiseSpec], bool] = lambda spec: True
    cache: dict = field(default_factory=dict)

    def fits(self, spec: LayerwiseSpec) -> bool:
        return self.cost(spec) <= self.budget and self.fits_extra(spec)

    def score(self, spec: LayerwiseSpec) -> Scored:
        if spec.subnet_id not in self.cache:
            self.cache[spec.subnet_id] = Scored(
                spec, float(self.accuracy(spec)), float(self.cost(spec))
            )
        return self.cache[spec.subnet_id]


def random_spec(space: Space, rng: random.Random) -> LayerwiseSpec:
    """A random candidate: the number of kept layers uniform in min_layers..L (so small and large sub-networks are
    both drawn, whatever the budget), which layers uniform, each kept layer's heads and FFN uniform."""
    n_keep = (
        rng.randint(space.min_layers, space.num_layers) if space.allow_skip else space.num_layers
    )
    kept = set(rng.sample(range(space.num_layers), n_keep))
    heads = tuple(rng.choice(space.heads) if i in kept else 0 for i in range(space.num_layers))
    ffn = tuple(rng.choice(space.ffn) if i in kept else 0 for i in range(space.num_layers))
    return LayerwiseSpec(heads, ffn)


def mutate(spec: LayerwiseSpec, space: Space, rng: random.Random, prob: float) -> LayerwiseSpec:
    """Each layer redrawn with probability `prob` (heads and FFN apart, or skipped / kept)."""
    heads, ffn = list(spec.heads), list(spec.ffn)
    for i in range(space.num_layers):
        if rng.random() < prob:
            if space.allow_skip and rng.random() < 1 / (len(space.heads) + 1):
                heads[i], ffn[i] = (
                    (0, 0) if heads[i] else (rng.choice(space.heads), rng.choice(space.ffn))
                )
            elif heads[i] and rng.random() < 0.5:
                heads[i] = rng.choice(space.heads)
            elif heads[i]:
                ffn[i] = rng.choice(space.ffn)
    return LayerwiseSpec(tuple(heads), tuple(ffn)) if any(heads) else spec


def crossover(a: LayerwiseSpec, b: LayerwiseSpec, rng: random.Random) -> LayerwiseSpec:
    """Each layer (heads and FFN together) from one parent or the other."""
    pick = [rng.random() < 0.5 for _ in a.heads]
    heads = tuple(x if p else y for p, x, y in zip(pick, a.heads, b.heads))
    ffn = tuple(x if p else y for p, x, y in zip(pick, a.ffn, b.ffn))
    return LayerwiseSpec(heads, ffn) if any(heads) else a


def feasible(
    make: Callable[[], LayerwiseSpec],
    scorer: Scorer,
    space: Space,
    tries: int = 200,
    taken: set | None = None,
) -> LayerwiseSpec | None:
    """The first candidate from `make` that is valid, fits the budget and is not yet scored or in `taken`."""
    for _ in range(tries):
        spec = make()
        if (
            space.valid(spec)
            and spec.subnet_id not in scorer.cache
            and spec.subnet_id not in (taken or ())
            and scorer.fits(spec)
        ):
            return spec
    return None


def ranked(scorer: Scorer) -> list[Scored]:
    """Every scored candidate that fits, most accurate first (ties: lower predicted cost)."""
    fit = [s for s in scorer.cache.values() if scorer.fits(s.spec)]
    return sorted(fit, key=lambda s: (-s.accuracy, s.predicted, s.spec.subnet_id))


def child_maker(
    cfg: SearchConfig, n: int, parents: list[LayerwiseSpec], space: Space, rng: random.Random
) -> Callable[[], LayerwiseSpec]:
    """How the `n`-th child of a generation is drawn: at random, or by mutating (even `n`) or crossing (odd `n`)
    the given `parents`. The parents are bound here, per call, so a maker kept past its generation still draws
    from that generation's parents."""
    if cfg.strategy == "random" or not parents:
        return lambda: random_spec(space, rng)
    if n % 2 == 0:
        return lambda: mutate(rng.choice(parents), space, rng, cfg.mutation_prob)
    return lambda: crossover(rng.choice(parents), rng.choice(parents), rng)


def search(
    space: Space, scorer: Scorer, cfg: SearchConfig, start: list[LayerwiseSpec] = ()
) -> list[Scored]:
    """Candidates that fit the budget, most accurate first. `start` (e.g. the grid points) seeds the population.

    Every generation scores up to `population` candidates not scored before: mutations and crossovers of the
    `parents` most accurate candidates so far (evolution), or fresh random ones (random)."""
    rng = random.Random(cfg.seed)
    seeds = [s for s in start if space.valid(s) and scorer.fits(s)][: cfg.population]
    for spec in seeds:
        scorer.score(spec)
    for generation in range(cfg.generations):
        parents = [s.spec for s in ranked(scorer)[: cfg.parents]]
        taken: set = set()
        for n in range(cfg.population - (len(seeds) if generation == 0 else 0)):
            make = child_maker(cfg, n, parents, space, rng)
            child = feasible(make, scorer, space, taken=taken)
            if child is not None:
                taken.add(child.subnet_id)
                scorer.score(child)
    return ranked(scorer)
