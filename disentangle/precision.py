"""bf16 weight copies for mixed-precision training, refreshed once per optimizer step.

Under autocast, every region casts each conv and linear weight to bf16 again: in one InfoGAN
iteration D's weights are cast in its D step and again in the G step, G's likewise. Here each
parameter of those layers has one bf16 copy, a leaf that the step swaps into its layer for the
region. Autocast finds it already in bf16 and casts nothing; the copy's gradient moves onto the
fp32 parameter before the optimizer step (into a buffer kept from step to step: a fresh
tensor of that size costs the kernel's page faults again every time), and the copy is
refreshed from the parameter after the step. The arithmetic is autocast's own, bit for bit
(tested): only the repeated casts and allocations go.

Layers whose weight is computed (a parametrization such as spectral norm) keep autocast's cast.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn.utils import parametrize

#: the layers whose parameters autocast casts to bf16
LOW_PRECISION_LAYERS = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)


class WeightCopies:
    """One low-precision copy of each parameter of the modules' conv and linear layers."""

    def __init__(self, modules: nn.Module | Sequence[nn.Module], dtype: torch.dtype) -> None:
        parts = [modules] if isinstance(modules, nn.Module) else modules
        layers = dict.fromkeys(layer for part in parts for layer in part.modules())  # once each
        self.slots = [
            (layer, name, param)
            for layer in layers
            if isinstance(layer, LOW_PRECISION_LAYERS) and not parametrize.is_parametrized(layer)
            for name, param in layer.named_parameters(recurse=False)
        ]
        self.copies = [nn.Parameter(param.detach().to(dtype)) for _, _, param in self.slots]
        self.buffers = [torch.empty_like(param) for _, _, param in self.slots]

    @contextmanager
    def swapped(self) -> Iterator[None]:
        """The layers compute with the copies (each as trainable as its parameter) inside."""
        for (layer, name, param), copy in zip(self.slots, self.copies, strict=True):
            copy.requires_grad_(param.requires_grad)
            setattr(layer, name, copy)
        try:
            yield
        finally:
            for layer, name, param in self.slots:
                setattr(layer, name, param)

    @torch.no_grad()
    def move_gradients(self) -> None:
        """Add each copy's gradient, in the parameter's precision, to the parameter's."""
        for (_, _, param), copy, buffer in zip(self.slots, self.copies, self.buffers, strict=True):
            if copy.grad is None:
                continue
            if param.grad is None:
                param.grad = buffer.copy_(copy.grad)
            else:
                param.grad += copy.grad
            copy.grad = None

    @torch.no_grad()
    def refresh(self) -> None:
        """Copy the parameters' current values into the copies (after an optimizer step)."""
        for (_, _, param), copy in zip(self.slots, self.copies, strict=True):
            copy.copy_(param)
