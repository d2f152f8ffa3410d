"""One InfoGAN iteration, as the original code does it: a D/Q step, then a G step.

The D optimizer owns D's trunk, D's head and Q's head and minimises the D loss − Σ λ_j L_I_j;
the G optimizer owns G and minimises the non-saturating G loss − Σ λ_j L_I_j. z and c are
re-sampled for each step; real and fake batches pass D separately. A code with λ = 0 still
trains Q's head (on detached trunk features), so Q learns to infer c without the GAN being
pushed to make c informative: the paper's "regular GAN" baseline.

`g_updates` (recipe: train.g_updates, default 1) runs that many G steps after each D step,
each on freshly sampled z and c (InfoGAN-CR's dSprites code runs two). With the default, the
iteration, its random draws and its result are exactly those of the single-G-step rule.

In bf16 (train.precision), the steps run under autocast with one bf16 copy of each conv and
linear weight, refreshed after its optimizer's step (disentangle/training/precision.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from disentangle.build import Components
from disentangle.components import Discriminator, MIEstimator
from disentangle.training.precision import WeightCopies


@dataclass
class Models:
    generator: nn.Module
    discriminator: Discriminator
    estimator: MIEstimator
    opt_d: torch.optim.Optimizer
    opt_g: torch.optim.Optimizer


class InfoGANStep:
    """Runs iterations; returns [D loss, G loss (adversarial parts), L_I per code], detached.

    The D loss and L_I are the D step's; the G loss is the mean over the iteration's G steps.
    """

    def __init__(
        self,
        comps: Components,
        models: Models,
        generator: torch.Generator,
        device: torch.device,
        bf16: bool,
        sync: Callable[[torch.optim.Optimizer], None] | None = None,
        g_updates: int = 1,
    ) -> None:
        if g_updates < 1:
            raise ValueError(f"g_updates must be at least 1, not {g_updates}")
        self.comps, self.m, self.rng, self.device = comps, models, generator, device
        self.g_updates = g_updates
        self.sync = sync  # e.g. averages gradients over ranks before each optimizer step
        self.weights = torch.tensor(comps.weights, device=device)
        self.free = (self.weights == 0).float()
        self.any_free = bool(self.free.any())
        self.autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
        #: bf16 copies of G's and D's conv and linear weights, by the optimizer that owns them
        self.copies = (
            {
                models.opt_d: WeightCopies(models.discriminator, torch.bfloat16),
                models.opt_g: WeightCopies(models.generator, torch.bfloat16),
            }
            if bf16
            else {}
        )

    @contextmanager
    def _precision(self) -> Iterator[None]:
        """The region's arithmetic: autocast, with the bf16 weight copies in place (bf16)."""
        with self.autocast, ExitStack() as stack:
            for copies in self.copies.values():
                stack.enter_context(copies.swapped())
            yield

    def _latents(self, n: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
        z = self.comps.noise.sample(n, self.rng, self.device)
        codes = [c.sample(n, self.rng, self.device) for c in self.comps.codes]
        return torch.cat([z, *codes], dim=1), codes

    def _bounds(
        self, q_head: nn.Module, features: torch.Tensor, codes: list[torch.Tensor]
    ) -> torch.Tensor:
        """L_I per code from Q's head on D's trunk features (none for a plain GAN)."""
        if not codes:
            return features.new_zeros(0, dtype=torch.float32)
        return self.m.estimator(q_head(features), codes)

    def _step(self, optimizer: torch.optim.Optimizer) -> None:
        copies = self.copies.get(optimizer)
        if copies is not None:
            copies.move_gradients()
        if self.sync is not None:
            self.sync(optimizer)
        optimizer.step()
        if copies is not None:
            copies.refresh()

    def __call__(self, real: torch.Tensor) -> torch.Tensor:
        m, n = self.m, real.shape[0]
        d, q_head = m.discriminator, m.discriminator.q_head

        latents, codes = self._latents(n)
        with self._precision():
            with torch.no_grad():
                fake = m.generator(latents)
            real_logits = d.d_head(d.trunk(real)).flatten()
            features = d.trunk(fake)
            fake_logits = d.d_head(features).flatten()
            adv_d = (F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()).float()
            bounds = self._bounds(q_head, features, codes)
            loss_d = adv_d - (self.weights * bounds).sum()
            if self.any_free:
                free_bounds = m.estimator(q_head(features.detach()), codes)
                loss_d = loss_d - (self.free * free_bounds).sum()
        m.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self._step(m.opt_d)

        d.requires_grad_(False)
        adv_g = self._g_step(n)
        for _ in range(self.g_updates - 1):
            adv_g = adv_g + self._g_step(n)
        d.requires_grad_(True)
        if self.g_updates > 1:
            adv_g = adv_g / self.g_updates

        return torch.cat([torch.stack([adv_d, adv_g]), bounds]).detach()

    def _g_step(self, n: int) -> torch.Tensor:
        """One G step on fresh z and c (D frozen); its adversarial loss, detached."""
        m, d = self.m, self.m.discriminator
        latents, codes = self._latents(n)
        with self._precision():
            features = d.trunk(m.generator(latents))
            adv_g = F.softplus(-d.d_head(features).flatten()).mean().float()
            g_bounds = self._bounds(d.q_head, features, codes)
            loss_g = adv_g - (self.weights * g_bounds).sum()
        m.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self._step(m.opt_g)
        return adv_g.detach()
