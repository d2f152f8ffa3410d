"""The metrics plugin: disentanglement_lib's sanity cases, hand-computed cases, accuracy."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import disentangle_metrics
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from disentangle_codes.codes import Categorical, CategoricalParams, Uniform, UniformParams
from disentangle_metrics import parallel
from disentangle_metrics.accuracy import (
    confusion,
    hungarian_accuracy,
    majority_accuracy,
    save_confusion,
)
from disentangle_metrics.disentanglement import (
    beta_vae,
    completeness,
    dci,
    dci_hist,
    disentanglement,
    factor_vae,
    mig,
    modularity,
    modularity_explicitness,
    sample_codes,
    sap,
)
from disentangle_metrics.ground_truth import (
    EncodedTruth,
    Encoder,
    RenderedDataset,
    ground_truth,
    numpy_encoder,
)
from disentangle_metrics.information import discretize, entropies, mutual_information
from disentangle_metrics.metrics import NEEDS_GROUND_TRUTH, NEEDS_LABELS
from sklearn.metrics import mutual_info_score

from disentangle import EvalContext, ImageData
from disentangle.plugins import ENV_VAR, PluginHost

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
METRICS = ["accuracy", "beta_vae", "dci", "dci_hist", "factor_vae", "mig", "modularity", "sap"]
SAMPLE_QUALITY = ["fid", "inception_score", "kid"]  # tests/plugins/metrics/test_fidelity.py
#: disentanglement_lib's further scores (their functions: tests/plugins/metrics/test_dlib_scores.py)
FURTHER = [
    "downstream_task_boosted_trees",
    "downstream_task_logistic_regression",
    "fairness",
    "irs",
    "unsupervised",
]


class Synthetic:
    """Three independent factors of sizes 3, 4, 5 whose observations are the factors."""

    factor_sizes = (3, 4, 5)

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.stack([rng.integers(size, size=n) for size in self.factor_sizes], axis=1)

    def observations(self, factors: np.ndarray) -> np.ndarray:
        return factors.astype(np.float64)


def perfect(observations: np.ndarray) -> np.ndarray:
    return observations


def duplicated(observations: np.ndarray) -> np.ndarray:
    """Factor 0 twice, then the other factors."""
    return np.concatenate([observations[:, :1], observations], axis=1)


def noise(seed: int = 1, dims: int = 3) -> Encoder:
    """A representation independent of the observations: standard normal noise."""
    generator = np.random.default_rng(seed)
    return lambda observations: generator.normal(size=(len(observations), dims))


def split(encode: Encoder, train: int = 500, test: int = 250, seed: int = 0) -> tuple:
    """Train and test (codes, factors) of the synthetic ground truth."""
    rng = np.random.default_rng(seed)
    return (
        *sample_codes(Synthetic(), encode, train, rng),
        *sample_codes(Synthetic(), encode, test, rng),
    )


# --- information helpers and hand-computed cases -------------------------------------------


def test_discretize_uses_equal_width_bins_per_column() -> None:
    # 2 bins over [0, 1]: left edges 0 and 0.5, so 0 -> bin 1, 0.5 and 1 -> bin 2
    codes = np.array([[0.0, 10.0], [0.5, 30.0], [1.0, 20.0]])
    assert discretize(codes, bins=2).tolist() == [[1, 1], [2, 2], [2, 2]]


def test_mig_reads_a_categorical_code_as_one_latent() -> None:
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 3, size=(600, 2))
    one_hot = np.eye(3)[factors[:, 0]]  # a perfect categorical code for factor 0
    codes = np.concatenate([one_hot, factors[:, 1:] + rng.uniform(0, 0.1, (600, 1))], axis=1)
    assert mig(codes, factors, categorical=[slice(0, 3)]) == pytest.approx(1.0, abs=0.01)
    # its columns one by one tie with each other: no gap for factor 0
    assert mig(codes, factors) == pytest.approx(0.5, abs=0.01)


def test_mig_hand_computed() -> None:
    # y1, y2 binary, the 4 combinations once each; z1 = y1, z2 = y1 + 2 y2 (4 distinct values).
    # MI(z1, y1) = ln 2, MI(z1, y2) = 0, MI(z2, y1) = MI(z2, y2) = ln 2, H(y1) = H(y2) = ln 2.
    # gap(y1) = (ln 2 − ln 2) / ln 2 = 0, gap(y2) = (ln 2 − 0) / ln 2 = 1 -> MIG = 0.5
    factors = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    codes = np.stack([factors[:, 0], factors[:, 0] + 2 * factors[:, 1]], axis=1).astype(float)
    ln2 = math.log(2)
    mi = mutual_information(discretize(codes), factors)
    np.testing.assert_allclose(mi, [[ln2, 0], [ln2, ln2]], atol=1e-12)
    np.testing.assert_allclose(entropies(factors), [ln2, ln2])
    assert mig(codes, factors) == pytest.approx(0.5)


def test_mutual_information_matches_sklearn_pair_by_pair() -> None:
    rng = np.random.default_rng(0)
    factors = np.stack([rng.integers(0, k, size=2_000) for k in (2, 7, 40)], axis=1)
    codes = rng.integers(-3, 17, size=(2_000, 4))  # any integer labels, not only 0..n − 1
    codes[:, 0] = factors[:, 2] // 3  # informative about factor 2
    codes[:, 1] = 5  # constant: no information
    codes[:, 2] = 100 * factors[:, 0] + codes[:, 3]  # sparse label values
    expected = [[mutual_info_score(y, c) for y in factors.T] for c in codes.T]
    np.testing.assert_allclose(mutual_information(codes, factors), expected, atol=1e-12)
    expected = [mutual_info_score(y, y) for y in factors.T]
    np.testing.assert_allclose(entropies(factors), expected, atol=1e-12)


def test_dci_hand_computed() -> None:
    # R = [[0.75, 0.25], [0, 1]] (codes × factors), total 2.
    # code 0: P = (3/4, 1/4), 1 − H2 = 1 − 0.811278; code 1: P = (0, 1), 1 − H2 = 1; ρ = (1/2, 1/2)
    # factor 0: P = (1, 0), 1 − H2 = 1; factor 1: P = (1/5, 4/5), 1 − H2 = 1 − 0.721928;
    # factor shares (0.75 / 2, 1.25 / 2)
    def h2(*p: float) -> float:
        return -sum(q * math.log2(q) for q in p)

    importance = np.array([[0.75, 0.25], [0.0, 1.0]])
    d = 0.5 * (1 - h2(0.75, 0.25)) + 0.5 * 1
    c = 0.375 * 1 + 0.625 * (1 - h2(0.2, 0.8))
    assert disentanglement(importance) == pytest.approx(d, abs=1e-6)  # 0.594361
    assert completeness(importance) == pytest.approx(c, abs=1e-6)  # 0.548795
    # one code carries both factors: uninformative per code, but each factor is complete
    both = np.array([[1.0, 1.0], [0.0, 0.0]])
    assert disentanglement(both) == pytest.approx(0, abs=1e-6)
    assert completeness(both) == pytest.approx(1, abs=1e-6)


def test_modularity_hand_computed() -> None:
    # rows m²: (1, 0, 0) -> 1; (1, 1, 0) -> 1 − 1 / (1 · 2) = 0.5; (4, 1, 1) -> 1 − 2 / (4 · 2)
    # = 0.75; (0, 0, 0) -> 0 by definition; mean = 2.25 / 4
    mi = np.array([[1.0, 0, 0], [1, 1, 0], [2, 1, 1], [0, 0, 0]])
    assert modularity(mi) == pytest.approx(2.25 / 4)


# --- the sanity cases -------------------------------------------------------------------------


def test_perfect_representation_scores_one() -> None:
    data = split(perfect)
    assert mig(*data[:2]) >= 0.95
    assert dci(*data, np.random.default_rng(0))["dci_disentanglement"] >= 0.95
    for score in (factor_vae, beta_vae):
        scores = score(Synthetic(), perfect, np.random.default_rng(0), train=300, eval=300)
        assert min(scores.values()) >= 0.95


def test_noise_scores_chance() -> None:
    data = split(noise())
    assert mig(*data[:2]) <= 0.05
    assert dci(*data, np.random.default_rng(0))["dci_disentanglement"] <= 0.05
    # noise argmins are independent of the fixed factor, so each evaluation vote is right with
    # probability exactly 1/K: binomial, σ = sqrt(1/3 · 2/3 / 1000) ≈ 0.015; allow 4σ
    scores = factor_vae(Synthetic(), noise(), np.random.default_rng(0), train=300, eval=1000)
    assert scores["factor_vae"] == pytest.approx(1 / 3, abs=0.06)


def test_duplicated_factor_lowers_mig_not_completeness() -> None:
    data = split(duplicated)
    # factor 0's two codes tie: its gap is 0, the others keep theirs: MIG ≈ (0 + 1 + 1) / 3
    assert mig(*data[:2]) == pytest.approx(2 / 3, abs=0.02)
    assert mig(*split(perfect)[:2]) - mig(*data[:2]) >= 0.3
    scores = dci(*data, np.random.default_rng(0))
    assert scores["dci_completeness"] >= 0.5
    assert scores["dci_disentanglement"] >= 0.95


def test_dci_hist_agrees_with_dci_on_the_sanity_cases() -> None:
    perfect_scores = dci_hist(*split(perfect), np.random.default_rng(0))
    assert perfect_scores["dci_hist_disentanglement"] >= 0.95
    assert perfect_scores["dci_hist_informativeness"] == 1.0
    noise_scores = dci_hist(*split(noise()), np.random.default_rng(0))
    assert noise_scores["dci_hist_disentanglement"] <= 0.05
    duplicated_scores = dci_hist(*split(duplicated), np.random.default_rng(0))
    assert duplicated_scores["dci_hist_disentanglement"] >= 0.95


def test_parallel_fits_give_the_serial_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    data = split(duplicated, train=300, test=150)

    def scores() -> list:
        return [
            dci(*data, np.random.default_rng(3)),
            dci_hist(*data, np.random.default_rng(3)),
            sap(*data),
            modularity_explicitness(*data),
        ]

    monkeypatch.setattr(parallel, "JOBS", 1)
    serial = scores()
    monkeypatch.setattr(parallel, "JOBS", 3)
    assert scores() == serial


def test_fit_all_starts_the_costliest_first_and_keeps_the_call_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(parallel, "JOBS", 1)
    started: list[int] = []

    def fit(x: int) -> int:
        started.append(x)
        return 10 * x

    assert parallel.fit_all(fit, [(1,), (5,), (3,)], cost=lambda x: x) == [10, 50, 30]
    assert started == [1, 5, 3]  # one job: in order, nothing to balance
    monkeypatch.setattr(parallel, "JOBS", 2)
    started.clear()
    assert parallel.fit_all(fit, [(1,), (5,), (3,)], cost=lambda x: x) == [10, 50, 30]
    assert sorted(started) == [1, 3, 5] and started[0] in (5, 3)


def test_sap_perfect_beats_noise() -> None:
    perfect_sap, noise_sap = sap(*split(perfect)), sap(*split(noise()))
    # one linear SVM on one code cannot separate 4 or 5 ordered classes: well above noise, below 1
    assert perfect_sap >= 0.4
    assert noise_sap <= 0.05
    assert sap(*split(perfect), continuous=True) >= 0.95
    assert sap(*split(noise()), continuous=True) <= 0.05


def test_modularity_explicitness_perfect_vs_noise() -> None:
    good, bad = modularity_explicitness(*split(perfect)), modularity_explicitness(*split(noise()))
    assert good["modularity"] >= 0.95
    assert good["explicitness"] >= 0.95
    # noise: MI rows of similar small values (modularity well below 1), AUC at chance
    assert bad["modularity"] <= 0.8
    assert bad["explicitness"] == pytest.approx(0.5, abs=0.05)


def test_beta_vae_noise_at_chance() -> None:
    scores = beta_vae(Synthetic(), noise(), np.random.default_rng(0), train=300, eval=1000)
    assert scores["beta_vae"] == pytest.approx(1 / 3, abs=0.06)


def test_same_seed_same_scores() -> None:
    def sampled(seed: int) -> list[dict[str, float]]:
        return [
            factor_vae(Synthetic(), noise(), np.random.default_rng(seed), train=100, eval=100),
            beta_vae(Synthetic(), noise(), np.random.default_rng(seed), train=100, eval=100),
        ]

    assert sampled(3) == sampled(3) != sampled(4)
    # the duplicated codes tie: the classifiers' seed decides which one a split uses
    data = split(duplicated, train=200, test=100)
    assert dci(*data, np.random.default_rng(3)) == dci(*data, np.random.default_rng(3))


# --- accuracy ---------------------------------------------------------------------------------


def test_hungarian_and_majority_differ_when_clusters_share_a_label() -> None:
    # counts [[2, 0, 0], [2, 1, 0], [0, 0, 1]]: clusters 0 and 1 are both mostly label 0.
    # majority: 2 + 2 + 1 = 5 of 6; one-to-one: cluster 1 must take label 1: 2 + 1 + 1 = 4 of 6
    clusters = np.array([0, 0, 1, 1, 1, 2])
    labels = np.array([0, 0, 0, 0, 1, 2])
    counts = confusion(clusters, labels, 3, 3)
    assert counts.tolist() == [[2, 0, 0], [2, 1, 0], [0, 0, 1]]
    assert majority_accuracy(counts) == pytest.approx(5 / 6)
    assert hungarian_accuracy(counts) == pytest.approx(4 / 6)


def test_accuracy_is_invariant_to_cluster_names() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(4, size=200)
    clusters = np.where(rng.random(200) < 0.8, labels, rng.integers(4, size=200))
    renamed = np.array([2, 0, 3, 1])[clusters]
    for score in (hungarian_accuracy, majority_accuracy):
        assert score(confusion(renamed, labels, 4, 4)) == score(confusion(clusters, labels, 4, 4))


def test_confusion_png_is_written(tmp_path: Path) -> None:
    path = save_confusion(np.array([[3, 1], [0, 4]]), tmp_path / "figs" / "c.png", "code")
    assert path.read_bytes()[:8] == PNG_SIGNATURE


# --- the plugin, end to end on the procedural dataset -----------------------------------------


@pytest.fixture(scope="module")
def host() -> Iterator[PluginHost]:
    """A plugin host with the datasets plugin installed and this plugin added in-process."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENV_VAR, "data")
        plugin_host = PluginHost()
        plugin_host.add(disentangle_metrics, name="metrics", provider="disentangle-toolkit")
        yield plugin_host


