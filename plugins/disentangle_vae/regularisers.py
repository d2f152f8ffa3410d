"""The annealed VAE, β-TCVAE and DIP-VAE methods: β-VAE's step with disentanglement_lib's
regularisers (methods/unsupervised/vae.py: AnnealedVAE and anneal, BetaTCVAE and
total_correlation, DIPVAE, compute_covariance_z_mean and regularize_diag_off_diag_dip)."""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from pydantic import Field, model_validator

from disentangle import Components, Iterations, MethodSetup
from disentangle.errors import Problem
from disentangle_vae.beta_vae import BetaVAE, BetaVAEParams


def gaussian_log_density(samples: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor):
    """log N(samples; mean, exp(log_var)), elementwise."""
    return -0.5 * (
        (samples - mean).square() * torch.exp(-log_var) + log_var + math.log(2 * math.pi)
    )


def total_correlation(z: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """The minibatch-weighted estimate of TC(z) on a batch, without its constant
    ((latents − 1) · log(batch · dataset size), which no gradient sees), as theirs."""
    log_qz_prob = gaussian_log_density(z.unsqueeze(1), mean.unsqueeze(0), log_var.unsqueeze(0))
    log_qz_product = torch.logsumexp(log_qz_prob, dim=1).sum(dim=1)
    log_qz = torch.logsumexp(log_qz_prob.sum(dim=2), dim=1)
    return (log_qz - log_qz_product).mean()


def stratified_log_weights(batch: int, dataset_size: int) -> torch.Tensor:
    """log of minibatch-stratified sampling's importance weights [batch, batch] (Chen et al.
    2018, appendix C.2): row i estimates q(z_i) from the batch's posteriors q(z_i | x_j),
    weighing its own image 1/N, the next one (cyclically) (N − M)/(NM) and the other M − 1
    images 1/M (M = batch − 1): each row sums to 1. Their code (and pythae, which copies it)
    puts 1/N in column 0 and (N − M)/(NM) in column 1 of every row instead, whatever image a
    row's z came from (rtqichen/beta-tcvae pull request 1)."""
    n, m = dataset_size, batch - 1
    weights = torch.full((batch, batch), 1 / m, dtype=torch.float64)
    rows = torch.arange(batch)
    weights[rows, rows] = 1 / n
    weights[rows, (rows + 1) % batch] = (n - m) / (n * m)
    return weights.log()


def total_correlation_stratified(
    z: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor, dataset_size: int
) -> torch.Tensor:
    """The minibatch-stratified estimate of TC(z) on a batch (Chen et al. 2018), for a
    dataset of `dataset_size` images: its weights are not a constant shift, so N matters."""
    log_qz_prob = gaussian_log_density(z.unsqueeze(1), mean.unsqueeze(0), log_var.unsqueeze(0))
    weights = stratified_log_weights(z.shape[0], dataset_size).to(log_qz_prob)
    log_qz = torch.logsumexp(weights + log_qz_prob.sum(dim=2), dim=1)
    log_qz_product = torch.logsumexp(weights.unsqueeze(2) + log_qz_prob, dim=1).sum(dim=1)
    return (log_qz - log_qz_product).mean()


class BetaTCVAEParams(BetaVAEParams):
    beta: float = Field(1.0, ge=0, description="weight of the total correlation (1: the plain VAE)")
    tc_estimator: Literal["weighted", "stratified"] = Field(
        "weighted",
        description="TC's batch estimate: minibatch-weighted sampling (dlib and disent; pythae "
        "with use_mss = false) or minibatch-stratified (Chen et al.'s appendix C.2; pythae's "
        "default, use_mss = true, has their code's weights)",
    )
    dataset_size: int | None = Field(
        None, ge=2, description="N, the training images, which the stratified estimate weighs by"
    )


class BetaTCVAE(BetaVAE):
    """KL + (β − 1) · TC: the KL's total-correlation part weighted by β."""

    @classmethod
    def problems(cls, recipe: Any, components: Components) -> list[Problem]:
        found = super().problems(recipe, components)
        spec, batch = recipe.method, recipe.train.batch_size
        size, where = spec.dataset_size, "method.dataset_size"
        if spec.tc_estimator == "weighted":
            if size is not None:
                problem = (
                    'only tc_estimator = "stratified" uses it (the weighted estimate\'s N is a '
                    "constant that no gradient sees)"
                )
                found.append(Problem(where, problem, str(size)))
        elif size is None:
            problem = (
                'tc_estimator = "stratified" weighs the batch by the number of training '
                "images: set it (dSprites: 737280)"
            )
            found.append(Problem(where, problem))
        elif size < batch:
            problem = f"the stratified estimate draws a batch of it (train.batch_size = {batch})"
            found.append(Problem(where, problem, str(size)))
        elif batch < 2:
            problem = "the stratified estimate weighs each image by the batch's others"
            found.append(Problem("train.batch_size", problem, str(batch)))
        return found

    def regulariser(
        self, kl: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor, z: torch.Tensor
    ) -> torch.Tensor:
        spec = self.spec
        if spec.tc_estimator == "stratified":
            tc = total_correlation_stratified(z, mean, log_var, spec.dataset_size)
        else:
            tc = total_correlation(z, mean, log_var)
        return kl + (spec.beta - 1) * tc


def covariance(mean: torch.Tensor) -> torch.Tensor:
    """Cov[μ(x)] over the batch: E[μ μᵀ] − E[μ] E[μ]ᵀ."""
    centre = mean.mean(dim=0)
    return (mean.unsqueeze(2) * mean.unsqueeze(1)).mean(dim=0) - torch.outer(centre, centre)


def dip_penalty(cov: torch.Tensor, lambda_od: float, lambda_d: float) -> torch.Tensor:
    """λ_od · Σ off-diagonal² + λ_d · Σ (diagonal − 1)²."""
    diagonal = torch.diagonal(cov)
    off_diagonal = cov - torch.diag(diagonal)
    return lambda_od * off_diagonal.square().sum() + lambda_d * (diagonal - 1).square().sum()


class DIPVAEParams(BetaVAEParams):
    dip_type: Literal["i", "ii"] = Field(
        "i", description="i: the covariance of the means; ii: of the aggregate posterior"
    )
    lambda_od: float = Field(1.0, ge=0, description="weight of the off-diagonal terms")
    lambda_d_factor: float | None = Field(
        None, ge=0, description="λ_d / λ_od; none: 10 for DIP-VAE-I, 1 for II (theirs)"
    )

    @model_validator(mode="after")
    def _factor(self) -> DIPVAEParams:
        if self.lambda_d_factor is None:
            self.lambda_d_factor = 10.0 if self.dip_type == "i" else 1.0
        return self


class DIPVAE(BetaVAE):
    """KL + the DIP penalty on Cov[μ(x)] (I) or on Cov[z] = E[diag σ²(x)] + Cov[μ(x)] (II)."""

    def regulariser(
        self, kl: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor, z: torch.Tensor
    ) -> torch.Tensor:
        s = self.spec
        cov = covariance(mean)
        if s.dip_type == "ii":
            cov = cov + torch.diag(log_var.exp().mean(dim=0))
        return kl + dip_penalty(cov, s.lambda_od, s.lambda_d_factor * s.lambda_od)


class AnnealedVAEParams(BetaVAEParams):
    gamma: float = Field(1000.0, ge=0, description="weight of |KL − C| (theirs: 1000)")
    c_max: float = Field(
        25.0, ge=0, description="the capacity C reached, in nats (their sweep: 5 to 100)"
    )
    iteration_threshold: int = Field(
        100_000, ge=1, description="iterations over which C grows linearly from 0 to c_max"
    )


class AnnealedVAE(BetaVAE):
    """γ · |KL − C|, the capacity C = min(c_max, c_max · iteration / iteration_threshold)
    (Burgess et al. 2018); the iteration count is a checkpointed part, `schedule`."""

    def __init__(self, spec: AnnealedVAEParams, setup: MethodSetup) -> None:
        super().__init__(spec, setup)
        self.iterations = Iterations().to(setup.device)
        self.networks["schedule"] = self.iterations

    def capacity(self) -> torch.Tensor:
        """C at this iteration (float64, as the Python arithmetic of theirs), a tensor so that
        the compiled step reads it from the schedule without leaving its graph."""
        s = self.spec
        grown = self.iterations.count.double() * s.c_max / s.iteration_threshold
        return grown.clamp(max=s.c_max)

    def regulariser(
        self, kl: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor, z: torch.Tensor
    ) -> torch.Tensor:
        return self.spec.gamma * (kl - self.capacity().to(kl.dtype)).abs()

    def step(self, real: torch.Tensor) -> torch.Tensor:
        numbers = super().step(real)
        self.iterations.advance()
        return numbers
