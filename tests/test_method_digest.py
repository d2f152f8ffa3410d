"""The `infogan` method trains bit-identically to the update rule it replaced in the core.

The digests were recorded from the training loop before InfoGAN's step moved out of the core
into the InfoGAN plugin (the same code and tiny runs, 2 and 6 iterations in one thread), on a
CPU whose kernels torch reports as AVX512, with torch 2.14.1. Floating-point results differ
between CPU kinds and torch versions (other kernels sum in other orders), so elsewhere the test
is skipped rather than wrong; CI runs where they were recorded.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import TINY_RECIPE

from disentangle.checkpoint import load_checkpoint
from disentangle.recipe import validate_recipe
from disentangle.training.loop import train

RECORDED_ON = ("AVX512", "2.14.1")


def plain(data: dict[str, Any]) -> None:
    """The tiny recipe as it is: fp32, one G step per D step."""


def bf16_two_g_steps(data: dict[str, Any]) -> None:
    """bf16 weight copies, spectral norm on D/Q, two G steps, one code with λ = 0."""
    data["train"].update(precision="bf16", g_updates=2)
    data["codes"][1]["lambda"] = 0.0
    data["backbone"]["spectral_norm"] = True


DIGESTS: list[tuple[Callable[[dict[str, Any]], None], str]] = [
    (plain, "fff0dc61f6b73243f441db8537116d4b980be4892c3dd1fafe3c979ae4df282c"),
    (bf16_two_g_steps, "eb24f02af2f8f8391c993918203375a7d967818349f99444d342bb168a960cd8"),
]


def digest(state: dict[str, Any]) -> str:
    """SHA-256 of every tensor's bytes in the networks' and optimizers' states, key by key."""
    h = hashlib.sha256()
    for part in ("generator", "discriminator", "estimator", "opt_d", "opt_g"):
        for key in sorted(state[part]):
            value = state[part][key]
            if isinstance(value, torch.Tensor):
                h.update(f"{part}.{key}".encode())
                h.update(value.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


@pytest.mark.skipif(
    (torch.backends.cpu.get_cpu_capability(), torch.__version__.split("+")[0]) != RECORDED_ON,
    reason=f"digests recorded on a {RECORDED_ON[0]} CPU with torch {RECORDED_ON[1]}",
)
@pytest.mark.parametrize(("tweak", "expected"), DIGESTS, ids=[t.__name__ for t, _ in DIGESTS])
def test_the_infogan_method_trains_the_weights_the_core_step_trained(
    tweak: Callable[[dict[str, Any]], None], expected: str, tmp_path: Path
) -> None:
    data = copy.deepcopy(TINY_RECIPE)
    data["train"].update(device="cpu", tensorboard=False)
    tweak(data)
    run = train(validate_recipe(data), tmp_path / "run")
    state, meta = load_checkpoint(run.checkpoints()[-1])
    assert meta["iteration"] == data["train"]["iterations"]
    assert digest(state) == expected