def representation(factors: torch.Tensor) -> torch.Tensor:
    """shape one-hot (columns swapped), scale one-hot, pos_x, pos_y: [n, 6]."""
    shape = F.one_hot(factors[:, 0], 2)[:, [1, 0]]
    scale = F.one_hot(factors[:, 1], 2)
    return torch.cat([shape, scale, factors[:, 3:]], dim=1).float()


def lookup_encoder(dataset: object) -> Callable[[torch.Tensor], torch.Tensor]:
    """An encoder that recognises each image of the grid and returns its true representation."""
    grid = dataset.factors()
    images = dataset.render(grid).flatten(1).numpy()
    table = {image.tobytes(): i for i, image in enumerate(images)}
    assert len(table) == len(grid), "every grid point must draw a distinct image"
    values = representation(grid)

    def encode(batch: torch.Tensor) -> torch.Tensor:
        rows = [table[image.tobytes()] for image in batch.flatten(1).numpy()]
        return values[torch.tensor(rows)]

    return encode


@pytest.fixture(scope="module")
def context(host: PluginHost, tmp_path_factory: pytest.TempPathFactory) -> EvalContext:
    """2 shapes × 2 scales × 1 orientation × 3 × 3 positions at 20 px, a perfect encoder."""
    entry = host.datasets.get("procedural")
    spec = entry.spec_model()(
        type="procedural",
        resolution=20,
        shapes=2,
        scales=2,
        orientations=1,
        positions_x=3,
        positions_y=3,
    )
    dataset = host.datasets.build(spec)
    loaded = dataset.load()
    return EvalContext(
        encode=lookup_encoder(dataset),
        dataset=dataset,
        load=lambda: ImageData(images=loaded.images, labels=loaded.factors[:, 0]),
        code_columns={"shape": slice(0, 2), "scale": slice(2, 4), "position": slice(4, 6)},
        codes={
            "shape": Categorical(CategoricalParams(k=2)),
            "scale": Categorical(CategoricalParams(k=2)),
            "position": Uniform(UniformParams(dim=2)),
        },
        out_dir=tmp_path_factory.mktemp("metrics"),
        seed=0,
        fast=True,
    )


