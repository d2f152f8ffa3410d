"""The metrics as plugins: params with disentanglement_lib's defaults, and Metric classes.

The scoring modules (sklearn, scipy, matplotlib) are imported on first call, so loading the
plugins stays fast.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, field_validator

from disentangle import EvalContext, Metric, Params
from disentangle_metrics.ground_truth import (
    Encoder,
    GroundTruth,
    ground_truth,
    is_ground_truth,
    numpy_encoder,
)

#: `ctx.fast` divides every sample count by this, keeping at least FAST_FLOOR (or all of them)
FAST_DIVISOR = 20
FAST_FLOOR = 100
NEEDS_GROUND_TRUTH = "needs a ground-truth dataset with render() and at least two varying factors"
NEEDS_LABELS = "needs labels and a categorical code"


def _count(n: int, ctx: EvalContext) -> int:
    """A sample count, or in fast mode a FAST_DIVISOR-th of it (at least FAST_FLOOR or all)."""
    return max(min(n, FAST_FLOOR), n // FAST_DIVISOR) if ctx.fast else n


class MIGParams(Params):
    points: int = Field(10_000, ge=2, description="sampled points")
    bins: int = Field(20, ge=2, description="histogram bins per representation dimension")


class SplitParams(Params):
    train: int = Field(10_000, ge=2, description="sampled training points")
    test: int = Field(5_000, ge=2, description="sampled test points")


class SAPParams(SplitParams):
    continuous: bool = Field(
        False, description="score factors as continuous (cov² / var var) instead of with SVMs"
    )


class ModularityParams(SplitParams):
    bins: int = Field(20, ge=2, description="histogram bins per representation dimension")


class BetaVAEParams(Params):
    batch: int = Field(64, ge=2, description="pairs averaged into one point")
    train: int = Field(10_000, ge=2, description="training points")
    eval: int = Field(5_000, ge=1, description="evaluation points")


class FactorVAEParams(Params):
    batch: int = Field(64, ge=2, description="samples sharing the fixed factor in one vote")
    train: int = Field(10_000, ge=1, description="training votes")
    eval: int = Field(5_000, ge=1, description="evaluation votes")
    var_points: int = Field(10_000, ge=2, description="points for the global variance")
    prune: float = Field(0.05, ge=0, description="dims with a global std below this are ignored")


class IRSParams(Params):
    points: int = Field(10_000, ge=2, description="sampled points")
    bins: int = Field(20, ge=2, description="histogram bins per factor")
    quantile: float = Field(
        0.99, gt=0, le=1, description="quantile of a group's deviations (1: the paper's maximum)"
    )


class UnsupervisedParams(Params):
    points: int = Field(10_000, ge=2, description="sampled points (or images)")
    bins: int = Field(20, ge=2, description="histogram bins per representation dimension")


class DownstreamParams(Params):
    sizes: list[int] = Field(
        [10, 100, 1_000, 10_000], min_length=1, description="training sizes, one task each"
    )
    test: int = Field(5_000, ge=1, description="test points per training size")

    @field_validator("sizes")
    @classmethod
    def _positive(cls, sizes: list[int]) -> list[int]:
        if min(sizes) < 1:
            raise ValueError("every training size must be at least 1")
        return sizes


class FairnessParams(Params):
    train: int = Field(10_000, ge=2, description="training points of the classifiers")
    per_value: int = Field(
        100, ge=1, description="sampled rows, each set to every value of the sensitive factor"
    )
    predictor: Literal["boosted_trees", "logistic_regression"] = Field(
        "boosted_trees", description="the classifier of each target factor"
    )


class AccuracyParams(Params):
    points: int | None = Field(
        None, ge=1, description="labelled images classified (a seeded subset); none: all"
    )


class GroundTruthMetric(Metric):
    """A metric that samples factors, renders them and encodes the images."""

    def __init__(self, spec: Params) -> None:
        self.spec = spec

    def applies(self, ctx: EvalContext) -> str | None:
        return None if is_ground_truth(ctx.dataset) else NEEDS_GROUND_TRUTH

    def __call__(self, ctx: EvalContext) -> dict[str, float]:
        rng = np.random.default_rng(ctx.seed)
        return self.score(*ground_truth(ctx), rng, ctx)

    @abstractmethod
    def score(
        self, truth: GroundTruth, encode: Encoder, rng: np.random.Generator, ctx: EvalContext
    ) -> dict[str, float]:
        """The scores, from the ground truth and the encoder."""

    def split(
        self, truth: GroundTruth, encode: Encoder, rng: np.random.Generator, ctx: EvalContext
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Train and test (codes, factors), sampled with the spec's counts."""
        from disentangle_metrics.disentanglement import sample_codes

        train = sample_codes(truth, encode, _count(self.spec.train, ctx), rng)
        test = sample_codes(truth, encode, _count(self.spec.test, ctx), rng)
        return (*train, *test)


