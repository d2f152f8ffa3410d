"""Sample quality: FID, Inception Score and KID of the run's generator, computed with
torch-fidelity (TensorFlow-compatible Inception v3 and resizing to 299×299, so the numbers are
comparable with the papers'), offline: the Inception weights are a file the user supplies.

The file is the standard `pt_inception-2015-12-05-6726825d.pth` (pytorch-fid's release; the
same weights torch-fidelity downloads). It is first read with torch's safe loader (tensors
only, no code), then handed to torch-fidelity. Grayscale images are repeated to 3 channels.
Real images are drawn from the run's dataset (its test split where it has one), as many as the
generated ones (or all of them when it has fewer). Their Inception features (the reference
statistics) are cached beside the dataset's prepared data, named by the count, the seed and
the weights' digest, so the next evaluation on the same data skips them.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import torch
from pydantic import Field
from safetensors import SafetensorError
from safetensors.torch import load_file

from disentangle import EvalContext, Metric, Params
from disentangle.errors import DisentangleError
from disentangle.run.checkpoint import save_tensors_atomic

ENV_VAR = "DISENTANGLE_INCEPTION_WEIGHTS"
WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + WEIGHTS_NAME
)
#: torch-fidelity's TensorFlow-compatible Inception v3, and the two outputs the metrics read
EXTRACTOR, POOL, LOGITS = "inception-v3-compat", "2048", "logits_unbiased"
BATCH = 64


class FidelityParams(Params):
    samples: int = Field(
        50_000, ge=2, description="generated images scored (and real ones); the papers: 50,000"
    )
    weights: Path | None = Field(
        None,
        description=f"the Inception weights file ({WEIGHTS_NAME}); none: {ENV_VAR}, which "
        "`eval --inception-weights` sets",
    )


def weights_path(given: Path | None = None) -> Path | None:
    """The Inception weights file: the metric's `weights` param, else the one named by
    DISENTANGLE_INCEPTION_WEIGHTS (`eval --inception-weights` sets it), else None."""
    value = os.environ.get(ENV_VAR)
    return given or (Path(value) if value else None)


def missing_weights(path: Path | None) -> str | None:
    where = (
        f"set the metric's weights param (--metric fid:weights=PATH) or pass --inception-weights "
        f"PATH (or set {ENV_VAR}) to {WEIGHTS_NAME}, from {WEIGHTS_URL}"
    )
    if path is None:
        return f"needs the Inception weights: {where}"
    if not path.is_file():
        return f"{path}: no such file; {where}"
    return None


@cache
def sha256(path: Path) -> str:
    """The weights file's digest, read once per file (it is about 100 MB)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@cache
