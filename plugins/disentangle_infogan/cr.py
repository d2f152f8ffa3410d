"""The `infogan_cr` method: InfoGAN with InfoGAN-CR's contrastive regulariser (Lin et al., ICML
2020), from their code (fjxmlzn/InfoGAN-CR, InfoGAN-CR_dSprites/gan/infogan_cr.py,
gan/latent.py, gan/network.py, config.py).

Each iteration draws pairs of latent vectors that share the noise and one code (chosen
uniformly per pair; the other codes drawn independently) and asks a CR discriminator, on the
two generated images stacked on the channel axis, which code they share. In order:

1. a CR discriminator step: softmax cross entropy on one batch of pairs, its own Adam
   (`lr_cr`); while the CR weight is still 0, the pairs come from G with batch norm in
   inference mode, as theirs (`train_with_crd` false), afterwards in training mode;
2. InfoGAN's D/Q step and `method.g_updates` G steps, each G step adding `weight` × the same
   cross entropy on a fresh batch of pairs (G and the CR discriminator cooperate: both
   minimise it; the CR discriminator is frozen in G's steps).

`weight` is 0 before iteration `start` and `cr_weight` from it on (their dSprites config: 0,
then 2.0 from iteration 288,000). At `start` the CR discriminator's weights are drawn afresh
from their initialisation and its Adam state is cleared (their `tf.initialize_variables` of
its variables and of its optimizer's); its spectral-norm vectors are kept, as theirs. The
iteration count is a checkpointed part (`schedule`), so a resume continues the schedule.

Not reproduced: their `gap` (a minimum distance forced between the non-shared codes of a
pair; 0 throughout their dSprites and CelebA configs), and their two G steps reusing one batch
of latents (ours draws fresh ones per step, as `method.g_updates` always has).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from disentangle import Backbone, Components, Iterations, MethodSetup
from disentangle.errors import Problem
from disentangle_infogan.method import InfoGAN, InfoGANParams

#: two latent batches sharing the noise and one code per row, and that code's index per row
Pairs = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class InfoGANCRParams(InfoGANParams):
    cr_weight: float = Field(
        2.0, ge=0, description="weight of the contrastive term in G's loss once it starts"
    )
    start: int = Field(
        288_000,
        ge=0,
        description="iteration from which the contrastive term counts, the CR discriminator "
        "drawn afresh then (InfoGAN-CR's dSprites: 288,000 of 322,560)",
    )
    lr_cr: float = Field(2e-3, gt=0, description="Adam lr of the CR discriminator (theirs: 2e-3)")


class PairCritic(nn.Module):
    """The CR discriminator on two images, stacked on the channel axis."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([first, second], dim=1))


def _has_pair_discriminator(backbone: Backbone) -> bool:
    return type(backbone).pair_discriminator is not Backbone.pair_discriminator