class MIG(GroundTruthMetric):
    """Mutual information gap; a categorical code counts as one latent (its argmax)."""

    def applies(self, ctx: EvalContext) -> str | None:
        latents = sum(1 if code.discrete else code.dim for code in ctx.codes.values())
        if latents < 2:
            return (
                "the gap is between a factor's two most informative latents; this "
                f"representation has {latents}"
            )
        return super().applies(ctx)

    def score(
        self, truth: GroundTruth, encode: Encoder, rng: np.random.Generator, ctx: EvalContext
    ) -> dict[str, float]:
        from disentangle_metrics.disentanglement import mig, sample_codes

        codes, factors = sample_codes(truth, encode, _count(self.spec.points, ctx), rng)
        categorical = [ctx.code_columns[name] for name in _categorical(ctx)]
        return {"mig": mig(codes, factors, self.spec.bins, categorical)}


class DCI(GroundTruthMetric):
    """DCI disentanglement, completeness and informativeness."""

    def score(
        self, truth: GroundTruth, encode: Encoder, rng: np.random.Generator, ctx: EvalContext
    ) -> dict[str, float]:
        from disentangle_metrics.disentanglement import dci

        return dci(*self.split(truth, encode, rng, ctx), rng)


class DCIHist(GroundTruthMetric):
    """DCI with histogram gradient boosting (LightGBM): much faster, close to `dci`."""

    def score(
        self, truth: GroundTruth, encode: Encoder, rng: np.random.Generator, ctx: EvalContext
    ) -> dict[str, float]:
        from disentangle_metrics.disentanglement import dci_hist

        return dci_hist(*self.split(truth, encode, rng, ctx), rng)


class SAP(GroundTruthMetric):
    """Separated attribute predictability."""

    def score(
        self, truth: GroundTruth, encode: Encoder, rng: np.random.Generator, ctx: EvalContext
    ) -> dict[str, float]:
        from disentangle_metrics.disentanglement import sap

        return {"sap": sap(*self.split(truth, encode, rng, ctx), self.spec.continuous)}


class Modularity(GroundTruthMetric):
    """Modularity and explicitness."""

    def score(
        self, truth: GroundTruth, encode: Encoder, rng: np.random.Generator, ctx: EvalContext
    ) -> dict[str, float]:
        from disentangle_metrics.disentanglement import modularity_explicitness

        return modularity_explicitness(*self.split(truth, encode, rng, ctx), self.spec.bins)


class FactorVAE(GroundTruthMetric):
    """FactorVAE score (majority vote)."""

    def score(
        self, truth: GroundTruth, encode: Encoder, rng: np.random.Generator, ctx: EvalContext
    ) -> dict[str, float]:
        from disentangle_metrics.disentanglement import factor_vae

        s = self.spec
        return factor_vae(
            truth,
            encode,
            rng,
            batch=s.batch,
            train=_count(s.train, ctx),
            eval=_count(s.eval, ctx),
            var_points=_count(s.var_points, ctx),
            prune=s.prune,
        )


class BetaVAE(GroundTruthMetric):
    """BetaVAE score (logistic regression)."""

    def score(
        self, truth: GroundTruth, encode: Encoder, rng: np.random.Generator, ctx: EvalContext
    ) -> dict[str, float]:
        from disentangle_metrics.disentanglement import beta_vae

        s = self.spec
        return beta_vae(
            truth, encode, rng, batch=s.batch, train=_count(s.train, ctx), eval=_count(s.eval, ctx)
        )


class IRS(GroundTruthMetric):
    """Interventional robustness score."""

    def score(
        self, truth: GroundTruth, encode: Encoder, rng: np.random.Generator, ctx: EvalContext
    ) -> dict[str, float]:
        from disentangle_metrics.disentanglement import sample_codes
        from disentangle_metrics.robustness import irs

        codes, factors = sample_codes(truth, encode, _count(self.spec.points, ctx), rng)
        return irs(codes, factors, self.spec.bins, self.spec.quantile)


