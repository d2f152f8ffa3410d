"""The `beta_vae` method, as disentanglement_lib defines it (methods/unsupervised/vae.py:
BaseVAE.model_fn and BetaVAE; model_configs: Adam lr 1e-4, β1 0.9, β2 0.999, ε 1e-8).

One step: the encoder's means and log variances, one reparameterised sample, the decoder's
reconstruction; loss = reconstruction + β · KL(q(z|x) ‖ N(0, I)), each summed over its
dimensions and averaged over the batch. Bernoulli reconstruction: sigmoid cross entropy of the
decoder's logits (the output before its sigmoid) against the pixels in [0, 1]; l2: the squared
error of the decoded pixels. Every latent dimension (the noise's too; `dim = 0` leaves it out)
has the prior N(0, 1); evaluation reads the encoder's means of the codes' dimensions.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from disentangle import Components, Method, MethodSetup, Params
from disentangle.errors import Problem


class BetaVAEParams(Params):
    beta: float = Field(1.0, ge=0, description="weight of the KL term (1: the plain VAE)")
    reconstruction: Literal["bernoulli", "l2"] = Field(
        "bernoulli", description="bernoulli: sigmoid cross entropy (images in [0, 1]); l2"
    )
    lr: float = Field(1e-4, gt=0, description="Adam lr of encoder and decoder")
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.999, ge=0, lt=1)
    eps: float = Field(1e-8, gt=0, description="Adam's ε (TensorFlow's default, as theirs)")


def _standard_normal(code: Any) -> bool:
    return (
        not code.discrete and getattr(code, "mean", None) == 0 and getattr(code, "std", None) == 1
    )


class BetaVAE(Method):
    """Encoder (the backbone's D trunk with a head of 2 × latent outputs: means, then log
    variances) and decoder (G); logs loss, reconstruction, kl and elbo."""

    @classmethod
    def problems(cls, recipe: Any, components: Components) -> list[Problem]:
        found = []
        prior = "the VAEs' prior is N(0, 1): a gaussian code with mean 0 and std 1"
        if components.noise.dim and not _standard_normal(components.noise):
            found.append(Problem("noise.type", f"{prior} (or dim = 0 for no noise)"))
        for i, code in enumerate(components.codes):
            if not _standard_normal(code):
                found.append(Problem(f"codes[{i}].type", prior))
        bernoulli = recipe.method.reconstruction == "bernoulli"
        if bernoulli and tuple(components.value_range) != (0.0, 1.0):
            problem = "bernoulli reconstruction needs images and decoder output in [0, 1]"
            found.append(Problem("method.reconstruction", problem))
        return found

    def __init__(self, spec: BetaVAEParams, setup: MethodSetup) -> None:
        comps = setup.components
        self.spec, self.rng, self.updater = spec, setup.rng, setup.updater
        self.latent_dim, self.noise_dim = comps.latent_dim, comps.noise.dim
        self.g = comps.backbone.generator(comps.latent_dim)
        d = comps.backbone.discriminator(2 * comps.latent_dim)
        self.e = nn.Sequential(d.trunk, d.q_head)
        #: the decoder's logits: G without its output sigmoid
        self.logits = self.g[:-1] if isinstance(self.g[-1], nn.Sigmoid) else None
        # the training path: the logits when the decoder ends in a sigmoid (the same weights)
        self.updater.place(self.e, self.g if self.logits is None else self.logits)
        adam = torch.optim.Adam(
            [*self.e.parameters(), *self.g.parameters()],
            lr=spec.lr,
            betas=(spec.beta1, spec.beta2),
            eps=spec.eps,
        )
        self.opt = self.updater.optimizer(adam, self.e, self.g)
        self.networks = {"encoder": self.e, "decoder": self.g}
        self.optimizers = {"opt": self.opt}
        self.scalars = ["loss", "reconstruction", "kl", "elbo"]
        self._losses = self.updater.compiled(self._loss, "VAE step")

    def decoder(self) -> nn.Module:
        return self.g

    def _posterior(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_var = self.e(images).float().chunk(2, dim=1)
        return mean, log_var

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.posterior(images)[0]

    def posterior(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x)'s means and log variances over the codes' columns (GaussianPosterior)."""
        mean, log_var = self._posterior(images)
        return mean[:, self.noise_dim :], log_var[:, self.noise_dim :]

    def reconstruction(self, real: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """-log p(x|z) per image (up to a constant for l2), summed over pixels: [n]."""
        if self.spec.reconstruction == "bernoulli":
            if self.logits is not None:
                loss = F.binary_cross_entropy_with_logits(self.logits(z), real, reduction="none")
            else:
                loss = F.binary_cross_entropy(
                    self.g(z).clamp(1e-6, 1 - 1e-6), real, reduction="none"
                )
        else:
            loss = (self.g(z) - real).square()
        return loss.flatten(1).sum(dim=1)

    def regulariser(
        self, kl: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor, z: torch.Tensor
    ) -> torch.Tensor:
        """The term added to the reconstruction: β · KL (β-VAE)."""
        return self.spec.beta * kl

    def draw_noise(self, n: int, device: torch.device) -> torch.Tensor:
        """The reparameterisation noise of a batch of n images (the step's first draw)."""
        return torch.randn((n, self.latent_dim), generator=self.rng, device=device)

    def elbo_terms(
        self, real: torch.Tensor, noise: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The posterior's means and log variances, the reparameterised sample
        z = mean + σ · noise, and the batch means of the reconstruction loss and of
        KL(q(z|x) ‖ N(0, I))."""
        mean, log_var = self._posterior(real)
        z = mean + torch.exp(0.5 * log_var) * noise
        reconstruction = self.reconstruction(real, z).mean()
        kl = (0.5 * (mean.square() + log_var.exp() - log_var - 1).sum(dim=1)).mean()
        return mean, log_var, z, reconstruction, kl

    def _loss(self, real: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The loss, reconstruction and KL (the step's compiled region; a subclass may return
        more after them)."""
        mean, log_var, z, reconstruction, kl = self.elbo_terms(real, noise)
        return reconstruction + self.regulariser(kl, mean, log_var, z), reconstruction, kl

    def step(self, real: torch.Tensor) -> torch.Tensor:
        noise = self.draw_noise(real.shape[0], real.device)
        with self.updater.precision():
            loss, reconstruction, kl = self._losses(real, noise)
        self.updater.update(loss, self.opt)
        return torch.stack([loss, reconstruction, kl, reconstruction + kl]).detach()
