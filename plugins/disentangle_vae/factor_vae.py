"""The `factor_vae` method, as disentanglement_lib defines it (methods/unsupervised/vae.py:
FactorVAE and shuffle_codes; methods/shared/architectures.py: fc_discriminator; its FactorVAE
config: discriminator Adam lr 1e-4, β1 0.5, β2 0.9; γ swept over 10 to 100).

The VAE minimises reconstruction + KL + γ · TC, TC estimated by a discriminator between
samples of q(z) and of the product of its marginals (each dimension permuted across the batch)
as E[logit_q − logit_product]; the discriminator (six FC1000 leaky-ReLU layers, 2 logits) is
trained at the same time, from the same forward pass, on its log-likelihood of telling them
apart, with its own Adam.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from disentangle import MethodSetup
from disentangle_vae.beta_vae import BetaVAE, BetaVAEParams


class FactorVAEParams(BetaVAEParams):
    gamma: float = Field(10.0, ge=0, description="weight of the TC term (their sweep: 10 to 100)")
    lr_tc: float = Field(1e-4, gt=0, description="Adam lr of the TC discriminator")
    beta1_tc: float = Field(0.5, ge=0, lt=1)
    beta2_tc: float = Field(0.9, ge=0, lt=1)


def tc_discriminator(latents: int) -> nn.Sequential:
    """Their fc_discriminator: six FC1000 → leaky ReLU (TensorFlow's slope, 0.2), 2 logits;
    Glorot-uniform weights, zero biases."""
    layers: list[nn.Module] = []
    width = latents
    for _ in range(6):
        layers += [nn.Linear(width, 1000), nn.LeakyReLU(0.2)]
        width = 1000
    net = nn.Sequential(*layers, nn.Linear(1000, 2))
    for m in net:
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return net


def shuffle_codes(z: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each dimension permuted across the batch on its own: a sample of Π_j q(z_j)."""
    columns = [
        column[torch.randperm(len(z), generator=generator, device=z.device)]
        for column in z.unbind(dim=1)
    ]
    return torch.stack(columns, dim=1)


class FactorVAE(BetaVAE):
    """The VAE, its TC discriminator (`tc_discriminator`, optimizer `opt_tc`); logs β-VAE's
    numbers (loss with γ · TC, and the elbo), `tc` and the discriminator's `loss_tc`."""

    def __init__(self, spec: FactorVAEParams, setup: MethodSetup) -> None:
        super().__init__(spec, setup)
        self.critic = tc_discriminator(self.latent_dim)
        self.updater.place(self.critic)
        adam = torch.optim.Adam(
            self.critic.parameters(), lr=spec.lr_tc, betas=(spec.beta1_tc, spec.beta2_tc)
        )
        self.opt_tc = self.updater.optimizer(adam, self.critic)
        self.networks["tc_discriminator"] = self.critic
        self.optimizers["opt_tc"] = self.opt_tc
        self.scalars += ["tc", "loss_tc"]

    def step(self, real: torch.Tensor) -> torch.Tensor:
        with self.updater.precision():
            _, _, z, reconstruction, kl = self.elbo_terms(real)
            shuffled = shuffle_codes(z.detach(), self.rng)
            self.critic.requires_grad_(False)
            logits = self.critic(z).float()
            self.critic.requires_grad_(True)
            tc = (logits[:, 0] - logits[:, 1]).mean()
            loss = reconstruction + kl + self.spec.gamma * tc
            # the discriminator's loss on the same samples (theirs: one graph, two optimizers)
            p_joint = F.softmax(self.critic(z.detach()), dim=1)[:, 0].clamp(1e-6, 1 - 1e-6)
            p_product = F.softmax(self.critic(shuffled), dim=1)[:, 1].clamp(1e-6, 1 - 1e-6)
            loss_tc = -(0.5 * p_joint.log().mean() + 0.5 * p_product.log().mean())
        # disjoint parameters: each optimizer's parameters get only their own loss's gradient
        self.updater.update(loss + loss_tc, self.opt, self.opt_tc)
        numbers = [loss, reconstruction, kl, reconstruction + kl, tc, loss_tc]
        return torch.stack(numbers).detach()
