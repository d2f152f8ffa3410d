"""The interfaces plugins implement: latent codes, backbones, datasets, MI estimators."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

ImageShape = tuple[int, int, int]
ValueRange = tuple[float, float]


class LatentCode(ABC):
    """A distribution over `dim` generator inputs, and Q's posterior family for it."""

    #: width of this code in the generator's input
    dim: int
    #: width of Q's output needed to parameterise the posterior (0: never inferred)
    q_dim: int
    #: a one-hot category (its representation: one probability per category)
    discrete: bool = False

    @abstractmethod
    def sample(self, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        """Draw `n` values as generator input, shape [n, dim]."""

    @abstractmethod
    def log_likelihood(self, q_out: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """log Q(c | x) per sample, shape [n], from Q's raw outputs [n, q_dim]."""

    @abstractmethod
    def entropy(self) -> float:
        """H(c) in nats (differential entropy for continuous codes)."""

    def max_log_likelihood(self) -> float:
        """The largest E[log Q(c|x)] Q's posterior family allows: 0 for a discrete code (all
        mass on the right category); for a Gaussian of fixed std σ, −dim·(½ log 2π + log σ)."""
        return 0.0

    def log_prior(self, c: torch.Tensor) -> torch.Tensor:
        """log p(c) per sample, shape [n], for estimators that need the prior's density (NWJ).
        Optional: a code without it cannot be used with them."""
        raise NotImplementedError

    @abstractmethod
    def traversal(self, steps: int, span: tuple[float, float]) -> torch.Tensor:
        """Values to sweep in a traversal, shape [steps, dim]; `span` is for continuous codes."""

    @abstractmethod
    def representation(self, q_out: torch.Tensor) -> torch.Tensor:
        """What Q infers, [n, dim], for metrics: probabilities or the posterior mean."""


class Backbone(ABC):
    """Builds a generator and a discriminator whose trunk Q shares."""

    #: (channels, height, width) of the images the generator makes
    image_shape: ImageShape
    #: range of the generator's output activation, e.g. (-1, 1) for tanh
    output_range: ValueRange

    @abstractmethod
    def generator(self, latent_dim: int) -> nn.Module:
        """G: [n, latent_dim] -> [n, *image_shape]."""

    @abstractmethod
    def discriminator(self, q_dim: int) -> Discriminator:
        """D with Q's head on its trunk: [n, *image_shape] -> (logits [n], q [n, q_dim])."""

    def pair_discriminator(self, outputs: int) -> nn.Module:
        """Optional (InfoGAN-CR's contrastive regulariser): a network on two images stacked on
        the channel axis, [n, 2·channels, height, width] -> [n, outputs] logits."""
        raise NotImplementedError


@dataclass
class ImageData:
    """A whole dataset in memory: uint8 images, and labels or factors when known."""

    images: torch.Tensor  # [N, C, H, W] uint8
    labels: torch.Tensor | None = None  # [N] int64 class labels
    factors: torch.Tensor | None = None  # [N, F] int64 factor indices
    factor_names: tuple[str, ...] = field(default=())
    factor_sizes: tuple[int, ...] = field(default=())
    #: the images are memory-mapped from a file: read by index, never copied whole (training
    #: moves each batch to the device instead of the whole dataset)
    on_disk: bool = False

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(
                f"images must be uint8 [N, C, H, W], got {self.images.dtype} "
                f"{tuple(self.images.shape)}"
            )


class Dataset(ABC):
    """A dataset: its shape is known before loading, so recipes validate without the data."""

    image_shape: ImageShape
    factor_names: tuple[str, ...] = ()
    factor_sizes: tuple[int, ...] = ()
    #: the file its prepared data is cached in, if any: what is derived from the data (e.g. the
    #: Inception reference statistics of FID) is cached beside it
    prepared: Path | None = None

    @abstractmethod
    def load(self) -> ImageData:
        """Read the data (raises DatasetError naming the expected layout when it is missing)."""


class GroundTruthDataset(Dataset):
    """A dataset that draws its images from independent discrete factors, on demand."""

    @abstractmethod
    def sample_factors(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """`n` factor-index rows drawn independently per factor, int64 [n, K]."""

    @abstractmethod
    def render(self, factors: torch.Tensor) -> torch.Tensor:
        """The images of factor-index rows [n, K], uint8 [n, C, H, W]."""


class Discriminator(nn.Module):
    """D and Q on one trunk: the trunk's features feed D's logit head and Q's head."""

    def __init__(self, trunk: nn.Module, d_head: nn.Module, q_head: nn.Module) -> None:
        super().__init__()
        self.trunk, self.d_head, self.q_head = trunk, d_head, q_head

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.trunk(x)
        return self.d_head(features).flatten(), self.q_head(features)


class MIEstimator(nn.Module, ABC):
    """Estimates I(c_j; G(z, c)) for each code from Q's outputs on generated images."""

    @abstractmethod
    def forward(self, q_out: torch.Tensor, codes: list[torch.Tensor]) -> torch.Tensor:
        """Lower bounds L_I per code in nats, shape [n_codes]; q_out is [n, sum of q_dims]."""

    @abstractmethod
    def entropies(self) -> list[float]:
        """H(c) of each code: the ceiling of L_I for a discrete code."""

    def ceilings(self) -> list[float]:
        """The largest L_I of each code that the estimator can report (default: H(c))."""
        return self.entropies()


@dataclass
class EvalContext:
    """What a metric gets: the trained model's encoder, the data, and where to write figures."""

    #: uint8 images [n, C, H, W] -> the representation [n, d] (Q's posterior for InfoGAN)
    encode: Callable[[torch.Tensor], torch.Tensor]
    #: the run's dataset (a GroundTruthDataset renders images of sampled factors)
    dataset: Dataset
    #: loads the data (labels and factors when known), read through `data`; evaluate() makes
    #: it load once, on first use, so metrics that only sample factors never load the dataset
    load: Callable[[], ImageData]
    #: which representation columns belong to which code
    code_columns: dict[str, slice]
    #: the codes, in recipe order (e.g. to find the categorical ones)
    codes: dict[str, LatentCode]
    #: where a metric writes its PNGs
    out_dir: Path
    seed: int = 0
    #: fewer samples, for tests and smoke runs
    fast: bool = False
    #: what the metrics of one evaluation share (e.g. representations already encoded, keyed
    #: by the plugin's own names); None when `encode` is not a function of the images (the
    #: chance level's noise), so that nothing of it may be reused
    cache: dict[str, Any] | None = None
    #: `encode` returns what it draws without looking at the images (the chance level's
    #: noise): a metric may hand it one row per image (e.g. the factors) instead of rendering
    blind: bool = False
    #: (n, seed) -> n images from the run's generator, uint8 [n, C, H, W], for sample-quality
    #: metrics; None where there is no generator
    generate: Callable[[int, int], torch.Tensor] | None = None

    @property
    def data(self) -> ImageData:
        """The dataset's images, labels and factors (`load()`)."""
        return self.load()


class Metric(ABC):
    """A quantitative evaluation; returns named numbers (and may write figures)."""

    #: whether the metric scores the representation (`encode`): only those get a chance level,
    #: scored on noise in place of the representation; sample-quality metrics do not
    scores_representation: bool = True

    @abstractmethod
    def applies(self, ctx: EvalContext) -> str | None:
        """None when the metric can run on this context, else the reason it cannot."""

    @abstractmethod
    def __call__(self, ctx: EvalContext) -> dict[str, float]:
        """The scores, e.g. {"mig": 0.21}."""

    def protocol(self, ctx: EvalContext) -> dict[str, Any]:
        """How the last scores were measured, recorded in eval.json beside them (optional)."""
        return {}