def build(host: PluginHost, name: str, **params: object) -> object:
    return host.metrics.build(host.metrics.get(name).spec_model()(type=name, **params))


def test_registered_metrics_and_defaults(host: PluginHost) -> None:
    assert host.metrics.names() == sorted(METRICS + SAMPLE_QUALITY + FURTHER)
    assert {host.metrics.get(n).provider for n in host.metrics.names()} == {"disentangle-toolkit"}
    factor = host.metrics.get("factor_vae").params()
    assert (factor.batch, factor.train, factor.eval, factor.var_points, factor.prune) == (
        64,
        10_000,
        5_000,
        10_000,
        0.05,
    )
    assert host.metrics.get("mig").params().points == 10_000
    assert host.metrics.get("dci").params().test == 5_000
    # disentanglement_lib's gin configs (config/unsupervised_study_v1/metric_configs, and
    # config/sample/irs for IRS)
    irs = host.metrics.get("irs").params()
    assert (irs.points, irs.bins, irs.quantile) == (10_000, 20, 0.99)
    assert (host.metrics.get("unsupervised").params().points) == 10_000
    for name in ("downstream_task_boosted_trees", "downstream_task_logistic_regression"):
        spec = host.metrics.get(name).params()
        assert (spec.sizes, spec.test) == ([10, 100, 1_000, 10_000], 5_000)
    fair = host.metrics.get("fairness").params()
    assert (fair.train, fair.per_value, fair.predictor) == (10_000, 100, "boosted_trees")