def extractor(path: Path) -> Any:
    """torch-fidelity's Inception v3 with the weights of `path`, read safely first."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise DisentangleError(
            f"{path}: not a weights file torch can read safely ({exc})"
        ) from None
    try:
        return FeatureExtractorInceptionV3(
            EXTRACTOR, [POOL, LOGITS], feature_extractor_weights_path=str(path)
        )
    except (RuntimeError, KeyError) as exc:
        raise DisentangleError(f"{path}: not the Inception v3 weights ({exc})") from None


def features(images: torch.Tensor, path: Path) -> dict[str, torch.Tensor]:
    """The pool features [n, 2048] and unbiased logits [n, 1008] of uint8 images."""
    model = extractor(path)
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    out: dict[str, list[torch.Tensor]] = {POOL: [], LOGITS: []}
    with torch.no_grad():
        for chunk in images.split(BATCH):
            pool, logits = model(chunk.contiguous())
            out[POOL].append(pool.double())
            out[LOGITS].append(logits.double())
    return {k: torch.cat(v) for k, v in out.items()}


def fid(real: torch.Tensor, fake: torch.Tensor) -> float:
    """The Fréchet distance of the Gaussians fitted to two feature sets."""
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    stats = [fid_features_to_statistics(f) for f in (real, fake)]
    return float(fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"])


def inception_score(logits: torch.Tensor, splits: int = 10) -> tuple[float, float]:
    """Mean and std of exp(E KL(p(y|x) ‖ p(y))) over `splits` parts (the papers' 10)."""
    from torch_fidelity.metric_isc import isc_features_to_metric

    out = isc_features_to_metric(logits, splits=splits, shuffle=False)
    return float(out["inception_score_mean"]), float(out["inception_score_std"])


def kid(real: torch.Tensor, fake: torch.Tensor, subsets: int = 100, size: int = 1000) -> float:
    """The unbiased MMD² with a cubic polynomial kernel, averaged over random subsets."""
    from torch_fidelity.metric_kid import kid_features_to_metric

    size = min(size, len(real), len(fake))
    out = kid_features_to_metric(
        real, fake, kid_subsets=subsets, kid_subset_size=size, verbose=False
    )
    return float(out["kernel_inception_distance_mean"])


class Fidelity(Metric):
    """What the three metrics share: the images, their features, the protocol."""

    scores_representation = False

    def __init__(self, spec: FidelityParams) -> None:
        self.samples, self.weights = spec.samples, weights_path(spec.weights)
        self.counts = (0, 0)  # real and generated images of the last scores

    def applies(self, ctx: EvalContext) -> str | None:
        if ctx.generate is None:
            return "needs the run's generator"
        if importlib.util.find_spec("torch_fidelity") is None:
            return "needs torch-fidelity: pip install 'disentangle-toolkit[fidelity]'"
        return missing_weights(self.weights)

    def count(self, ctx: EvalContext) -> int:
        return max(2, self.samples // 20) if ctx.fast else self.samples

    def generated(self, ctx: EvalContext) -> dict[str, torch.Tensor]:
        return self._shared(
            ctx, "generated", lambda n: features(ctx.generate(n, ctx.seed), self.weights)
        )

    def real(self, ctx: EvalContext) -> dict[str, torch.Tensor]:
        def draw(n: int) -> torch.Tensor:
            images = ctx.data.images
            g = torch.Generator().manual_seed(ctx.seed)
            return images[torch.randperm(len(images), generator=g)[:n]]

        def stored(n: int) -> dict[str, torch.Tensor]:
            file = self.reference_file(ctx)
            if file is not None:
                with contextlib.suppress(OSError, SafetensorError):
                    kept = load_file(file)
                    if kept.keys() == {POOL, LOGITS} and len(kept[POOL]) == len(kept[LOGITS]):
                        return kept  # anything else in its place is recomputed and replaced
            found = features(draw(n), self.weights)
            if file is not None:  # a folder that can't be written: recomputed next time
                with contextlib.suppress(OSError):
                    save_tensors_atomic(found, file)
            return found

        return self._shared(ctx, "real", stored)

    def reference_file(self, ctx: EvalContext) -> Path | None:
        """Where the real images' features are cached: beside the dataset's prepared data."""
        prepared, path = ctx.dataset.prepared, self.weights
        if prepared is None or path is None:
            return None
        name = f"{prepared.stem}-inception-n{self.count(ctx)}-seed{ctx.seed}-{sha256(path)[:12]}"
        return prepared.with_name(f"{name}.safetensors")

    def _shared(
        self, ctx: EvalContext, kind: str, compute: Callable[[int], dict[str, torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        """The features of `count` images of one kind (`compute(count)` gives them), kept in
        the evaluation's cache."""
        n = self.count(ctx)
        key = f"fidelity/{kind}/{n}/{ctx.seed}/{self.weights}"
        cache = ctx.cache if ctx.cache is not None else {}
        if key not in cache:
            cache[key] = compute(n)
        return cache[key]

    def protocol(self, ctx: EvalContext) -> dict[str, Any]:
        """Recorded in eval.json beside the scores."""
        path = self.weights
        if path is None:
            return {}
        return {
            "real_images": self.counts[0],
            "generated_images": self.counts[1],
            "resize": "bilinear to 299×299, TensorFlow 1.x compatible (torch-fidelity)",
            "weights": path.name,
            "weights_sha256": sha256(path),
            "reference": "the run's dataset (its test split where it has one)",
            "reference_cache": str(self.reference_file(ctx) or "none"),
        }


class FID(Fidelity):
    def __call__(self, ctx: EvalContext) -> dict[str, float]:
        real, fake = self.real(ctx)[POOL], self.generated(ctx)[POOL]
        self.counts = (len(real), len(fake))
        return {"fid": fid(real, fake)}


class InceptionScore(Fidelity):
    def __call__(self, ctx: EvalContext) -> dict[str, float]:
        logits = self.generated(ctx)[LOGITS]
        self.counts = (0, len(logits))
        mean, std = inception_score(logits)
        return {"inception_score": mean, "inception_score_std": std}


class KID(Fidelity):
    def __call__(self, ctx: EvalContext) -> dict[str, float]:
        real, fake = self.real(ctx)[POOL], self.generated(ctx)[POOL]
        self.counts = (len(real), len(fake))
        return {"kid": kid(real, fake)}
