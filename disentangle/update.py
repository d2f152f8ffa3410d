"""The optimizer step every method shares: where its networks live and in what arithmetic,
and how one loss becomes one update of its optimizers.

A method places its networks (`place`: the run's device, the recipe's memory format), hands
the parts of its step that compute losses to `compiled` (torch.compile with train.compile:
disentangle/compiled.py), registers each optimizer it builds with the modules it owns (`optimizer`),
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

from disentangle.compiled import CompiledRegion
from disentangle.precision import WeightCopies

Opt = TypeVar("Opt", bound=torch.optim.Optimizer)
#: the layers channels_last speeds up
CONVOLUTIONS = (nn.Conv2d, nn.ConvTranspose2d)
Fn = TypeVar("Fn", bound=Callable[..., Any])


def _convolves(module: nn.Module) -> bool:
    return any(isinstance(m, CONVOLUTIONS) for m in module.modules())


class TrainOptions(Protocol):
    """What the updater reads of a recipe's [train] section (disentangle.recipe.Train)."""

    @property
    def precision(self) -> str: ...
    @property
    def channels_last(self) -> bool | str: ...
    @property
    def compile(self) -> bool: ...


class Updater:
    """The train section's device, precision, memory format and compile, for one method."""

    def __init__(
        self,
        device: torch.device,
        precision: str = "fp32",
        channels_last: bool | str = False,
        compile: bool = False,
        sync: Callable[[torch.optim.Optimizer], None] | None = None,
    ) -> None:
        self.device, self.compile = device, compile
        self.bf16 = precision == "bf16"
        #: train.channels_last as the recipe gives it: true, false or "auto"
        self.layout_choice = channels_last
        #: whether the networks (and so the batches) are channels_last: "auto" turns it on when
        #: `place` meets a bf16 network with convolutions
        self.channels_last = channels_last is True
        #: averages an optimizer's gradients over processes (None in a single process)
        self.sync = sync
        self.autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.bf16)
        #: the hyperparameters each optimizer was built with: the recipe's, applied on resume
        self.settings: dict[torch.optim.Optimizer, list[dict[str, Any]]] = {}
        #: bf16 copies of the conv and linear weights of each optimizer's modules (bf16 only)
        self.copies: dict[torch.optim.Optimizer, WeightCopies] = {}
        #: the parts of the step compiled by torch.compile (train.compile only)
        self.regions: list[CompiledRegion] = []

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
        """Move networks to the device and the recipe's memory format (train.channels_last =
        "auto": channels_last once a bf16 network has convolutions)."""
        if self.layout_choice == "auto" and self.bf16 and any(map(_convolves, modules)):
            self.channels_last = True
        for module in modules:
            module.to(self.device)
            if self.channels_last:
                module.to(memory_format=torch.channels_last)

    def setup(self) -> dict[str, str]:
        """Device, precision, memory format (and why) and compile: the run's manifest."""
        return {
            "device": str(self.device),
            "precision": "bf16" if self.bf16 else "fp32",
            "memory_format": self.layout(),
            "compile": "torch.compile" if self.compile else "eager",
        }

    def summary(self) -> str:
        """Device, precision, memory format and compile, for the run's first line."""
        s, compiled = self.setup(), ", torch.compile" if self.compile else ""
        return f"{s['device']}, {s['precision']}, memory format {s['memory_format']}{compiled}"

    def layout(self) -> str:
        """The memory format chosen, and why (for the run's header and checkpoints)."""
        chosen = "channels_last" if self.channels_last else "contiguous"
        if self.layout_choice != "auto":
            return f"{chosen} (train.channels_last = {str(self.layout_choice).lower()})"
        why = "bf16 with convolutions" if self.channels_last else "not bf16 with convolutions"
        return f"{chosen} (auto: {why})"

    def compiled(self, fn: Fn, name: str) -> Fn:
        """`fn`, a part of the step from tensors (its random draws passed in) to losses,
        compiled by torch.compile when train.compile is set; `fn` itself otherwise. Call it
        inside `precision()`, then `update` with the loss it returns."""
        if not self.compile:
            return fn
        region = CompiledRegion(fn, name)
        self.regions.append(region)
        return region  # type: ignore[return-value]

    @property
    def graphs(self) -> int:
        """The graphs torch.compile has built for this method's step so far."""
        return sum(region.graphs for region in self.regions)

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
        """After a resume loaded the optimizers' states: the recipe's settings again, each
        state tensor in its parameter's memory format (a checkpoint holds them contiguous;
        the fused step pairs elements by memory order), and fresh bf16 copies of the loaded
        weights."""
        for optimizer, groups in self.settings.items():
            for group, settings in zip(optimizer.param_groups, groups, strict=True):
                group.update(copy.deepcopy(settings))
            for param, state in optimizer.state.items():
                for key, value in state.items():
                    if torch.is_tensor(value) and value.shape == param.shape:
                        state[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)
        for copies in self.copies.values():
            copies.refresh()