def test_rendered_dataset_hides_constant_factors(context: EvalContext) -> None:
    truth = RenderedDataset(context.dataset)
    assert truth.factor_sizes == (2, 2, 3, 3)  # orientation has a single value
    factors = truth.sample_factors(5, np.random.default_rng(0))
    assert factors.shape == (5, 4)
    assert truth.observations(factors).shape == (5, 1, 20, 20)


def test_ground_truth_metrics_end_to_end(host: PluginHost, context: EvalContext) -> None:
    scores: dict[str, float] = {}
    for name in METRICS[1:]:
        metric = build(host, name)
        assert metric.applies(context) is None
        scores |= metric(context)
    # each categorical code is one latent (its argmax): every factor has its own exact latent
    assert scores["mig"] == pytest.approx(1.0, abs=0.03)
    assert scores["factor_vae"] == 1.0
    assert scores["beta_vae"] >= 0.95
    assert scores["dci_disentanglement"] >= 0.95
    assert scores["dci_informativeness"] == 1.0
    assert scores["dci_hist_disentanglement"] >= 0.95
    assert scores["dci_hist_informativeness"] == 1.0
    assert scores["modularity"] >= 0.95
    assert scores["explicitness"] >= 0.95
    assert 0 < scores["sap"] <= 1
    assert build(host, "mig")(context) == {"mig": scores["mig"]}  # same seed, same score


