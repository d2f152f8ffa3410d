"""An example third-party plugin: a Bernoulli latent code, a tiny MLP backbone, an
autoencoder method, a β-VAE with a cyclical β (built on the `vae` plugin's β-VAE) and an
`active_units` metric with a parameter."""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from disentangle_vae import BetaVAE, BetaVAEParams
from pydantic import Field
from torch import nn

from disentangle import (
    Backbone,
    Discriminator,
    EvalContext,
    Iterations,
    LatentCode,
    Method,
    MethodSetup,
    Metric,
    Params,
    hookimpl,
)

#: the plugins this one builds on (entry-point names): loaded first, or this one is skipped
requires = ["vae"]

OUTPUT_RANGE = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}


class BernoulliParams(Params):
    dim: int = Field(1, ge=1, description="number of independent binary values")


class Bernoulli(LatentCode):
    """Bernoulli(1/2)^dim with values in {0, 1}; Q outputs one logit per value."""

    def __init__(self, spec: BernoulliParams) -> None:
        self.dim = self.q_dim = spec.dim

    def sample(self, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        return torch.randint(2, (n, self.dim), generator=generator, device=device).float()

    def log_likelihood(self, q_out: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        bce = F.binary_cross_entropy_with_logits(q_out.float(), c, reduction="none")
        return -bce.sum(dim=1)

    def entropy(self) -> float:
        return self.dim * math.log(2)

    def traversal(self, steps: int, span: tuple[float, float]) -> torch.Tensor:
        return torch.tensor([[0.0], [1.0]]).expand(2, self.dim)

    def representation(self, q_out: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(q_out.float())


class TinyMlpParams(Params):
    hidden: int = Field(256, ge=1, description="width of the hidden layers of G and D")
    image_size: int = Field(28, ge=1, description="side of the square images")
    channels: int = Field(1, ge=1)
    output: Literal["tanh", "sigmoid"] = Field("sigmoid", description="G's output activation")


class TinyMlp(Backbone):
    """G: FC → ReLU → FC → ReLU → FC → output; D/Q trunk: FC → lReLU → FC → lReLU."""

    def __init__(self, spec: TinyMlpParams) -> None:
        self.spec = spec
        self.image_shape = (spec.channels, spec.image_size, spec.image_size)
        self.output_range = OUTPUT_RANGE[spec.output]
        self.pixels = math.prod(self.image_shape)

    def generator(self, latent_dim: int) -> nn.Module:
        h = self.spec.hidden
        return nn.Sequential(
            nn.Linear(latent_dim, h),
            nn.ReLU(),
            nn.Linear(h, h),
            nn.ReLU(),
            nn.Linear(h, self.pixels),
            nn.Tanh() if self.spec.output == "tanh" else nn.Sigmoid(),
            nn.Unflatten(1, self.image_shape),
        )

    def discriminator(self, q_dim: int) -> Discriminator:
        h = self.spec.hidden
        trunk = nn.Sequential(
            nn.Flatten(),
            nn.Linear(self.pixels, h),
            nn.LeakyReLU(0.2),
            nn.Linear(h, h),
            nn.LeakyReLU(0.2),
        )
        return Discriminator(trunk, nn.Linear(h, 1), nn.Linear(h, q_dim))


class AutoencoderParams(Params):
    lr: float = Field(1e-3, gt=0, description="Adam learning rate of the encoder and decoder")


class Autoencoder(Method):
    """A deterministic autoencoder on any backbone: D's trunk with a head as wide as the latent
    vector encodes, G decodes, and one Adam optimizer minimises the pixels' squared error."""

    def __init__(self, spec: AutoencoderParams, setup: MethodSetup) -> None:
        comps, self.updater = setup.components, setup.updater
        self.codes_start = comps.noise.dim  # the codes follow the noise in the latent vector
        self.g = comps.backbone.generator(comps.latent_dim)
        d = comps.backbone.discriminator(comps.latent_dim)
        self.e = nn.Sequential(d.trunk, d.q_head)  # D's trunk, a head as wide as the latents
        self.updater.place(self.g, self.e)
        adam = torch.optim.Adam([*self.g.parameters(), *self.e.parameters()], lr=spec.lr)
        self.opt = self.updater.optimizer(adam, self.g, self.e)
        self.networks = {"decoder": self.g, "encoder": self.e}
        self.optimizers = {"opt": self.opt}
        self.scalars = ["loss_reconstruction"]
        # the part of the step that train.compile compiles (tensors in, the loss out)
        self.loss = self.updater.compiled(self.reconstruction_error, "autoencoder step")

    def reconstruction_error(self, real: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(self.g(self.e(real)).float(), real)

    def step(self, real: torch.Tensor) -> torch.Tensor:
        with self.updater.precision():
            loss = self.loss(real)
        self.updater.update(loss, self.opt)
        return loss.detach().reshape(1)

    def decoder(self) -> nn.Module:
        return self.g

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.e(images)[:, self.codes_start :].float()


class CyclicalBetaVAEParams(BetaVAEParams):
    cycle: int = Field(1000, ge=1, description="iterations per cycle of β: 0 up to beta")


class CyclicalBetaVAE(BetaVAE):
    """β-VAE whose β rises linearly from 0 to `beta` over each cycle (Fu et al. 2019)."""

    def __init__(self, spec: CyclicalBetaVAEParams, setup: MethodSetup) -> None:
        super().__init__(spec, setup)
        self.iterations = Iterations().to(setup.device)
        self.networks["schedule"] = self.iterations  # checkpointed: a resume keeps the phase

    def regulariser(self, kl, mean, log_var, z):
        # a tensor, not int(self.iterations): the compiled step reads it without leaving its graph
        phase = (self.iterations.count % self.spec.cycle).double() / self.spec.cycle
        return (phase * self.spec.beta).to(kl.dtype) * kl

    def step(self, real: torch.Tensor) -> torch.Tensor:
        numbers = super().step(real)
        self.iterations.advance()
        return numbers


class ActiveUnitsParams(Params):
    threshold: float = Field(0.01, gt=0, description="variance above which a unit is active")


class ActiveUnits(Metric):
    """The share of the representation's units whose variance over images is above
    `threshold` (a collapsed unit does not vary)."""

    def __init__(self, spec: ActiveUnitsParams) -> None:
        self.threshold = spec.threshold

    def applies(self, ctx: EvalContext) -> str | None:
        return None

    def __call__(self, ctx: EvalContext) -> dict[str, float]:
        z = ctx.encode(ctx.data.images[: 256 if ctx.fast else 2048]).float()
        return {"active_units": (z.var(dim=0) > self.threshold).float().mean().item()}


@hookimpl
def register_methods(register):
    register("autoencoder", Autoencoder, AutoencoderParams)
    register("cyclical_beta_vae", CyclicalBetaVAE, CyclicalBetaVAEParams)


@hookimpl
def register_metrics(register):
    register("active_units", ActiveUnits, ActiveUnitsParams)


@hookimpl
def register_codes(register):
    register("bernoulli", Bernoulli, BernoulliParams)


@hookimpl
def register_backbones(register):
    register("tiny_mlp", TinyMlp, TinyMlpParams)
