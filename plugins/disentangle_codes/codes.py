"""Latent-code distributions: categorical, uniform and Gaussian, with Q's posterior families."""

from __future__ import annotations

import math
from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator

from disentangle import LatentCode, Params
from disentangle.bounds import at_most

LOG_2PI = math.log(2 * math.pi)
#: the widest code and the most categories: far beyond any paper, far below exhausting memory
MAX_DIM, MAX_CATEGORIES = 4096, 10_000
Width = Annotated[int, at_most(MAX_DIM, "a wider code would not fit in memory")]


class CategoricalParams(Params):
    k: Annotated[
        int, at_most(MAX_CATEGORIES, "more categories would not fit in memory (MNIST has 10)")
    ] = Field(10, ge=2, description="number of categories")


class Categorical(LatentCode):
    """Cat(k), one-hot in G's input; Q outputs k logits (softmax posterior)."""

    discrete = True

    def __init__(self, spec: CategoricalParams) -> None:
        self.k = spec.k
        self.dim = self.q_dim = spec.k

    def sample(self, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        index = torch.randint(self.k, (n,), generator=generator, device=device)
        return F.one_hot(index, self.k).float()

    def log_likelihood(self, q_out: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        # log_softmax on raw logits: never a softmax before it
        return (F.log_softmax(q_out.float(), dim=1) * c).sum(dim=1)

    def entropy(self) -> float:
        return math.log(self.k)

    def log_prior(self, c: torch.Tensor) -> torch.Tensor:
        return torch.full(c.shape[:1], -math.log(self.k), device=c.device)

    def traversal(self, steps: int, span: tuple[float, float]) -> torch.Tensor:
        return torch.eye(self.k)

    def representation(self, q_out: torch.Tensor) -> torch.Tensor:
        return F.softmax(q_out.float(), dim=1)


class GaussianPosterior(Params):
    """How Q's factored Gaussian gets its std."""

    posterior_std: Literal["fixed", "learned"] = Field(
        "fixed", description="fixed: std 1 (original code); learned: std = exp(Q output)"
    )
    log_std_min: float = Field(-5.0, description="clamp of a learned log-std")
    log_std_max: float = Field(2.0, description="clamp of a learned log-std")

    @model_validator(mode="after")
    def _ordered(self) -> GaussianPosterior:
        if self.log_std_min >= self.log_std_max:
            raise ValueError("log_std_min must be below log_std_max")
        return self


class ContinuousCode(LatentCode):
    """A continuous code with a factored-Gaussian posterior Q(c|x)."""

    def __init__(self, dim: int, posterior: GaussianPosterior) -> None:
        self.dim = dim
        self.learned = posterior.posterior_std == "learned"
        self.q_dim = 2 * dim if self.learned else dim
        self.log_std_range = (posterior.log_std_min, posterior.log_std_max)

    def log_likelihood(self, q_out: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        q_out = q_out.float()
        mean = q_out[:, : self.dim]
        if self.learned:
            log_std = q_out[:, self.dim :].clamp(*self.log_std_range)
        else:
            log_std = torch.zeros_like(mean)
        z = (c - mean) * torch.exp(-log_std)
        return (-0.5 * z.square() - log_std - 0.5 * LOG_2PI).sum(dim=1)

    def representation(self, q_out: torch.Tensor) -> torch.Tensor:
        return q_out[:, : self.dim].float()

    def max_log_likelihood(self) -> float:
        smallest_log_std = self.log_std_range[0] if self.learned else 0.0
        return -self.dim * (0.5 * LOG_2PI + smallest_log_std)

    def traversal(self, steps: int, span: tuple[float, float]) -> torch.Tensor:
        return torch.linspace(span[0], span[1], steps).unsqueeze(1).expand(steps, self.dim)


class UniformParams(GaussianPosterior):
    dim: Width = Field(1, ge=0, description="width (0 only as [noise]: a recipe without noise)")
    low: float = -1.0
    high: float = 1.0

    @model_validator(mode="after")
    def _bounds(self) -> UniformParams:
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


class Uniform(ContinuousCode):
    """U(low, high)^dim."""

    def __init__(self, spec: UniformParams) -> None:
        super().__init__(spec.dim, spec)
        self.low, self.high = spec.low, spec.high

    def sample(self, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        u = torch.rand(n, self.dim, generator=generator, device=device)
        return self.low + (self.high - self.low) * u

    def entropy(self) -> float:
        return self.dim * math.log(self.high - self.low)

    def log_prior(self, c: torch.Tensor) -> torch.Tensor:
        inside = ((c >= self.low) & (c <= self.high)).all(dim=1)
        density = torch.full(c.shape[:1], -self.entropy(), device=c.device)
        return density.masked_fill(~inside, -math.inf)


class GaussianParams(GaussianPosterior):
    dim: Width = Field(1, ge=0, description="width (0 only as [noise]: a recipe without noise)")
    mean: float = 0.0
    std: float = Field(1.0, gt=0, description="std of the prior")


class Gaussian(ContinuousCode):
    """N(mean, std²)^dim."""

    def __init__(self, spec: GaussianParams) -> None:
        super().__init__(spec.dim, spec)
        self.mean, self.std = spec.mean, spec.std

    def sample(self, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        return self.mean + self.std * torch.randn(n, self.dim, generator=generator, device=device)

    def entropy(self) -> float:
        return self.dim * (0.5 * (LOG_2PI + 1) + math.log(self.std))

    def log_prior(self, c: torch.Tensor) -> torch.Tensor:
        z = (c - self.mean) / self.std
        return (-0.5 * z.square() - math.log(self.std) - 0.5 * LOG_2PI).sum(dim=1)