def counting(encode: Callable[[torch.Tensor], torch.Tensor]) -> tuple[Callable, list[int]]:
    """`encode`, and a list that records how many images each call of it encoded."""
    calls: list[int] = []

    def counted(images: torch.Tensor) -> torch.Tensor:
        calls.append(len(images))
        return encode(images)

    return counted, calls


def test_shared_cache_gives_the_numbers_of_encoding_every_sample(
    host: PluginHost, context: EvalContext
) -> None:
    encode, calls = counting(context.encode)
    uncached = dataclasses.replace(context, encode=encode, cache=None)
    cached = dataclasses.replace(uncached, cache={})
    names = METRICS[1:]  # the ground-truth metrics
    reference = {name: build(host, name)(uncached) for name in names}
    everything = sum(calls)
    calls.clear()
    for name in names:
        assert build(host, name)(cached) == pytest.approx(reference[name], abs=1e-6)
    # the grid has 2 × 2 × 3 × 3 = 36 images: each encoded once, instead of every sample
    assert sum(calls) == 36 == cached.cache[next(iter(cached.cache))].encoded
    assert everything > 10_000


def test_no_cache_without_a_function_of_the_images(context: EvalContext) -> None:
    truth, _ = ground_truth(context)  # cache None: the chance level's noise encoder
    assert isinstance(truth, RenderedDataset)
    shared = dataclasses.replace(context, cache={})
    first, encode = ground_truth(shared)
    assert isinstance(first, EncodedTruth)
    assert ground_truth(shared)[0] is first  # one cache per evaluation, shared by the metrics
    factors = first.sample_factors(50, np.random.default_rng(0))
    expected = numpy_encoder(context.encode)(first.truth.observations(factors))
    np.testing.assert_array_equal(encode(factors), expected)


