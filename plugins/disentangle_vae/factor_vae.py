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


def permutations(
    n: int, dims: int, generator: torch.Generator, device: torch.device
) -> torch.Tensor:
    """One permutation of the batch per dimension, drawn in dimension order: [n, dims]."""
    orders = [torch.randperm(n, generator=generator, device=device) for _ in range(dims)]
    return torch.stack(orders, dim=1)


def shuffle(z: torch.Tensor, orders: torch.Tensor) -> torch.Tensor:
    """Column j of z in the order of column j of `orders` (`permutations`)."""
    return torch.gather(z, 0, orders)


def shuffle_codes(z: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each dimension permuted across the batch on its own: a sample of Π_j q(z_j)."""
    return shuffle(z, permutations(len(z), z.shape[1], generator, z.device))


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
        self._critic_losses = self.updater.compiled(self._critic_loss, "TC discriminator step")

    def _loss(self, real: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The VAE's loss (with γ · TC), reconstruction, KL, TC and the sample z, the TC
        discriminator frozen (the step's first compiled region)."""
        _, _, z, reconstruction, kl = self.elbo_terms(real, noise)
        logits = self.critic(z).float()
        tc = (logits[:, 0] - logits[:, 1]).mean()
        return reconstruction + kl + self.spec.gamma * tc, reconstruction, kl, tc, z

    def _critic_loss(self, z: torch.Tensor, orders: torch.Tensor) -> torch.Tensor:
        """The discriminator's loss on the samples z and their shuffle (the second region)."""
        p_joint = F.softmax(self.critic(z), dim=1)[:, 0].clamp(1e-6, 1 - 1e-6)
        p_product = F.softmax(self.critic(shuffle(z, orders)), dim=1)[:, 1].clamp(1e-6, 1 - 1e-6)
        return -(0.5 * p_joint.log().mean() + 0.5 * p_product.log().mean())

    def step(self, real: torch.Tensor) -> torch.Tensor:
        n = real.shape[0]
        noise = self.draw_noise(n, real.device)
        orders = permutations(n, self.latent_dim, self.rng, real.device)
        with self.updater.precision():
            self.critic.requires_grad_(False)
            loss, reconstruction, kl, tc, z = self._losses(real, noise)
            self.critic.requires_grad_(True)
            # the discriminator's loss on the same samples (theirs: one graph, two optimizers)
            loss_tc = self._critic_losses(z.detach(), orders)
        # disjoint parameters: each optimizer's parameters get only their own loss's gradient
        self.updater.update(loss + loss_tc, self.opt, self.opt_tc)
        numbers = [loss, reconstruction, kl, reconstruction + kl, tc, loss_tc]
        return torch.stack(numbers).detach()
