"""The optimizer step every method shares (disentangle/update.py): each method trains
in the recipe's precision and memory format, and a resume gives each optimizer the recipe's
settings back."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from support.tiny import SMALL_IMAGES, checkpointed, tiny_grid
from torch import nn

from disentangle.method import Method, MethodSetup
from disentangle.plugins import host
from disentangle.recipe import validate_recipe
from disentangle.recipe.build import build_components
from disentangle.update import Updater

CPU = torch.device("cpu")
VAES = ["beta_vae", "annealed_vae", "beta_tcvae", "dip_vae", "factor_vae"]
METHODS = ["infogan", "infogan_cr", *VAES]


def recipe(method: str, **train: Any) -> dict[str, Any]:
    if method in VAES:
        latents = {
            "noise": {"type": "gaussian", "dim": 0},
            "codes": [{"type": "gaussian", "name": "z", "dim": 4}],
            "backbone": {"type": "dlib_conv"},
            "dataset": tiny_grid(64),
        }
    else:
        latents = {
            "noise": {"type": "uniform", "dim": 4},
            "codes": [
                {"type": "categorical", "name": "kind", "k": 2},
                {"type": "uniform", "name": "a", "lambda": 0.1},
            ],
            "backbone": {"type": "mnist", "width": 0.125},
            "dataset": tiny_grid(28),
        }
    return {
        "name": method,
        "method": {"type": method, **({"start": 0} if method == "infogan_cr" else {})},
        **latents,
        "train": {**checkpointed(2, 8), **train},
        "images": SMALL_IMAGES,
    }


def build(method: str, **train: Any) -> tuple[Method, torch.Tensor]:
    rec = validate_recipe(recipe(method, **train))
    torch.manual_seed(0)
    comps = build_components(rec)
    built = host.methods.build(rec.method, MethodSetup(rec, comps, CPU, torch.Generator()))
    low, high = comps.value_range
    return built, low + (high - low) * comps.dataset.load().images[:8].float() / 255


def layers(method: Method) -> list[nn.Module]:
    kinds = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
    return [m for net in method.networks.values() for m in net.modules() if isinstance(m, kinds)]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_every_method_computes_in_the_recipes_precision(method: str, precision: str) -> None:
    built, real = build(method, precision=precision)
    seen: list[torch.dtype] = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype)) for m in layers(built)
    ]
    numbers = built.step(real)
    for hook in hooks:
        hook.remove()
    want = torch.bfloat16 if precision == "bf16" else torch.float32
    assert seen and set(seen) == {want}
    assert torch.isfinite(numbers).all()
    for net in built.networks.values():  # the weights stay fp32: bf16 is the arithmetic
        assert all(p.dtype == torch.float32 for p in net.parameters())


@pytest.mark.parametrize("method", METHODS)
def test_every_method_keeps_its_convolutions_in_the_recipes_memory_format(method: str) -> None:
    built, real = build(method, channels_last=True)
    convs = [m for m in layers(built) if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
    assert convs
    assert all(m.weight.is_contiguous(memory_format=torch.channels_last) for m in convs)
    assert torch.isfinite(built.step(real.contiguous(memory_format=torch.channels_last))).all()


def test_a_resume_gives_each_optimizer_the_recipes_settings_back() -> None:
    updater = Updater(CPU)
    net = nn.Linear(3, 2)
    opt = updater.optimizer(torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.9)), net)
    other = torch.optim.Adam(net.parameters(), lr=7e-2, betas=(0.1, 0.2), eps=1e-3)
    net(torch.ones(1, 3)).sum().backward()
    other.step()
    opt.load_state_dict(other.state_dict())  # what a checkpoint written with other settings does
    assert opt.param_groups[0]["lr"] == 7e-2
    updater.restored()
    group = opt.param_groups[0]
    assert (group["lr"], group["betas"], group["eps"]) == (1e-3, (0.5, 0.9), 1e-8)
    assert opt.state[net.weight]["step"] == 1  # the state itself is the checkpoint's


def test_update_steps_each_optimizer_on_its_own_gradient_and_refreshes_bf16_copies() -> None:
    updater = Updater(CPU, precision="bf16")
    first, second = nn.Linear(3, 3), nn.Linear(3, 1)
    opt_a = updater.optimizer(torch.optim.SGD(first.parameters(), lr=0.1), first)
    opt_b = updater.optimizer(torch.optim.SGD(second.parameters(), lr=0.1), second)
    before = first.weight.detach().clone(), second.weight.detach().clone()
    with updater.precision():
        out = second(first(torch.ones(2, 3)))
        assert out.dtype == torch.bfloat16 and first.weight.dtype == torch.bfloat16
    updater.update(out.float().sum(), opt_a, opt_b)
    assert first.weight.dtype == torch.float32 and first.weight.grad is not None
    assert not torch.equal(first.weight, before[0]) and not torch.equal(second.weight, before[1])
    copies = updater.copies[opt_a].copies
    assert torch.equal(copies[0], first.weight.detach().to(torch.bfloat16))