def test_a_blind_encoder_scores_what_it_scores_on_rendered_images_and_nothing_is_drawn(
    host: PluginHost, context: EvalContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    def noise(images: torch.Tensor) -> torch.Tensor:  # the chance level's: 6 columns of U(0, 1)
        return torch.rand(len(images), 6, generator=generator)

    names = METRICS[1:]  # the ground-truth metrics
    drawn = dataclasses.replace(context, encode=noise, cache=None)
    reference = {}
    for name in names:
        generator = torch.Generator().manual_seed(0)
        reference[name] = build(host, name)(drawn)

    def no_drawing(factors: torch.Tensor) -> torch.Tensor:
        raise AssertionError("a blind encoder's images were rendered")

    monkeypatch.setattr(context.dataset, "render", no_drawing)
    blind = dataclasses.replace(drawn, blind=True)
    for name in names:
        generator = torch.Generator().manual_seed(0)
        assert build(host, name)(blind) == pytest.approx(reference[name], abs=1e-12)
    with pytest.raises(AssertionError, match="rendered"):
        build(host, "mig")(drawn)


def test_sampling_metrics_never_load_the_dataset(host: PluginHost, context: EvalContext) -> None:
    def load() -> ImageData:
        raise AssertionError("the dataset was loaded")

    unloaded = dataclasses.replace(context, load=load, cache={})
    for name in METRICS[1:]:
        assert build(host, name).applies(unloaded) is None
    assert build(host, "mig")(unloaded) == build(host, "mig")(context)
    no_categorical = dataclasses.replace(unloaded, codes={"position": context.codes["position"]})
    assert build(host, "accuracy").applies(no_categorical) == NEEDS_LABELS


def test_accuracy_end_to_end(host: PluginHost, context: EvalContext) -> None:
    metric = build(host, "accuracy")
    assert metric.applies(context) is None
    scores = metric(context)
    # the shape code is the label up to a swap; scale is independent of shape in the grid
    assert scores["shape/accuracy_hungarian"] == 1.0
    assert scores["shape/accuracy_majority"] == 1.0
    assert scores["shape/error_hungarian"] == 0.0
    assert scores["scale/accuracy_hungarian"] == 0.5
    for name in ("shape", "scale"):
        png = context.out_dir / f"confusion_{name}.png"
        assert png.read_bytes()[:8] == PNG_SIGNATURE


def test_metrics_say_why_they_do_not_apply(host: PluginHost, context: EvalContext) -> None:
    images = context.data.images
    unlabelled = EvalContext(**{**vars(context), "load": lambda: ImageData(images=images)})
    assert build(host, "accuracy").applies(unlabelled) == NEEDS_LABELS
    no_categorical = EvalContext(
        **{**vars(context), "codes": {"position": context.codes["position"]}}
    )
    assert build(host, "accuracy").applies(no_categorical) == NEEDS_LABELS
    not_rendered = EvalContext(**{**vars(context), "dataset": SimpleNamespace(factor_sizes=(3, 4))})
    for name in METRICS[1:]:
        assert build(host, name).applies(not_rendered) == NEEDS_GROUND_TRUTH


def test_mig_needs_two_latents(host: PluginHost, context: EvalContext) -> None:
    """The gap is between a factor's two most informative latents: one latent has none (a
    categorical code counts as one latent, whatever its k)."""
    shape = {"shape": context.codes["shape"]}
    assert context.codes["shape"].discrete and context.codes["shape"].dim > 1
    one = dataclasses.replace(context, codes=shape)
    assert "this representation has 1" in build(host, "mig").applies(one)
    assert build(host, "mig").applies(context) is None


def test_further_scores_end_to_end(host: PluginHost, context: EvalContext) -> None:
    """The representation is exact: the shape one-hot (swapped), scale one-hot, positions."""
    scores: dict[str, float] = {}
    for name in ("irs", "downstream_task_boosted_trees", "fairness"):
        metric = build(host, name)
        assert metric.applies(context) is None
        scores |= metric(context)
    assert scores["irs"] == pytest.approx(1.0)  # every code is a function of one factor
    assert scores["irs_active_dims"] == 6
    for n in (10, 100, 500):  # --fast: 10, 100, 100 (once) and 500 training points
        assert set(scores) >= {f"gbt_{n}_test_accuracy_factor_{k}" for k in range(4)}
    assert scores["gbt_500_mean_test_accuracy"] == 1.0
    assert scores["gbt_500_min_train_accuracy"] == 1.0
    # each factor's classifier reads its own codes: an intervention on another changes nothing
    assert scores["mean_fairness_mean_pred_mean_sens"] == 0.0
    assert scores["max_fairness_max_pred_max_sens"] == 0.0
    assert len(scores) == 2 + 3 * (4 + 2 * 4) + 16


def test_downstream_sizes_are_settable(host: PluginHost, context: EvalContext) -> None:
    scores = build(host, "downstream_task_logistic_regression", sizes=[200], test=50)(context)
    assert sorted({key.split("_")[1] for key in scores}) == ["100"]  # --fast caps 200 at 100
    assert scores["lr_100_mean_test_accuracy"] > 0.5


def test_unsupervised_scores_apply_to_continuous_codes(
    host: PluginHost, context: EvalContext
) -> None:
    metric = build(host, "unsupervised")
    assert "categorical" in metric.applies(context)
    continuous = dataclasses.replace(
        context,
        encode=lambda images: context.encode(images)[:, 4:],
        codes={"position": context.codes["position"]},
        code_columns={"position": slice(0, 2)},
    )
    one = dataclasses.replace(continuous, code_columns={"position": slice(0, 1)})
    assert "this one has 1" in metric.applies(one)
    assert metric.applies(continuous) is None
    scores = metric(continuous)
    assert set(scores) == {
        "gaussian_total_correlation",
        "gaussian_wasserstein_correlation",
        "gaussian_wasserstein_correlation_norm",
        "mutual_info_score",
    }
    assert all(math.isfinite(v) for v in scores.values())
    assert scores["mutual_info_score"] == pytest.approx(0.0, abs=0.05)  # x, y independent
    # without ground truth it reads the dataset's images: the whole grid, where x and y are
    # exactly independent and uncorrelated
    images = dataclasses.replace(continuous, dataset=SimpleNamespace(factor_sizes=(3, 4)))
    on_images = metric(images)
    assert on_images["mutual_info_score"] == pytest.approx(0.0, abs=1e-12)
    assert on_images["gaussian_total_correlation"] == pytest.approx(0.0, abs=1e-12)
