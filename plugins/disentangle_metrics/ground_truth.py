"""Ground truth for the sampling metrics: factor sizes, factor sampling and observations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch

from disentangle import GroundTruthDataset

#: images per call of the model's encoder
ENCODE_BATCH = 1024

#: observations [n, ...] -> representation float64 [n, d]
Encoder = Callable[[Any], np.ndarray]


class GroundTruth(Protocol):
    """Independent discrete factors and the observations they produce."""

    factor_sizes: tuple[int, ...]

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """`n` factor-index rows, int64 [n, K]."""

    def observations(self, factors: np.ndarray) -> Any:
        """What the encoder takes, for factor-index rows [n, K]."""


def is_ground_truth(dataset: object) -> bool:
    """Whether `dataset` renders images from sampled factors, at least two of which vary."""
    return (
        isinstance(dataset, GroundTruthDataset)
        and sum(size > 1 for size in dataset.factor_sizes) >= 2
    )


class RenderedDataset:
    """A dataset with `sample_factors` and `render` as ground truth; constant factors hidden."""

    def __init__(self, dataset: GroundTruthDataset) -> None:
        self.dataset = dataset
        self._varying = [k for k, size in enumerate(dataset.factor_sizes) if size > 1]
        self.factor_sizes = tuple(dataset.factor_sizes[k] for k in self._varying)

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        generator = torch.Generator().manual_seed(int(rng.integers(2**63)))
        factors = self.dataset.sample_factors(n, generator)
        return factors[:, self._varying].numpy()

    def observations(self, factors: np.ndarray) -> torch.Tensor:
        full = torch.zeros(len(factors), len(self.dataset.factor_sizes), dtype=torch.int64)
        full[:, self._varying] = torch.as_tensor(factors, dtype=torch.int64)
        return self.dataset.render(full)


def numpy_encoder(encode: Callable[[torch.Tensor], torch.Tensor]) -> Encoder:
    """The model's encoder on uint8 images in batches, as a float64 array [n, d]."""

    @torch.no_grad()
    def run(images: torch.Tensor) -> np.ndarray:
        parts = [encode(chunk).detach().float().cpu() for chunk in images.split(ENCODE_BATCH)]
        return torch.cat(parts).double().numpy()

    return run
