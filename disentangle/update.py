"""The optimizer step every method shares: where its networks live and in what arithmetic,
and how one loss becomes one update of its optimizers.

A method places its networks (`place`: the run's device, the recipe's memory format,
torch.compile), registers each optimizer it builds with the modules it owns (`optimizer`),
computes its losses inside `precision()` (autocast in bf16, with one bf16 copy of each conv and
linear weight swapped in: disentangle/precision.py) and calls `update(loss, *opts)`:
zero the gradients, back-propagate, and per optimizer move the bf16 gradients onto the fp32
weights, average them over processes (torchrun), step, refresh the copies. After a resume the
core calls `restored()`: each optimizer's hyperparameters (learning rate, betas, ε, …) are the
recipe's again, whatever the checkpoint held, and the copies are refreshed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, Protocol, TypeVar

import torch
from torch import nn

from disentangle.precision import WeightCopies

Opt = TypeVar("Opt", bound=torch.optim.Optimizer)


class TrainOptions(Protocol):
    """What the updater reads of a recipe's [train] section (disentangle.recipe.Train)."""

    @property
    def precision(self) -> str: ...
    @property
    def channels_last(self) -> bool: ...
    @property
    def compile(self) -> bool: ...


class Updater:
    """The train section's device, precision, memory format and compile, for one method."""

    def __init__(
        self,
        device: torch.device,
        precision: str = "fp32",
        channels_last: bool = False,
        compile: bool = False,
        sync: Callable[[torch.optim.Optimizer], None] | None = None,
    ) -> None:
        self.device, self.channels_last, self.compile = device, channels_last, compile
        self.bf16 = precision == "bf16"
        #: averages an optimizer's gradients over processes (None in a single process)
        self.sync = sync
        self.autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.bf16)
        #: the hyperparameters each optimizer was built with: the recipe's, applied on resume
        self.settings: dict[torch.optim.Optimizer, list[dict[str, Any]]] = {}
        #: bf16 copies of the conv and linear weights of each optimizer's modules (bf16 only)
        self.copies: dict[torch.optim.Optimizer, WeightCopies] = {}

    @classmethod
    def from_recipe(
        cls,
        train: TrainOptions,
        device: torch.device,
        sync: Callable[[torch.optim.Optimizer], None] | None = None,
    ) -> Updater:
        return cls(device, train.precision, train.channels_last, train.compile, sync)

    @classmethod
    def for_evaluation(cls, train: TrainOptions, device: torch.device) -> Updater:
        """The updater of a run loaded to evaluate or draw: the recipe's precision, plain
        modules (no torch.compile, the default memory format), one process."""
        return cls(device, train.precision)

    def place(self, *modules: nn.Module) -> None:
        """Move networks to the device and the recipe's memory format, then compile each
        (in place, so a module keeps its identity; compile what the step calls on its own:
        D's trunk and heads, not D)."""
        for module in modules:
            module.to(self.device)
            if self.channels_last:
                module.to(memory_format=torch.channels_last)
        if self.compile:
            for module in modules:
                module.compile()

    def optimizer(self, optimizer: Opt, *modules: nn.Module) -> Opt:
        """Register an optimizer built from the recipe's settings over `modules`' parameters
        (and any others it holds): its settings come back after a resume, and in bf16 those
        modules' conv and linear layers compute with bf16 copies."""
        self.settings[optimizer] = [
            {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            for group in optimizer.param_groups
        ]
        if self.bf16:
            self.copies[optimizer] = WeightCopies(modules, torch.bfloat16)
        return optimizer

    def adam(
        self,
        modules: list[nn.Module],
        lr: float,
        betas: tuple[float, float],
        extra: list[nn.Parameter] | None = None,
    ) -> torch.optim.Adam:
        """Adam over the modules' parameters (and `extra` ones), fused on CPU and CUDA,
        registered."""
        params = [p for m in modules for p in m.parameters()] + list(extra or [])
        fused = {"fused": True} if self.device.type in ("cpu", "cuda") else {}
        return self.optimizer(torch.optim.Adam(params, lr=lr, betas=betas, **fused), *modules)

    @contextmanager
    def precision(self) -> Iterator[None]:
        """The arithmetic of a step's forward pass: autocast, with the bf16 weight copies in
        place (bf16); nothing changes in fp32."""
        with self.autocast, ExitStack() as stack:
            for copies in self.copies.values():
                stack.enter_context(copies.swapped())
            yield

    def update(self, loss: torch.Tensor, *optimizers: torch.optim.Optimizer) -> None:
        """Back-propagate `loss` and step each optimizer (gradients averaged over processes).
        Optimizers over disjoint parameters may share one loss: each gets its own gradient."""
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for optimizer in optimizers:
            self.step(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """Step one optimizer on the gradients already there."""
        copies = self.copies.get(optimizer)
        if copies is not None:
            copies.move_gradients()
        if self.sync is not None:
            self.sync(optimizer)
        optimizer.step()
        if copies is not None:
            copies.refresh()

    def restored(self) -> None:
        """After a resume loaded the optimizers' states: the recipe's settings again, and
        fresh bf16 copies of the loaded weights."""
        for optimizer, groups in self.settings.items():
            for group, settings in zip(optimizer.param_groups, groups, strict=True):
                group.update(copy.deepcopy(settings))
        for copies in self.copies.values():
            copies.refresh()
