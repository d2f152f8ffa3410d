"""train.compile compiles each method's loss regions into a fixed number of graphs and says
when dynamo falls back; train.channels_last = "auto" picks the layout for bf16 convolutions."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from support.tiny import TINY_RECIPE, tiny_grid

from disentangle.compiled import CompiledRegion, CompileFallbackWarning, cpu_compile_problem
from disentangle.recipe import validate_recipe
from disentangle.run import Run
from disentangle.run.checkpoint import read_meta
from disentangle.training.loop import Trainer, train

needs_compiler = pytest.mark.skipif(
    cpu_compile_problem() is not None, reason="inductor cannot build CPU kernels here"
)

VAE = {
    "noise": {"type": "gaussian", "dim": 0},
    "codes": [{"type": "gaussian", "name": "z", "dim": 3}],
    "backbone": {"type": "dlib_conv"},
    "dataset": tiny_grid(64),
}
CR = {
    "codes": [{"type": "uniform", "name": "a"}, {"type": "uniform", "name": "b"}],
    "backbone": {"type": "dsprites"},
    "dataset": tiny_grid(64),
}


def recipe(change: dict[str, Any], **train_options: Any) -> Any:
    data = copy.deepcopy(TINY_RECIPE)
    data.update(copy.deepcopy(change))
    data["train"].update(device="cpu", **train_options)
    return validate_recipe(data)


def trainer(change: dict[str, Any], tmp_path: Path, **train_options: Any) -> Trainer:
    return Trainer(recipe(change, **train_options), Run(tmp_path / "run"))


@needs_compiler
@pytest.mark.parametrize(
    ("change", "graphs"),
    [
        pytest.param(
            {**VAE, "method": {"type": "annealed_vae", "iteration_threshold": 2}},
            {"VAE step": 1},
            id="annealed_vae",  # its capacity changes every step: read from a tensor
        ),
        pytest.param(
            {**VAE, "method": {"type": "factor_vae"}},
            {"VAE step": 1, "TC discriminator step": 1},
            id="factor_vae",
        ),
        pytest.param(
            {**CR, "method": {"type": "infogan_cr", "start": 2}},
            # InfoGAN's two; G's loss gains the contrastive term at `start`, and the critic
            # sees G's images with batch norm in training mode from then on
            {"CR critic step": 2, "D step": 1, "G step": 2},
            id="infogan_cr",
        ),
    ],
)
def test_each_method_compiles_into_a_fixed_number_of_graphs(
    change: dict[str, Any], graphs: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The graphs are dynamo's (one per input signature it traces), so the backend that turns
    each into code is aot_eager here: the same graphs, forward and backward, without the
    minutes inductor spends building CPU kernels for InfoGAN-CR's five. Inductor's own build
    and its graph count are the next test's."""
    from torch._dynamo.backends.debugging import aot_eager

    monkeypatch.setattr("torch._inductor.compile_fx.compile_fx", aot_eager)
    t = trainer(change, tmp_path, compile=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileFallbackWarning)  # no silent or noisy fallback
        numbers = [t.method.step(t.batches.batch(i)) for i in range(4)]
    assert {r.name: r.graphs for r in t.updater.regions} == graphs
    assert all(bool(torch.isfinite(n).all()) for n in numbers)


@needs_compiler
def test_a_compiled_step_computes_the_eager_steps_losses_in_one_inductor_graph(
    tmp_path: Path,
) -> None:
    change = {**VAE, "method": {"type": "beta_vae", "beta": 4.0}}
    eager, compiled = trainer(change, tmp_path), trainer(change, tmp_path, compile=True)
    for i in range(3):
        batch = eager.batches.batch(i)
        torch.testing.assert_close(
            compiled.method.step(batch), eager.method.step(batch), rtol=1e-4, atol=1e-4
        )
    assert [(r.name, r.graphs) for r in compiled.updater.regions] == [("VAE step", 1)]


@needs_compiler
def test_dynamo_falling_back_is_said_once_with_its_reason() -> None:
    generator = torch.Generator().manual_seed(0)

    def noisy(x: torch.Tensor) -> torch.Tensor:  # a draw inside: dynamo breaks the graph
        return (x + torch.randn(x.shape, generator=generator)).sum()

    region = CompiledRegion(noisy, "test step")
    with pytest.warns(CompileFallbackWarning, match=r"test step .*\(.+\)"):
        first = region(torch.zeros(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileFallbackWarning)
        second = region(torch.zeros(3))  # still correct, and not said again
    assert torch.isfinite(first) and torch.isfinite(second) and first != second


@pytest.mark.parametrize(
    ("precision", "choice", "expected"),
    [
        ("bf16", "auto", True),
        ("fp32", "auto", False),
        ("bf16", False, False),
        ("fp32", True, True),
    ],
)
def test_the_memory_format_is_chosen_and_recorded(
    precision: str, choice: Any, expected: bool, tmp_path: Path
) -> None:
    data = {"train": {**TINY_RECIPE["train"], "iterations": 2, "checkpoint_every": 2}}
    t = trainer(data, tmp_path, precision=precision, channels_last=choice)
    assert t.updater.channels_last is expected
    conv = next(m for m in t.method.generator.modules() if isinstance(m, torch.nn.ConvTranspose2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) is expected
    layout = "channels_last" if expected else "contiguous"
    assert t.updater.summary().split("memory format ")[1].startswith(layout)
    run = train(recipe(data, precision=precision, channels_last=choice), tmp_path / "trained")
    meta = read_meta(next((run.path / "checkpoints").glob("*.json")))
    assert meta["memory_format"].startswith(layout)
    assert run.training()["memory_format"] == meta["memory_format"]  # and in the manifest
    assert run.training()["precision"] == precision


def test_the_layout_says_what_auto_chose_and_why(tmp_path: Path) -> None:
    bf16 = trainer({**VAE, "method": {"type": "factor_vae"}}, tmp_path, precision="bf16")
    assert bf16.updater.layout() == "channels_last (auto: bf16 with convolutions)"
    fp32 = trainer(VAE, tmp_path)
    assert fp32.updater.layout() == "contiguous (auto: not bf16 with convolutions)"
    forced = trainer(VAE, tmp_path, precision="bf16", channels_last=False)
    assert forced.updater.layout() == "contiguous (train.channels_last = false)"
