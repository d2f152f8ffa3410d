"""benchmarks/op_profile.py: the per-operator table of one profiled iteration, and the FLOP
families' rates (what the numbers in docs/benchmarks.md come from)."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest
from support.benchmarks import benchmark


@pytest.fixture
def op_profile() -> Iterator[ModuleType]:
    with benchmark("op_profile") as module:
        yield module


def test_one_profiled_iteration_splits_its_time_and_rates_its_flops(
    op_profile: ModuleType,
) -> None:
    recipe = op_profile.recipes_by_backbone(op_profile.RECIPES)["mnist"]
    found = op_profile.profile_variant(recipe, "fp32", iterations=1, warmup=0, top=6)
    assert (found.backbone, found.variant, found.batch) == ("mnist", "fp32", 128)
    times = [r.self_ms_per_iteration for r in found.rows]
    assert len(times) == 6 and times == sorted(times, reverse=True) and times[-1] > 0
    assert 0 < sum(r.share for r in found.rows) <= 1 + 1e-9
    families = {f.family: f for f in found.families}
    assert set(families) == {"matmul", "convolution", "convolution backward"}
    for f in families.values():  # the MNIST backbone has FC layers and convolutions
        assert f.gflop_per_iteration > 0 and f.gflop_per_s > 0 and 0 < f.share < 1
