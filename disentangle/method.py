"""The method interface: how a model trains, for the `methods` registry.

A method builds its networks from the recipe's components, owns their optimizers and one
training iteration, names the numbers it logs, and exposes a decoder (latent → image, for
samples and traversals) and an encoder (image → representation, for evaluation). The core
keeps the loop: data batches, seeds, the progress bar, metrics.jsonl, non-finite checks,
checkpoints and exact resume, figures and evaluation; and it offers the optimizer step every
method shares (`MethodSetup.updater`: device, precision, memory format, compile, gradient
averaging over processes, the recipe's optimizer settings after a resume).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import nn

from disentangle.compiled import refuse_uncompilable
from disentangle.contract import check_method
from disentangle.errors import Problem, TrainingError
from disentangle.plugins import host
from disentangle.recipe.build import Components, build_components
from disentangle.recipe.sections import Recipe
from disentangle.registry import Params
from disentangle.update import Updater


@dataclass
class MethodSetup:
    """What the core hands a method's factory besides the method's own params."""

    #: the validated recipe (its train section, the codes' own settings)
    recipe: Recipe
    #: the noise, codes, backbone and dataset built from it
    components: Components
    device: torch.device
    #: the random source of training draws (latents), seeded per process and checkpointed by
    #: the core; global torch randomness is for initialisation only
    rng: torch.Generator
    #: the optimizer step every method shares, built by the run from the recipe's [train]
    #: (device, precision, memory format, compile, gradient averaging over processes): place the
    #: networks, register the optimizers, compute losses in `updater.precision()`, then
    #: `updater.update(loss, *optimizers)`. Left out (a method built outside a run: tests,
    #: notebooks), it is the recipe's, in one process.
    updater: Updater = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.updater is None:
            self.updater = Updater.from_recipe(self.recipe.train, self.device)


class Iterations(nn.Module):
    """The count of iterations a method has run, for schedules: put it among the method's
    `networks` and it goes into checkpoints, so a resume continues the schedule where it was."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("count", torch.zeros((), dtype=torch.int64))

    def __int__(self) -> int:
        return int(self.count)

    def advance(self) -> None:
        self.count += 1


class Method(ABC):
    """One way to train a model, built by `factory(spec, setup)` from the `methods` registry."""

    #: the networks by name: what checkpoints save and a resume restores (shape-checked), what
    #: processes keep identical; a name must not be one of `optimizers`' or "rng"
    networks: dict[str, nn.Module]
    #: the optimizers by name, saved and restored with the networks
    optimizers: dict[str, torch.optim.Optimizer]
    #: the names of the numbers `step` returns, in order
    scalars: list[str]
    #: settings the method reads beside each code in the recipe (`[[codes]]` tables), e.g.
    #: InfoGAN's `lambda`; None: a code table holds its distribution's params and name only
    code_params: ClassVar[type[Params] | None] = None

    @classmethod
    def problems(cls, recipe: Recipe, components: Components) -> list[Problem]:
        """What makes the validated recipe unusable by this method (too few codes, a backbone
        without a network it needs, a train option it cannot honour), each at its recipe key
        path; `disentangle validate` and `run` both refuse them before anything is built.
        The method's own params are `recipe.method`. Default: none."""
        return []

    @abstractmethod
    def step(self, real: torch.Tensor) -> torch.Tensor:
        """One training iteration on a batch of real images in the data's value range; its
        numbers (losses, bounds), detached, shape [len(scalars)]."""

    @abstractmethod
    def decoder(self) -> nn.Module:
        """The network that maps latent vectors (noise, then codes) to images in the backbone's
        output range: G for a GAN, the decoder of a VAE."""

    @abstractmethod
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """The representation evaluation scores, [n, sum of the codes' dims] (one block per
        code, in recipe order), of images in the data's value range; called without grad on
        networks in eval mode."""

    def record(self, means: list[float]) -> dict[str, Any]:
        """`step`'s numbers, averaged since the last record, as fields of a metrics.jsonl
        record (the core adds the iteration and the speed)."""
        return dict(zip(self.scalars, means, strict=True))

    def outputs(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named outputs on generated images, which must be finite before a checkpoint is
        written (the core checks the weights and the images themselves)."""
        return {"the representation": self.encode(images)}

    def restored(self) -> None:  # noqa: B027 (optional hook)
        """Called after a resume loaded the networks' and optimizers' states (and the updater
        applied the recipe's optimizer settings again): refresh any state derived from them."""


@runtime_checkable
class GaussianPosterior(Protocol):
    """A method whose representation is the mean of a Gaussian posterior q(z|x), as a VAE's:
    what UDR (`disentangle select --by udr`) reads, with its variance."""

    def posterior(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The posterior's means and log variances over the representation's columns, each
        [n, d] (the means are `encode`'s), of images in the data's value range."""


def build_method(setup: MethodSetup) -> Method:
    """The recipe's method, built by its factory and held to the contract (ContractError)."""
    entry = host.methods.get(setup.recipe.method.type)
    method = entry.factory(setup.recipe.method, setup)
    check_method(method, entry)
    if setup.updater.compile and not setup.updater.regions:
        raise TrainingError(
            f"train.compile: method {entry.name!r} (plugin {entry.plugin or entry.provider!r}) "
            "hands no part of its step to updater.compiled, so nothing would be compiled; "
            "set train.compile = false"
        )
    return method


def check_builds(recipe: Recipe) -> None:
    """What `validate` adds to a recipe's checks: its method, built on the CPU (networks
    initialised, nothing trained), keeps the contract, and compiles where train.compile asks
    (a part of its step marked for it, a CPU whose compiler can build kernels)."""
    cpu = torch.device("cpu")
    train = recipe.train
    updater = Updater(cpu, train.precision, compile=train.compile)
    build_method(MethodSetup(recipe, build_components(recipe), cpu, torch.Generator(), updater))
    auto = "cuda" if torch.cuda.is_available() else "cpu"
    refuse_uncompilable(
        train.compile, torch.device(auto if train.device == "auto" else train.device).type
    )