class InfoGANCR(InfoGAN):
    """InfoGAN's networks and step, a CR discriminator, and the schedule of its weight; logs
    InfoGAN's numbers and `loss_cr`, the CR discriminator's cross entropy."""

    @classmethod
    def problems(cls, recipe: Any, components: Components) -> list[Problem]:
        found = super().problems(recipe, components)
        if len(components.codes) < 2:
            count = len(components.codes)
            problem = f"infogan_cr tells codes apart: it needs at least two, the recipe has {count}"
            found.append(Problem("codes", problem))
        if not _has_pair_discriminator(components.backbone):
            backbone = type(components.backbone).__name__
            problem = (
                f"infogan_cr needs a backbone that builds its CR discriminator "
                f"(Backbone.pair_discriminator); {backbone} does not"
            )
            found.append(Problem("method.type", problem))
        return found

    def __init__(self, spec: InfoGANCRParams, setup: MethodSetup) -> None:
        super().__init__(spec, setup)
        self.backbone = setup.components.backbone
        n_codes = len(self.comps.codes)
        self.critic = PairCritic(self.backbone.pair_discriminator(n_codes))
        self.updater.place(self.critic)
        self.critic.requires_grad_(False)  # trainable in its own step only
        # no bf16 weight copies: it is drawn afresh at `start`, and autocast casts its weights
        self.opt_cr = self.adam([], spec.lr_cr, extra=list(self.critic.parameters()))
        self.iterations = Iterations().to(self.device)
        self.networks["cr_discriminator"] = self.critic
        self.networks["schedule"] = self.iterations
        self.optimizers["opt_cr"] = self.opt_cr
        self.scalars.append("loss_cr")
        self.weight = 0.0
        self._critic_losses = self.updater.compiled(self._critic_loss, "CR critic step")

    def record(self, means: list[float]) -> dict[str, Any]:
        return {**super().record(means[:-1]), "loss_cr": means[-1], "cr_weight": self.weight}

    def _pairs(self, n: int) -> Pairs:
        """Two latent batches sharing the noise and, row by row, the code `labels` names."""
        codes = self.comps.codes
        labels = torch.randint(len(codes), (n,), generator=self.rng, device=self.device)
        z = self.comps.noise.sample(n, self.rng, self.device)
        first = [c.sample(n, self.rng, self.device) for c in codes]
        second = [
            torch.where((labels == j).unsqueeze(1), a, c.sample(n, self.rng, self.device))
            for j, (c, a) in enumerate(zip(codes, first, strict=True))
        ]
        return torch.cat([z, *first], dim=1), torch.cat([z, *second], dim=1), labels

    def _contrastive(self, pairs: Pairs) -> torch.Tensor:
        """The CR discriminator's cross entropy on a batch of pairs (two G calls)."""
        first, second, labels = pairs
        logits = self.critic(self.generator(first), self.generator(second))
        return F.cross_entropy(logits.float(), labels)

    def _restart_critic(self) -> None:
        """Fresh CR discriminator weights from its initialisation (global torch randomness,
        which checkpoints keep), its spectral-norm vectors kept; its Adam state cleared."""
        fresh = self.backbone.pair_discriminator(len(self.comps.codes)).state_dict()
        kept = {k: v for k, v in fresh.items() if not k.endswith(("._u", "._v"))}
        self.critic.net.load_state_dict(kept, strict=False)
        self.opt_cr.state.clear()

    def _critic_loss(self, pairs: Pairs) -> torch.Tensor:
        """The CR discriminator's cross entropy on G's images of the pairs, G held fixed (the
        compiled region of the critic step)."""
        first, second, labels = pairs
        with torch.no_grad():
            images = self.generator(first), self.generator(second)
        return F.cross_entropy(self.critic(*images).float(), labels)

    def _critic_step(self, n: int) -> torch.Tensor:
        pairs = self._pairs(n)
        was_training = self.generator.training
        self.generator.train(self.weight > 0)  # theirs: batch norm in inference mode until CR
        self.critic.requires_grad_(True)
        try:
            with self.updater.precision():  # the critic has no weight copies: autocast's casts
                loss = self._critic_losses(pairs)
        finally:
            self.generator.train(was_training)
        self.updater.update(loss, self.opt_cr)
        self.critic.requires_grad_(False)
        return loss.detach()

    def _g_draws(self, n: int) -> Pairs | None:
        return self._pairs(n) if self.weight > 0 else None

    def _g_regulariser(self, draws: Pairs | None) -> torch.Tensor | None:
        return None if draws is None else self.weight * self._contrastive(draws)

    def step(self, real: torch.Tensor) -> torch.Tensor:
        done = int(self.iterations)
        self.weight = self.spec.cr_weight if done >= self.spec.start else 0.0
        if done == self.spec.start and done > 0:
            self._restart_critic()
        loss_cr = self._critic_step(real.shape[0])
        numbers = super().step(real)
        self.iterations.advance()
        return torch.cat([numbers, loss_cr.reshape(1)])
