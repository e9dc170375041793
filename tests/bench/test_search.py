"""The budgeted search finds the known optimum of a small synthetic space (accuracy and latency given here),
never returns a candidate over its budget, and scores fewer candidates than the space holds."""

import itertools
import math

import pytest

from bench.search import (
    Scorer,
    SearchConfig,
    Space,
    crossover,
    mutate,
    random_spec,
    search,
    space_for,
)
from dynabert import BertSize, LayerwiseSpec

SPACE = Space(num_layers=4, heads=(1, 2, 4), ffn=(16, 32))
LAYER_WEIGHT = (1.0, 0.6, 0.9, 0.3)  # how much each layer's width is worth


def accuracy(spec: LayerwiseSpec) -> float:
    """Concave in each layer's heads and FFN, layers weighted differently: the optimum mixes widths per layer."""
    return 0.5 + 0.05 * sum(
        w * (math.log2(1 + h) + f / 32) for w, h, f in zip(LAYER_WEIGHT, spec.heads, spec.ffn)
    )


def latency(spec: LayerwiseSpec) -> float:
    return 1.0 + sum(0.5 + 0.4 * h + f / 32 for h, f in zip(spec.heads, spec.ffn) if h)


def every_spec(space: Space) -> list[LayerwiseSpec]:
    out = []
    for layers in itertools.product(space.layer_options(), repeat=space.num_layers):
        if any(h for h, _ in layers):
            out.append(LayerwiseSpec(tuple(h for h, _ in layers), tuple(f for _, f in layers)))
    return out


@pytest.mark.parametrize("budget", [4.0, 6.5, 9.0])
def test_evolution_finds_the_known_optimum(budget):
    every = every_spec(SPACE)
    best = max(accuracy(s) for s in every if latency(s) <= budget)
    scorer = Scorer(accuracy, latency, budget)
    found = search(SPACE, scorer, SearchConfig(population=16, generations=20, parents=4, seed=0))
    assert found[0].accuracy == pytest.approx(best)
    assert all(latency(s.spec) <= budget for s in found)
    assert len(scorer.cache) <= 16 * 20 < len(every) // 2, "a search, not an enumeration"


def test_random_search_fits_the_budget_and_is_seeded():
    runs = [
        search(
            SPACE,
            Scorer(accuracy, latency, 6.0),
            SearchConfig(strategy="random", population=10, generations=3, seed=3),
        )
        for _ in range(2)
    ]
    assert [s.spec for s in runs[0]] == [s.spec for s in runs[1]]
    assert runs[0] and all(latency(s.spec) <= 6.0 for s in runs[0])


def test_start_points_seed_the_population():
    grid = LayerwiseSpec((2, 2, 2, 2), (16, 16, 16, 16))
    scorer = Scorer(accuracy, latency, 100.0)
    search(SPACE, scorer, SearchConfig(population=4, generations=1), start=[grid])
    assert grid.subnet_id in scorer.cache


def test_an_impossible_budget_returns_nothing():
    assert (
        search(SPACE, Scorer(accuracy, latency, 0.5), SearchConfig(population=4, generations=2))
        == []
    )


def test_moves_stay_in_the_space():
    import random

    rng = random.Random(0)
    a, b = random_spec(SPACE, rng), random_spec(SPACE, rng)
    for _ in range(200):
        for child in (mutate(a, SPACE, rng, 0.5), crossover(a, b, rng)):
            assert any(child.heads) and all(
                (h, f) in SPACE.layer_options() for h, f in zip(child.heads, child.ffn)
            )


def test_space_for_minilm_uses_the_grid_widths():
    size = BertSize(hidden_size=384, num_layers=6, num_heads=12, head_size=32, ffn_size=1536)
    space = space_for(size, (1.0, 0.75, 0.5, 0.25))
    assert (
        space.heads == (3, 6, 9, 12)
        and space.ffn == (384, 768, 1152, 1536)
        and space.num_layers == 6
    )
