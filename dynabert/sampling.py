"""Which sub-networks one optimizer step trains: all of the stage's grid (the paper) or K of them by the sandwich rule.

Sandwich rule (Yu & Huang, "Universally Slimmable Networks", 2019; BigNAS, Yu et al. 2020; OFA, Cai et al. 2020):
every step trains the largest and the smallest sub-network of the grid plus K - 2 others drawn without replacement
from the rest. The draw is a pure function of (seed, global optimizer step): the same after a resume and on every
rank of a data-parallel run, so DDP all-reduces the gradients of the same sub-networks everywhere.
Must not import torch, bench or devices.
"""

from __future__ import annotations

import numpy as np

from dynabert.config import SubnetSpec

FLAG = "--subnets-per-step"


def largest_and_smallest(specs: list[SubnetSpec]) -> tuple[SubnetSpec, SubnetSpec]:
    """The grid's largest and smallest sub-network by width x depth (ties: the wider one is larger)."""
    key = lambda s: (s.width_mult * s.depth_mult, s.width_mult)  # noqa: E731
    return max(specs, key=key), min(specs, key=key)


def check_subnets_per_step(k: int | None, n_specs: int, stage: str) -> None:
    """Raises ValueError naming the flag when K is not in [2, grid size] (None = all: always fine)."""
    if k is None:
        return
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(
            f"{FLAG} must be an integer >= 2 (the sandwich rule trains the largest and the smallest "
            f"sub-network every step), got {k!r}; leave it out to train all sub-networks (the paper)"
        )
    if k > n_specs:
        raise ValueError(
            f"{FLAG} {k} exceeds the {n_specs} sub-network(s) of stage {stage}; give at most "
            f"{n_specs} (or leave it out for all), or change --widths/--depths"
        )


def subnets_for_step(
    specs: list[SubnetSpec], k: int | None, seed: int, step: int
) -> list[SubnetSpec]:
    """The sub-networks trained at global optimizer step `step` (0-based), in the grid's own order.

    k None or k >= len(specs): `specs` itself (every sub-network, the paper's loop). Otherwise the largest, the
    smallest and k - 2 others drawn without replacement by numpy's default_rng([seed, step]).
    Raises ValueError for k < 2.
    """
    if k is None or k >= len(specs):
        return list(specs)
    check_subnets_per_step(k, len(specs), "?")
    big, small = largest_and_smallest(specs)
    rest = [i for i, s in enumerate(specs) if s not in (big, small)]
    rng = np.random.default_rng([seed % 2**63, step])  # SeedSequence takes non-negative ints only
    chosen = {
        specs.index(big),
        specs.index(small),
        *(rest[j] for j in rng.choice(len(rest), k - 2, replace=False)),
    }
    return [specs[i] for i in sorted(chosen)]


def _cost(spec: SubnetSpec) -> float:
    return spec.width_mult * spec.depth_mult


def expected_cost_share(specs: list[SubnetSpec], k: int | None) -> float:
    """Expected sum of width x depth of one step's draw over that of the whole grid (a FLOPs proxy of the
    sub-network passes; the teacher forward and optimizer step are left out). 1.0 for all."""
    if k is None or k >= len(specs):
        return 1.0
    big, small = largest_and_smallest(specs)
    rest = [_cost(s) for s in specs if s not in (big, small)]
    total = sum(_cost(s) for s in specs)
    return (_cost(big) + _cost(small) + (k - 2) * sum(rest) / len(rest)) / total


def _per_step(sampling: dict) -> str:
    if sampling["subnets_per_step"] >= len(sampling["grid"]):
        return "all (the default)"
    return f"--subnets-per-step {sampling['subnets_per_step']}"


def check_same_sampling(saved: dict, now: dict, was: str, fix: str) -> None:
    """ValueError saying what `was` trained with (K over its grid), what this command asks for, and `fix`."""
    if saved != now:
        grid = (
            f"the same {len(now['grid'])}"
            if saved["grid"] == now["grid"]
            else f"{len(now['grid'])} ({', '.join(now['grid'])})"
        )
        raise ValueError(
            f"{was} with {_per_step(saved)} of {len(saved['grid'])} sub-network(s) per step "
            f"({', '.join(saved['grid'])}); this command asks for {_per_step(now)} of {grid}. {fix}"
        )
