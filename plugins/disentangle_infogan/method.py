"""The `infogan` method: one InfoGAN iteration, as the original code does it: a D/Q step, then
a G step.

The D optimizer owns D's trunk, D's head and Q's head (and the estimator's parameters, if any)
and minimises the D loss − Σ λ_j L_I_j; the G optimizer owns G and minimises the non-saturating
G loss − Σ λ_j L_I_j. z and c are re-sampled for each step; real and fake batches pass D
separately. A code with λ = 0 still trains Q's head (on detached trunk features), so Q learns
to infer c without the GAN being pushed to make c informative: the paper's "regular GAN"
baseline.

`r1` (recipe: method.r1, default 0) adds Mescheder et al.'s R1 penalty to the D loss: γ/2 times
the mean over the real batch of the squared norm of the gradient of D's logit with respect to
the image. It keeps D from growing steep around the training images, the way D wins on a
small dataset; it is not in the InfoGAN paper, and with 0 the step is exactly InfoGAN's.

`augment` (recipe: method.augment, default none) passes every image D and Q see, real and
generated, in D's step and G's, through DiffAugment's random differentiable transformations
(Zhao et al., 2020; disentangle_infogan/augment.py), another remedy for D winning on few
images; Q then infers the codes from transformed images. Without it the step is InfoGAN's.

`mi_trains_trunk` (recipe: method.mi_trains_trunk, default true) and `g_latents` (recipe:
method.g_latents, default fresh) are two of the ways Natsu6767/InfoGAN-PyTorch, the most used
PyTorch port, differs from the paper's code, for measuring what each does (docs/results.md):
with `mi_trains_trunk = false` the D step's L_I trains Q's head alone, on detached trunk
features (each code at its λ, a code with λ = 0 at 1), so D's trunk learns only to tell real
from fake while G still gets L_I's gradient through it; with `g_latents = "reuse"` each G step
takes the D step's z and c instead of drawing its own.

`g_updates` (recipe: method.g_updates, default 1) runs that many G steps after each D step,
each on freshly sampled z and c (InfoGAN-CR's dSprites code runs two). With the default, the
iteration, its random draws and its result are exactly those of the single-G-step rule.

Placement, precision (bf16: autocast with one bf16 copy of each conv and linear weight of G
and D), compile and the optimizer steps are the core's updater's (disentangle/update.py):
with train.compile, D's and G's losses (`_d_loss`, `_g_loss`: G, D and Q traced with them)
are the step's two compiled regions, each fed the z and c drawn before it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

import disentangle
from disentangle import Choice, Components, Method, MethodSetup, Params
from disentangle.errors import DisentangleError, Problem
from disentangle_infogan.augment import Policy, augment

#: G's input and, code by code, its part of it
Latents = tuple[torch.Tensor, list[torch.Tensor]]


class CodeWeight(Params):
    """What InfoGAN reads beside each code: the weight of its bound."""

    lambda_: float = Field(
        1.0, alias="lambda", ge=0, description="λ, the weight of this code's L_I (InfoGAN)"
    )


class InfoGANParams(Params):
    """The paper's optimiser and schedule, the bound's estimator, and options off by default:
    for small datasets (an R1 penalty on D, DiffAugment's transformations of D's inputs) and
    for comparing with Natsu6767/InfoGAN-PyTorch. Each code's λ is written beside the code."""

    lr_d: float = Field(2e-4, gt=0, description="Adam lr of D, its trunk and Q's head")
    lr_g: float = Field(1e-3, gt=0, description="Adam lr of G")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam β1 of both optimizers")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam β2 of both optimizers")
    g_updates: int = Field(
        1, ge=1, description="G steps per D step, each on fresh z and c (InfoGAN-CR's dSprites: 2)"
    )
    estimator: Annotated[dict[str, Any], Choice("estimators")] = Field(
        {"type": "variational"},
        description="the lower bound on each code's mutual information (an `estimators` "
        "entry and its params); the paper's is `variational`",
    )
    augment: list[Policy] = Field(
        [],
        description="DiffAugment's transformations (Zhao et al., 2020), `translation` and/or "
        "`cutout`, applied to every image D and Q see, real and generated, in both steps; "
        "empty (the paper's InfoGAN) leaves the images as they are",
    )
    r1: float = Field(
        0.0,
        ge=0,
        description="γ of the R1 penalty (Mescheder et al., 2018): γ/2 · E‖∇_x D(x)‖² over the "
        "real batch, added to D's loss; 0 (the paper's InfoGAN) leaves it out",
    )
    mi_trains_trunk: bool = Field(
        True,
        description="whether L_I's gradient in D's step reaches D's trunk (the paper's code); "
        "false trains Q's head alone on it, on detached trunk features, so the trunk learns "
        "only to tell real from fake (Natsu6767/InfoGAN-PyTorch)",
    )
    g_latents: Literal["fresh", "reuse"] = Field(
        "fresh",
        description="z and c of each G step: fresh draws (the paper's code) or the D step's "
        "own (Natsu6767/InfoGAN-PyTorch)",
    )


