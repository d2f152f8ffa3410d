"""FID, Inception Score and KID: the numbers pinned against closed forms and known cases, and the
Inception extractor run end to end on a weights file in the real format (real keys, random
values) that the test writes."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from scipy import linalg
from support.cli import assert_clean_failure, invoke
from support.layouts import write_png_folder

from disentangle.analysis.evaluate import eval_context
from disentangle.recipe import validate_recipe
from disentangle.training.loop import train

pytest.importorskip("torch_fidelity")
from disentangle_metrics.fidelity import (
    ENV_VAR,
    FID,
    KID,
    FidelityParams,
    InceptionScore,
    fid,
    inception_score,
    kid,
)

MIX = torch.randn(8, 8, generator=torch.Generator().manual_seed(99), dtype=torch.float64)


def gaussian(n: int, mean: float, scale: float, seed: int) -> torch.Tensor:
    """n draws of a correlated 8-D Gaussian (one mixing matrix for all)."""
    g = torch.Generator().manual_seed(seed)
    return mean + scale * torch.randn(n, 8, generator=g, dtype=torch.float64) @ MIX


def test_fid_is_the_frechet_distance_of_the_fitted_gaussians() -> None:
    a, b = gaussian(2000, 0.0, 1.0, 0), gaussian(2000, 0.5, 0.7, 1)
    mu1, mu2 = a.numpy().mean(0), b.numpy().mean(0)
    s1, s2 = np.cov(a.numpy(), rowvar=False), np.cov(b.numpy(), rowvar=False)
    closed = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert fid(a, b) == pytest.approx(closed, rel=1e-6)
    assert abs(fid(a, a)) < 1e-6


def test_inception_score_of_uniform_and_of_confident_spread_predictions() -> None:
    assert inception_score(torch.zeros(1000, 10, dtype=torch.float64))[0] == pytest.approx(1.0)
    k = 5
    confident = 50.0 * torch.eye(k, dtype=torch.float64).repeat(200, 1)  # each class 1/k
    assert inception_score(confident)[0] == pytest.approx(k, rel=1e-6)


def test_kid_is_the_unbiased_mmd_with_a_cubic_kernel() -> None:
    x, y = gaussian(50, 0.0, 1.0, 2), gaussian(50, 0.3, 1.0, 3)
    d = x.shape[1]

    def k(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a @ b.T / d + 1) ** 3

    m = len(x)
    off = ~torch.eye(m, dtype=torch.bool)
    by_hand = k(x, x)[off].mean() + k(y, y)[off].mean() - 2 * k(x, y).mean()
    assert kid(x, y, subsets=1, size=m) == pytest.approx(float(by_hand), rel=1e-9)
    same = torch.tensor(
        [kid(gaussian(200, 0.0, 1.0, s), gaussian(200, 0.0, 1.0, s + 50), 20) for s in range(20)]
    )
    error = float(same.std() / math.sqrt(len(same)))
    assert abs(float(same.mean())) < 3 * error  # unbiased: no offset for equal distributions
    shifted = kid(gaussian(200, 0.0, 1.0, 0), gaussian(200, 1.0, 1.0, 50))
    assert shifted > float(same.mean()) + 10 * error


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Inception v3 weights file with the real keys and shapes, random values."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    skip_load = FeatureExtractorInceptionV3.load_state_dict
    FeatureExtractorInceptionV3.load_state_dict = lambda self, state: None  # type: ignore
    try:
        torch.manual_seed(0)
        model = FeatureExtractorInceptionV3.__new__(FeatureExtractorInceptionV3)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(
                "torch_fidelity.feature_extractor_inceptionv3.load_state_dict_from_url",
                lambda *a, **k: None,
            )
            model.__init__("inception-v3-compat", ["2048", "logits_unbiased"])
    finally:
        FeatureExtractorInceptionV3.load_state_dict = skip_load  # type: ignore
    path = tmp_path_factory.mktemp("weights") / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(model.state_dict(), path)
    return path


def test_the_extractor_scores_a_run_end_to_end(
    weights: Path, tiny_recipe: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, str(weights))
    run = train(validate_recipe(tiny_recipe), tmp_path / "run")
    ctx = eval_context(run.load(), tmp_path / "eval")
    params = FidelityParams(samples=12)
    scores = {}
    for metric in (FID(params), InceptionScore(params), KID(params)):
        assert metric.applies(ctx) is None
        scores |= metric(ctx)
        protocol = metric.protocol(ctx)
        assert protocol["weights"] == weights.name and len(protocol["weights_sha256"]) == 64
    assert scores["fid"] > 0 and math.isfinite(scores["kid"])
    assert 1.0 <= scores["inception_score"] <= 1008
    assert FID(params)(ctx) == {"fid": scores["fid"]}  # features kept, numbers repeatable


def test_without_weights_the_metrics_are_skipped_or_refused_clearly(
    tiny_recipe: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    run = train(validate_recipe(tiny_recipe), tmp_path / "run")
    code, output = invoke("eval", str(run.path), "--metric", "mig", "--fast")
    assert code == 0, output
    code, output = invoke("eval", str(run.path), "--metric", "fid")
    assert_clean_failure(
        code, output, "pt_inception-2015-12-05-6726825d.pth", "--inception-weights"
    )
    missing = tmp_path / "nope.pth"
    assert_clean_failure(
        *invoke("eval", str(run.path), "--metric", "fid", "--inception-weights", str(missing)),
        "no such file",
    )
    report = json.loads((run.path / "eval.json").read_text())
    assert "fid" not in report["metrics"]


def test_the_reference_statistics_are_cached_beside_the_prepared_data(
    weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from disentangle_metrics import fidelity

    def mean_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
        return float((real.mean(0) - fake.mean(0)).square().sum())

    # what is cached is the real images' features; the Fréchet distance of 2,048-D Gaussians
    # (seconds of eigenvalues each time; the tests above hold it) stands aside
    monkeypatch.setattr(fidelity, "fid", mean_distance)
    monkeypatch.setenv(ENV_VAR, str(weights))
    root = write_png_folder(tmp_path / "data", 24)
    recipe = {
        "noise": {"type": "uniform", "dim": 2},
        "codes": [{"type": "uniform", "name": "c"}],
        "backbone": {"type": "mnist", "width": 0.125},
        "dataset": {"type": "image_folder", "root": str(root), "resolution": 28, "channels": 1},
        "train": {"iterations": 2, "batch_size": 8, "device": "cpu", "tensorboard": False},
        "images": {"samples": 4, "traversal_rows": 2, "traversal_steps": 3},
    }
    run = train(validate_recipe(recipe), tmp_path / "run")
    params = FidelityParams(samples=10)
    first = FID(params)(eval_context(run.load(), tmp_path / "eval"))
    ctx = eval_context(run.load(), tmp_path / "eval")
    cached = FID(params).reference_file(ctx)
    assert cached is not None and cached.is_file()
    assert cached.parent == ctx.dataset.prepared.parent and str(ctx.seed) in cached.name
    calls = []
    original = fidelity.features

    def counted(images: torch.Tensor, path: Path) -> dict[str, torch.Tensor]:
        calls.append(len(images))
        return original(images, path)

    monkeypatch.setattr(fidelity, "features", counted)
    assert FID(params)(ctx) == first  # the real features read back, the generated ones made
    assert calls == [10]
    assert FID(params).protocol(ctx)["reference_cache"] == str(cached)
    cached.write_bytes(b"not safetensors")  # a damaged cache is recomputed, not trusted
    calls.clear()
    assert FID(params)(eval_context(run.load(), tmp_path / "eval")) == first
    assert calls == [10, 10]
    save_file({"other": torch.zeros(3)}, cached)  # readable, but not the features
    calls.clear()
    assert FID(params)(eval_context(run.load(), tmp_path / "eval")) == first
    assert calls == [10, 10]


def test_the_weights_are_a_metric_param(
    weights: Path, tiny_recipe: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    run = train(validate_recipe(tiny_recipe), tmp_path / "run")
    code, output = invoke("eval", str(run.path), "--metric", f"fid:weights={weights},samples=12")
    assert code == 0, output
    protocol = json.loads((run.path / "eval.json").read_text())["protocol"]["fid"]
    assert protocol["weights"] == weights.name
    assert protocol["params"] == {"samples": 12, "weights": str(weights)}
    missing = tmp_path / "nope.pth"
    assert_clean_failure(
        *invoke("eval", str(run.path), "--metric", f"inception_score:weights={missing}"),
        "no such file",
    )
