"""On a CUDA device: a run trains, checkpoints and resumes there in fp32 and bf16, its
checkpoint holds CPU tensors, and eval runs there.

Skipped without a CUDA device; `benchmarks/gpu_check.sh` runs every test marked `cuda`
(`python -m pytest -m cuda`). CUDA's kernels are not bit-reproducible by default (atomic
adds in convolutions' backward), so a resumed run is held to its whole run's weights to 1e-3
of their norm, not to the bit as on the CPU (tests/core/test_checkpoint.py).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from support.tiny import whole_and_resumed

from disentangle.analysis.evaluate import evaluate
from disentangle.recipe import validate_recipe
from disentangle.run import load_run
from disentangle.training.loop import train

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def on_cuda(recipe: dict[str, Any], precision: str) -> dict[str, Any]:
    data = copy.deepcopy(recipe)
    data["train"] |= {"device": "cuda", "precision": precision, "tensorboard": False}
    return data


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_run_trains_and_resumes_on_cuda(
    tiny_recipe: dict[str, Any], tmp_path: Path, precision: str
) -> None:
    whole, resumed = whole_and_resumed(on_cuda(tiny_recipe, precision), tmp_path, cut=4)
    for part in ("generator", "discriminator"):
        for name, tensor in whole[part].items():
            assert tensor.device.type == "cpu", f"{part}.{name} was saved on {tensor.device}"
            if tensor.is_floating_point():
                gap = (resumed[part][name] - tensor).double().norm()
                size = tensor.double().norm()
                assert gap <= 1e-3 * size + 1e-6, f"{part}.{name}: {gap:.2e} off ({size:.2e})"
    log = load_run(tmp_path / "whole").metrics()
    assert log and all(math.isfinite(r["loss_d"]) and math.isfinite(r["loss_g"]) for r in log)


def test_eval_runs_on_cuda(tiny_recipe: dict[str, Any], tmp_path: Path) -> None:
    run = train(validate_recipe(on_cuda(tiny_recipe, "fp32")), tmp_path / "run")
    report = evaluate(run.path, ["mig", "factor_vae"], fast=True, device="cuda")
    assert report["metrics"].keys() == {"mig", "factor_vae"}
    for metric, scores in report["metrics"].items():
        for key, value in scores.items():
            assert key.endswith("dims") or 0.0 <= value <= 1.0, (metric, key, value)