def _gradient_penalty(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """E‖∇_x logit(x)‖² over the batch, differentiable (for R1)."""
    (grad,) = torch.autograd.grad(logits.float().sum(), images, create_graph=True)
    return grad.float().square().flatten(1).sum(1).mean()


class InfoGAN(Method):
    """G, and D with Q's head on its trunk; the step returns [D loss, G loss (adversarial
    parts), L_I per code]: the D loss and L_I are the D step's, the G loss is the mean over the
    iteration's G steps."""

    code_params = CodeWeight

    @classmethod
    def problems(cls, recipe: Any, components: Components) -> list[Problem]:
        found = []
        for i, code in enumerate(components.codes):
            if code.dim and code.q_dim == 0:
                problem = f"{recipe.codes[i].type!r} cannot be inferred by Q (use it as noise)"
                found.append(Problem(f"codes[{i}].type", problem))
        try:
            disentangle.estimators.build(recipe.method.estimator, components.codes)
        except DisentangleError as exc:
            found.append(Problem("method.estimator.type", str(exc)))
        if recipe.method.r1 and recipe.train.compile:
            problem = (
                "the R1 penalty differentiates D's gradient (a double backward), which "
                "torch.compile'd modules do not support; set train.compile = false"
            )
            found.append(Problem("method.r1", problem, repr(recipe.method.r1)))
        if recipe.method.augment and recipe.train.compile:
            problem = (
                "DiffAugment draws its transformations with the run's generator inside the "
                "step, which torch.compile cannot trace; set train.compile = false"
            )
            found.append(Problem("method.augment", problem, repr(recipe.method.augment)))
        return found

    def __init__(self, spec: InfoGANParams, setup: MethodSetup) -> None:
        comps, recipe, device = setup.components, setup.recipe, setup.device
        self.comps, self.rng, self.device = comps, setup.rng, device
        self.spec, self.updater = spec, setup.updater
        g = comps.backbone.generator(comps.latent_dim)
        d = comps.backbone.discriminator(comps.q_dim)
        est = disentangle.estimators.build(spec.estimator, comps.codes).to(device)
        self.updater.place(g, d.trunk, d.d_head, d.q_head)
        self.generator, self.discriminator, self.estimator = g, d, est
        self.opt_d = self.adam([d], spec.lr_d, extra=list(est.parameters()))
        self.opt_g = self.adam([g], spec.lr_g)
        self.networks = {"generator": g, "discriminator": d, "estimator": est}
        self.optimizers = {"opt_d": self.opt_d, "opt_g": self.opt_g}
        self.scalars = ["loss_d", "loss_g", *(f"mi.{name}" for name in comps.code_names)]

        self.g_updates, self.r1, self.policy = spec.g_updates, spec.r1, spec.augment
        self.mi_trains_trunk, self.reuse_latents = spec.mi_trains_trunk, spec.g_latents == "reuse"
        self.weights = torch.tensor([c.lambda_ for c in recipe.codes], device=device)
        self.free = (self.weights == 0).float()
        self.any_free = bool(self.free.any())
        #: the weight of each code's L_I in Q's head's own loss: λ, or 1 for a code with λ = 0
        self.q_weights = torch.where(self.weights == 0, 1.0, self.weights)
        self._d_losses = self.updater.compiled(self._d_loss, "D step")
        self._g_losses = self.updater.compiled(self._g_loss, "G step")

    def adam(
        self, modules: list[nn.Module], lr: float, extra: list[nn.Parameter] | None = None
    ) -> torch.optim.Adam:
        """Adam over the modules' parameters with the recipe's betas, fused on CPU and CUDA."""
        return self.updater.adam(modules, lr, (self.spec.beta1, self.spec.beta2), extra)

    def decoder(self) -> nn.Module:
        return self.generator

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Q's posterior per code (probabilities or means), concatenated."""
        _, q = self.discriminator(images)
        parts = self.comps.layout.split_q(q.float())
        return torch.cat(
            [c.representation(p) for c, p in zip(self.comps.codes, parts, strict=True)], dim=1
        )

    def outputs(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        logits, q = self.discriminator(images)
        return {"D's logits": logits, "Q's output": q}

    def record(self, means: list[float]) -> dict[str, Any]:
        names = self.comps.code_names
        return {
            "loss_d": means[0],
            "loss_g": means[1],
            "mi": dict(zip(names, means[2:], strict=True)),
            "entropy": dict(zip(names, self.estimator.entropies(), strict=True)),
            "ceiling": dict(zip(names, self.estimator.ceilings(), strict=True)),
        }

    def _latents(self, n: int) -> Latents:
        z = self.comps.noise.sample(n, self.rng, self.device)
        codes = [c.sample(n, self.rng, self.device) for c in self.comps.codes]
        return torch.cat([z, *codes], dim=1), codes

    def _augment(self, images: torch.Tensor) -> torch.Tensor:
        """D's input: the images through the recipe's DiffAugment policy (unchanged without)."""
        return augment(images, self.policy, self.rng)

    def _bounds(
        self, q_head: nn.Module, features: torch.Tensor, codes: list[torch.Tensor]
    ) -> torch.Tensor:
        """L_I per code from Q's head on D's trunk features (none for a plain GAN)."""
        if not codes:
            return features.new_zeros(0, dtype=torch.float32)
        return self.estimator(q_head(features), codes)

    def step(self, real: torch.Tensor) -> torch.Tensor:
        n = real.shape[0]
        adv_d, bounds, drawn = self._d_step(real)
        reused = drawn if self.reuse_latents else None
        d = self.discriminator
        d.requires_grad_(False)
        adv_g = self._g_step(n, reused)
        for _ in range(self.g_updates - 1):
            adv_g = adv_g + self._g_step(n, reused)
        d.requires_grad_(True)
        if self.g_updates > 1:
            adv_g = adv_g / self.g_updates

        return torch.cat([torch.stack([adv_d, adv_g]), bounds]).detach()

    def _d_step(self, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Latents]:
        """One D/Q step on fresh z and c (G as it is): D's adversarial loss, L_I per code, and
        the latents it drew."""
        latents, codes = self._latents(real.shape[0])
        if self.r1:
            real = real.detach().requires_grad_(True)
        with self.updater.precision():
            loss_d, adv_d, bounds = self._d_losses(real, latents, codes)
        self.updater.update(loss_d, self.opt_d)
        return adv_d, bounds, (latents, codes)

    def _d_loss(
        self, real: torch.Tensor, latents: torch.Tensor, codes: list[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """D's loss, its adversarial part and L_I per code, from the real batch and G's input
        (the compiled region of the D step)."""
        d, q_head = self.discriminator, self.discriminator.q_head
        with torch.no_grad():
            fake = self.generator(latents)
        real_logits = d.d_head(d.trunk(self._augment(real))).flatten()
        features = d.trunk(self._augment(fake))
        fake_logits = d.d_head(features).flatten()
        adv_d = (F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()).float()
        if self.mi_trains_trunk:
            bounds = self._bounds(q_head, features, codes)
            loss_d = adv_d - (self.weights * bounds).sum()
            if self.any_free:
                free_bounds = self.estimator(q_head(features.detach()), codes)
                loss_d = loss_d - (self.free * free_bounds).sum()
        else:
            bounds = self._bounds(q_head, features.detach(), codes)
            loss_d = adv_d - (self.q_weights * bounds).sum()
        if self.r1:
            loss_d = loss_d + self.r1 / 2 * _gradient_penalty(real_logits, real)
        return loss_d, adv_d, bounds

    def _g_draws(self, n: int) -> Any:
        """The random draws of a further term of each G step's loss, made after its z and c
        (none for InfoGAN; InfoGAN-CR's pairs)."""
        return None

    def _g_regulariser(self, draws: Any) -> torch.Tensor | None:
        """A further term of each G step's loss from `_g_draws`' draws (none for InfoGAN;
        InfoGAN-CR's contrastive term), computed inside the step's compiled region."""
        return None

    def _g_step(self, n: int, drawn: Latents | None = None) -> torch.Tensor:
        """One G step (D frozen) on `drawn` z and c, else on fresh ones; its adversarial
        loss, detached."""
        latents, codes = drawn if drawn is not None else self._latents(n)
        draws = self._g_draws(n)
        with self.updater.precision():
            loss_g, adv_g = self._g_losses(latents, codes, draws)
        self.updater.update(loss_g, self.opt_g)
        return adv_g.detach()

    def _g_loss(
        self, latents: torch.Tensor, codes: list[torch.Tensor], draws: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """G's loss and its adversarial part (the compiled region of the G step)."""
        d = self.discriminator
        features = d.trunk(self._augment(self.generator(latents)))
        adv_g = F.softplus(-d.d_head(features).flatten()).mean().float()
        g_bounds = self._bounds(d.q_head, features, codes)
        loss_g = adv_g - (self.weights * g_bounds).sum()
        extra = self._g_regulariser(draws)
        if extra is not None:
            loss_g = loss_g + extra
        return loss_g, adv_g
