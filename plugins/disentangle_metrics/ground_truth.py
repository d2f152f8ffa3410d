"""Ground truth for the sampling metrics: factor sizes, factor sampling and observations."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch

from disentangle import EvalContext, GroundTruthDataset

#: images per call of the model's encoder
ENCODE_BATCH = 1024
#: the most factor combinations whose representations one evaluation keeps (8 bytes a value)
MAX_CACHED = 20_000_000
#: where `ground_truth` keeps its EncodedTruth in `EvalContext.cache`
CACHE_KEY = "disentangle_metrics.encoded_truth"

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

    @property
    def factor_sizes(self) -> tuple[int, ...]:
        """The varying factors' sizes, as the dataset knows them now (a file's own once read)."""
        return tuple(self.dataset.factor_sizes[k] for k in self._varying)

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        generator = torch.Generator().manual_seed(int(rng.integers(2**63)))
        factors = self.dataset.sample_factors(n, generator)
        return factors[:, self._varying].numpy()

    def observations(self, factors: np.ndarray) -> torch.Tensor:
        full = torch.zeros(len(factors), len(self.dataset.factor_sizes), dtype=torch.int64)
        full[:, self._varying] = torch.as_tensor(factors, dtype=torch.int64)
        return self.dataset.render(full)


class UndrawnDataset(RenderedDataset):
    """A RenderedDataset whose observations are the factor rows themselves, for an encoder
    that does not look at the images (`EvalContext.blind`): the same draws, nothing drawn."""

    def observations(self, factors: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(factors, dtype=torch.int64)


def numpy_encoder(encode: Callable[[torch.Tensor], torch.Tensor]) -> Encoder:
    """The model's encoder on uint8 images in batches, as a float64 array [n, d]."""

    @torch.no_grad()
    def run(images: torch.Tensor) -> np.ndarray:
        parts = [encode(chunk).detach().float().cpu() for chunk in images.split(ENCODE_BATCH)]
        return torch.cat(parts).double().numpy()

    return run


class EncodedTruth:
    """Ground truth whose observations are the factor rows themselves, and their encoder.

    `encode` renders and encodes only the rows it has not seen, and keeps every representation
    in a table indexed by factor combination, so the metrics of one evaluation, which draw
    millions of samples from a few hundred thousand combinations, encode each image once. The
    numbers are those of rendering and encoding every sample: the same images pass the same
    encoder (batches of other sizes change its float32 output by a few ulps at most).
    """

    def __init__(self, truth: GroundTruth, encode: Encoder) -> None:
        self.truth, self._encode = truth, encode
        #: the grid the table is laid out on: the sizes known now (a file's own are no larger)
        self._grid = truth.factor_sizes
        self._strides = np.cumprod((1, *self._grid[:0:-1]))[::-1].astype(np.int64)
        self._known = np.zeros(math.prod(self._grid), dtype=bool)
        self._table: np.ndarray | None = None
        #: distinct combinations rendered and encoded so far
        self.encoded = 0

    @property
    def factor_sizes(self) -> tuple[int, ...]:
        return self.truth.factor_sizes

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.truth.sample_factors(n, rng)

    def observations(self, factors: np.ndarray) -> np.ndarray:
        return factors

    def encode(self, factors: np.ndarray) -> np.ndarray:
        """The representation [n, d] of factor rows [n, K]; unseen rows are encoded first."""
        index = np.asarray(factors, dtype=np.int64) @ self._strides
        new = np.unique(index[~self._known[index]])
        if len(new):
            codes = self._encode(self.truth.observations(self._rows(new)))
            if self._table is None:
                self._table = np.empty((len(self._known), codes.shape[1]), dtype=codes.dtype)
            self._table[new] = codes
            self._known[new] = True
            self.encoded += len(new)
        return self._table[index]

    def _rows(self, index: np.ndarray) -> np.ndarray:
        """Factor rows [n, K] of flat combination indices [n]."""
        return np.stack(np.unravel_index(index, self._grid), axis=1)


def ground_truth(ctx: EvalContext) -> tuple[GroundTruth, Encoder]:
    """The evaluation's ground truth and encoder, encoding each image once across metrics.

    The cache lives in `ctx.cache` (one per evaluation); without one (an encoder that is not a
    function of the images, such as the chance level's noise), or for a dataset with more than
    MAX_CACHED factor combinations, every sample is rendered and encoded. A blind encoder
    (the chance level's) is handed the factor rows and nothing is rendered.
    """
    truth = (UndrawnDataset if ctx.blind else RenderedDataset)(ctx.dataset)
    encode = numpy_encoder(ctx.encode)
    if ctx.blind or ctx.cache is None or math.prod(truth.factor_sizes) > MAX_CACHED:
        return truth, encode
    if CACHE_KEY not in ctx.cache:
        ctx.cache[CACHE_KEY] = EncodedTruth(truth, encode)
    cached = ctx.cache[CACHE_KEY]
    return cached, cached.encode