class Unsupervised(Metric):
    """Gaussian total and Wasserstein correlation, and the mutual-information score, of the
    representation of sampled factors (or, without ground truth, of the dataset's images)."""

    def __init__(self, spec: UnsupervisedParams) -> None:
        self.spec = spec

    def applies(self, ctx: EvalContext) -> str | None:
        width = sum(c.stop - c.start for c in ctx.code_columns.values())
        if width < 2:
            return f"the scores compare representation dimensions; this one has {width}"
        if _categorical(ctx):
            return (
                "the Gaussian scores need continuous codes: a categorical code's probabilities "
                "sum to 1, so their covariance is singular"
            )
        return None

    def __call__(self, ctx: EvalContext) -> dict[str, float]:
        from disentangle_metrics.disentanglement import sample_codes
        from disentangle_metrics.unsupervised import unsupervised_scores

        if is_ground_truth(ctx.dataset):
            rng = np.random.default_rng(ctx.seed)
            codes, _ = sample_codes(*ground_truth(ctx), _count(self.spec.points, ctx), rng)
        else:
            images = ctx.data.images
            codes = numpy_encoder(ctx.encode)(images[subset(len(images), self.spec.points, ctx)])
        return unsupervised_scores(codes, self.spec.bins)


class Downstream(GroundTruthMetric):
    """Downstream task: per factor a classifier on the representation, at several sizes."""

    predictor: ClassVar[str]
    #: what the keys start with: `tag`_`size`_…
    tag: ClassVar[str]

    def score(
        self, truth: GroundTruth, encode: Encoder, rng: np.random.Generator, ctx: EvalContext
    ) -> dict[str, float]:
        from disentangle_metrics.downstream import downstream

        # --fast makes 1,000 points 100, a size already there: each size is scored once
        sizes = tuple(dict.fromkeys(_count(n, ctx) for n in self.spec.sizes))
        scores = downstream(truth, encode, rng, self.predictor, sizes, _count(self.spec.test, ctx))
        return {f"{self.tag}_{key}": value for key, value in scores.items()}


class DownstreamLogisticRegression(Downstream):
    """Downstream task with cross-validated logistic regressions."""

    predictor = "logistic_regression"
    tag = "lr"


class DownstreamBoostedTrees(Downstream):
    """Downstream task with gradient-boosted trees."""

    predictor = "boosted_trees"
    tag = "gbt"


class Fairness(GroundTruthMetric):
    """Unfairness of a classifier of each factor under interventions on each other factor."""

    def score(
        self, truth: GroundTruth, encode: Encoder, rng: np.random.Generator, ctx: EvalContext
    ) -> dict[str, float]:
        from disentangle_metrics.downstream import fairness

        s = self.spec
        return fairness(
            truth, encode, rng, s.predictor, _count(s.train, ctx), _count(s.per_value, ctx)
        )


class Accuracy(Metric):
    """Unsupervised accuracy of each categorical code on the labels, and confusion heatmaps."""

    def __init__(self, spec: AccuracyParams) -> None:
        self.spec = spec

    def applies(self, ctx: EvalContext) -> str | None:
        if not _categorical(ctx) or ctx.data.labels is None:  # load only when it may apply
            return NEEDS_LABELS
        return None

    def __call__(self, ctx: EvalContext) -> dict[str, float]:
        from disentangle_metrics.accuracy import (
            confusion,
            hungarian_accuracy,
            majority_accuracy,
            save_confusion,
        )

        labels = ctx.data.labels
        index = subset(len(labels), self.spec.points, ctx)
        codes = numpy_encoder(ctx.encode)(ctx.data.images[index])
        truth = labels[index].numpy()
        n_labels = int(labels.max()) + 1
        names = _categorical(ctx)
        scores: dict[str, float] = {}
        for name in names:
            posterior = codes[:, ctx.code_columns[name]]
            counts = confusion(posterior.argmax(axis=1), truth, posterior.shape[1], n_labels)
            save_confusion(counts, ctx.out_dir / f"confusion_{name}.png", f"{name} × label")
            prefix = f"{name}/" if len(names) > 1 else ""
            hungarian = hungarian_accuracy(counts)
            scores[f"{prefix}accuracy_hungarian"] = hungarian
            scores[f"{prefix}accuracy_majority"] = majority_accuracy(counts)
            scores[f"{prefix}error_hungarian"] = 1 - hungarian
        return scores


def subset(total: int, points: int | None, ctx: EvalContext) -> torch.Tensor:
    """Indices of `points` of `total` images (none: all), or a seeded sorted subset."""
    n = _count(points or total, ctx)
    if n >= total:
        return torch.arange(total)
    generator = torch.Generator().manual_seed(ctx.seed)
    return torch.randperm(total, generator=generator)[:n].sort().values


def _categorical(ctx: EvalContext) -> list[str]:
    """Names of the context's categorical codes, in recipe order."""
    return [name for name, code in ctx.codes.items() if code.discrete]
