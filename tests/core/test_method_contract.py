"""The method contract checked when a method is built (and by validate where the class alone
shows it) and on its first step: one error naming the plugin, the method and the rule, before
anything is written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from support.cli import assert_clean_failure, invoke
from support.tiny import TINY_TOML, write_toml
from torch import nn

from disentangle import Method, MethodSetup, Params
from disentangle.contract import ContractError
from disentangle.errors import RecipeError, TrainingError
from disentangle.method import check_builds
from disentangle.plugins import host
from disentangle.recipe import validate_recipe
from disentangle.training.loop import train


class Tiny(Method):
    """An autoencoder on the recipe's backbone, as small as a method gets."""

    def __init__(self, spec: Params, setup: MethodSetup) -> None:
        comps = setup.components
        self.width = comps.latent_dim - comps.noise.dim
        self.g = comps.backbone.generator(comps.latent_dim)
        d = comps.backbone.discriminator(comps.latent_dim)
        self.e = nn.Sequential(d.trunk, d.q_head)
        self.opt = torch.optim.SGD([*self.g.parameters(), *self.e.parameters()], lr=1e-3)
        self.networks = {"decoder": self.g, "encoder": self.e}
        self.optimizers = {"opt": self.opt}
        self.scalars = ["loss"]

    def step(self, real: torch.Tensor) -> torch.Tensor:
        loss = F.mse_loss(self.g(self.e(real)), real)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.detach().reshape(1)

    def decoder(self) -> nn.Module:
        return self.g

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.e(images)[:, -self.width :]


class NoEncode(Method):
    """Everything but encode (abstract: the class shows it)."""

    step = Tiny.step
    decoder = Tiny.decoder


class TwoScalars(Tiny):
    def __init__(self, spec: Params, setup: MethodSetup) -> None:
        super().__init__(spec, setup)
        self.scalars = ["loss", "reconstruction"]  # step returns one number


class OptimizerNamedLikeANetwork(Tiny):
    def __init__(self, spec: Params, setup: MethodSetup) -> None:
        super().__init__(spec, setup)
        self.optimizers = {"encoder": self.opt}


class NetworkNamedRng(Tiny):
    def __init__(self, spec: Params, setup: MethodSetup) -> None:
        super().__init__(spec, setup)
        self.networks["rng"] = nn.Linear(1, 1)


class NoScalars(Tiny):
    def __init__(self, spec: Params, setup: MethodSetup) -> None:
        super().__init__(spec, setup)
        del self.scalars


METHODS = {
    "tiny_ok": Tiny,
    "no_encode": NoEncode,
    "two_scalars": TwoScalars,
    "opt_like_net": OptimizerNamedLikeANetwork,
    "net_named_rng": NetworkNamedRng,
    "no_scalars": NoScalars,
}


@pytest.fixture
def contract_methods() -> Iterator[None]:
    class Plugin:
        from disentangle import hookimpl

        @hookimpl
        def register_methods(self, register):
            for name, cls in METHODS.items():
                register(name, cls, Params)

    host.add(Plugin(), name="contract_test")
    yield
    host.manager.unregister(name="contract_test")
    for name in METHODS:
        host.methods.unregister(name)
    host.loaded[:] = [p for p in host.loaded if p.name != "contract_test"]


def recipe_for(tiny_recipe: dict[str, Any], method: str) -> dict[str, Any]:
    for code in tiny_recipe["codes"]:
        code.pop("lambda", None)  # InfoGAN's
    return {**tiny_recipe, "method": {"type": method}}


def test_compile_is_refused_for_a_method_that_marks_nothing_to_compile(
    contract_methods: None, tiny_recipe: dict[str, Any]
) -> None:
    data = recipe_for(tiny_recipe, "tiny_ok")
    data["train"]["compile"] = True
    with pytest.raises(TrainingError, match=r"train\.compile: method 'tiny_ok' .*compiled"):
        check_builds(validate_recipe(data))
    data["train"]["compile"] = False
    check_builds(validate_recipe(data))


def test_a_method_that_keeps_the_contract_trains(
    contract_methods: None, tiny_recipe: dict[str, Any], tmp_path: Path
) -> None:
    run = train(validate_recipe(recipe_for(tiny_recipe, "tiny_ok")), tmp_path / "run")
    assert (run.path / "metrics.jsonl").read_text().count('"loss"') == 3


def test_validate_refuses_a_method_without_encode(
    contract_methods: None, tiny_recipe: dict[str, Any]
) -> None:
    with pytest.raises(RecipeError) as caught:
        validate_recipe(recipe_for(tiny_recipe, "no_encode"))
    message = str(caught.value)
    assert "method.type" in message
    assert "plugin 'contract_test', method 'no_encode': it has no encode()" in message


@pytest.mark.parametrize(
    ("method", "rule"),
    [
        ("opt_like_net", "['encoder'] name both a network and an optimizer"),
        ("net_named_rng", "['rng'] is a name checkpoints use themselves"),
        ("no_scalars", "`scalars` must be a list"),
    ],
)
def test_a_method_breaking_the_contract_is_refused_before_anything_is_written(
    contract_methods: None, tiny_recipe: dict[str, Any], tmp_path: Path, method: str, rule: str
) -> None:
    recipe = validate_recipe(recipe_for(tiny_recipe, method))
    with pytest.raises(ContractError) as caught:
        train(recipe, tmp_path / "run")
    assert str(caught.value).startswith(f"plugin 'contract_test', method {method!r}: ")
    assert rule in str(caught.value)
    assert not (tmp_path / "run").exists()


def test_a_first_step_whose_numbers_do_not_match_scalars_is_refused(
    contract_methods: None, tiny_recipe: dict[str, Any], tmp_path: Path
) -> None:
    recipe = validate_recipe(recipe_for(tiny_recipe, "two_scalars"))
    with pytest.raises(ContractError, match=r"step\(\) returned \(1,\), but `scalars` names 2"):
        train(recipe, tmp_path / "run")
    assert not list((tmp_path / "run").glob("checkpoints/*.json"))


@pytest.mark.parametrize("command", ["validate", "run"])
def test_the_command_line_refuses_a_broken_method_in_one_message(
    contract_methods: None, tmp_path: Path, command: str
) -> None:
    """What `run` refuses when it builds the method, `validate` refuses too (it builds it)."""
    text = TINY_TOML.replace("lambda = 0.1\n", "") + '[method]\ntype = "opt_like_net"\n'
    recipe = write_toml(tmp_path / "r.toml", text)
    out = tmp_path / "run"
    args = [command, str(recipe), *(["--out", str(out)] if command == "run" else [])]
    assert_clean_failure(
        *invoke(*args),
        "plugin 'contract_test', method 'opt_like_net':",
        "name both a network and an optimizer",
    )
    assert not out.exists()
