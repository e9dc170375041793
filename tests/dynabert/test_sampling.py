"""The sandwich-rule draw of --subnets-per-step: largest and smallest always in, reproducible per (seed, step),
different across steps, K = all is the paper's loop; bad K refused naming the flag."""

import pytest

from dynabert.config import SubnetSpec, default_grid
from dynabert.sampling import (
    check_subnets_per_step,
    expected_cost_share,
    largest_and_smallest,
    subnets_for_step,
)
from dynabert.stages import TrainConfig, check_sampling

GRID = default_grid()


@pytest.mark.parametrize("k", [2, 3, 4, 6, 11])
def test_draw_holds_largest_and_smallest_and_k_distinct_in_grid_order(k):
    for step in range(50):
        draw = subnets_for_step(GRID, k, 42, step)
        assert len(draw) == len(set(draw)) == k
        assert SubnetSpec(1.0, 1.0) in draw and SubnetSpec(0.25, 0.5) in draw
        assert draw == [
            s for s in GRID if s in draw
        ]  # the stage's order: largest first, as the paper's loop


def test_draw_is_a_function_of_seed_and_step_and_varies_across_steps():
    first = [subnets_for_step(GRID, 4, 42, step) for step in range(40)]
    again = [subnets_for_step(GRID, 4, 42, step) for step in range(40)]
    assert first == again
    assert len({tuple(d) for d in first}) > 10  # 45 possible pairs of the 10 middle sub-networks
    assert [subnets_for_step(GRID, 4, 7, step) for step in range(40)] != first
    middle = {s for d in first for s in d} - {SubnetSpec(1.0, 1.0), SubnetSpec(0.25, 0.5)}
    assert len(middle) == 10  # every other sub-network gets drawn


def test_all_is_the_whole_grid_unchanged():
    assert subnets_for_step(GRID, None, 42, 3) == GRID
    assert subnets_for_step(GRID, 12, 42, 3) == GRID
    assert expected_cost_share(GRID, None) == 1.0


def test_any_grid_and_its_extremes():
    grid = default_grid((1.0, 0.5), (1.0, 0.5))
    assert largest_and_smallest(grid) == (SubnetSpec(1.0, 1.0), SubnetSpec(0.5, 0.5))
    draw = subnets_for_step(grid, 3, 0, 5)
    assert len(draw) == 3 and {SubnetSpec(1.0, 1.0), SubnetSpec(0.5, 0.5)} <= set(draw)
    widths = [SubnetSpec(w, 1.0) for w in (1.0, 0.75, 0.5, 0.25)]
    assert set(subnets_for_step(widths, 2, 0, 1)) == {SubnetSpec(1.0, 1.0), SubnetSpec(0.25, 1.0)}


def test_expected_cost_share_of_k4_on_the_default_grid():
    # sum of w*d over the grid 2.5 x 2.25 = 5.625; largest 1 + smallest 0.125 + 2 x mean of the other ten (0.45)
    assert expected_cost_share(GRID, 4) == pytest.approx((1 + 0.125 + 0.9) / 5.625)


@pytest.mark.parametrize("k", [0, 1, -3])
def test_k_below_two_is_refused_naming_the_flag(k):
    with pytest.raises(ValueError, match="--subnets-per-step must be an integer >= 2"):
        TrainConfig(task="sst2", data_dir="x", output_dir="y", subnets_per_step=k)


def test_k_beyond_the_grid_is_refused_before_any_stage_runs():
    cfg = TrainConfig(task="sst2", data_dir="x", output_dir="y", subnets_per_step=6)
    check_sampling(cfg, ("depth",))
    check_sampling(cfg, ("teacher",))  # one sub-network: K does not apply
    with pytest.raises(
        ValueError, match="--subnets-per-step 6 exceeds the 4 sub-network.*stage width"
    ):
        check_sampling(cfg, ("teacher", "width", "depth"))
    with pytest.raises(ValueError, match="exceeds the 4 sub-network"):
        check_subnets_per_step(5, 4, "depth")
