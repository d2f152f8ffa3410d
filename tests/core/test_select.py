"""ModelCentrality: the groups hold one code fixed each, the FactorVAE score of a student on a
teacher's groups, the centrality of tiny trained runs, and the `select` command; ClusterGAN's
purity on a few training labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from support.cli import assert_clean_failure, invoke
from support.layouts import write_split
from support.tiny import TINY_RECIPE

from disentangle.analysis.evaluate import evaluate
from disentangle.analysis.select import (
    TeacherData,
    factor_vae_score,
    group_latents,
    labelled_purity,
    model_centrality,
)
from disentangle.errors import DisentangleError
from disentangle.recipe import validate_recipe
from disentangle.recipe.build import build_components
from disentangle.run import Run
from disentangle.training.loop import train

SMALL = {"groups": 12, "group_size": 8, "std_images": 64}
#: the tiny recipe as a β-VAE: one Gaussian code of 3 dimensions on the same images
TINY_VAE = {
    **TINY_RECIPE,
    "method": {"type": "beta_vae"},
    "noise": {"type": "gaussian", "dim": 0},
    "codes": [{"type": "gaussian", "name": "z", "dim": 3}],
}


def test_each_group_holds_one_code_fixed_and_the_rest_varies(tiny_recipe: dict[str, Any]) -> None:
    comps = build_components(validate_recipe(tiny_recipe))  # noise 4, Cat(3), U(-1, 1)
    latents, labels = group_latents(comps, groups=6, group_size=5, seed=0)
    assert latents.shape == (6, 5, 4 + 3 + 1)
    assert labels.tolist() == [0, 1, 0, 1, 0, 1]
    columns = {0: slice(4, 7), 1: slice(7, 8)}
    for k, label in enumerate(labels.tolist()):
        fixed, other = columns[label], columns[1 - label]
        assert (latents[k, :, fixed] == latents[k, 0, fixed]).all()
        assert latents[k, :, other].std(dim=0).sum() > 0
        assert latents[k, :, :4].std(dim=0).min() > 0  # the noise always varies


def test_each_dimension_of_a_continuous_code_is_a_factor_of_its_own() -> None:
    """A VAE's one Gaussian code of 3 dimensions is 3 factors (held fixed one at a time);
    holding the whole code fixed would give every group the same label: a score of 1 for any
    student."""
    comps = build_components(validate_recipe(TINY_VAE))
    latents, labels = group_latents(comps, groups=6, group_size=5, seed=0)
    assert labels.tolist() == [0, 1, 2, 0, 1, 2]
    for k, label in enumerate(labels.tolist()):
        varying = latents[k].std(dim=0)
        assert varying[label] == 0 and (varying[[c for c in range(3) if c != label]] > 0).all()


def groups_of_pixels(n_groups: int, size: int) -> TeacherData:
    """Two-pixel 'images' whose pixel k is code k; group g holds code g mod 2 fixed."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n_groups, size, 2, 1, 1), generator=g, dtype=torch.uint8)
    labels = torch.arange(n_groups) % 2
    for k, label in enumerate(labels.tolist()):
        images[k, :, label] = images[k, 0, label]
    std = torch.randint(0, 256, (200, 2, 1, 1), generator=g, dtype=torch.uint8)
    return TeacherData(images, labels, std)


def pixels(images: torch.Tensor) -> torch.Tensor:
    return images.flatten(1).float()


def test_a_student_that_reads_the_codes_scores_one_in_any_order() -> None:
    data = groups_of_pixels(40, 10)
    assert factor_vae_score(pixels, data) == 1.0
    assert factor_vae_score(lambda x: pixels(x).flip(1), data) == 1.0  # columns swapped


def test_a_student_blind_to_the_codes_scores_the_majority_share() -> None:
    data = groups_of_pixels(40, 10)
    g = torch.Generator().manual_seed(1)
    noise = lambda x: torch.randn(x.shape[0], 3, generator=g)  # noqa: E731
    assert factor_vae_score(noise, data) <= 0.75  # each column votes its majority; 0.5 is chance
    constant = lambda x: torch.zeros(x.shape[0], 2)  # noqa: E731
    assert factor_vae_score(constant, data) == 0.0  # no column varies at all


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Run]:
    root = tmp_path_factory.mktemp("select")
    runs = []
    for seed in (1, 2, 3):
        data = {**TINY_RECIPE, "train": {**TINY_RECIPE["train"], "seed": seed}}
        runs.append(train(validate_recipe(data), root / f"seed{seed}"))
    return runs


def test_centrality_is_the_mean_of_both_directions_and_the_medoid_wins(
    three_runs: list[Run],
) -> None:
    result = model_centrality(three_runs, **SMALL)
    s = result.scores
    assert all(s[i][i] is None for i in range(3))
    assert all(0 <= s[i][j] <= 1 for i in range(3) for j in range(3) if i != j)
    for i in range(3):
        others = [j for j in range(3) if j != i]
        assert result.centrality[i] == pytest.approx(sum(s[i][j] + s[j][i] for j in others) / 4)
    assert result.chosen == result.runs[max(range(3), key=result.centrality.__getitem__)]
    assert model_centrality(three_runs, **SMALL).scores == s  # seeded: the same again


def test_select_needs_two_runs_of_one_image_shape(three_runs: list[Run]) -> None:
    with pytest.raises(DisentangleError, match="at least two runs"):
        model_centrality(three_runs[:1], **SMALL)


def test_a_pool_of_methods_is_selected_from_but_not_a_mix_of_datasets(
    three_runs: list[Run], digit_runs: list[Run], tmp_path: Path
) -> None:
    """InfoGAN-CR's ModelCentrality selects among a pool of models: methods may differ (here
    a β-VAE beside InfoGAN on the same images), the dataset may not."""
    pool = [*three_runs[:2], train(validate_recipe(TINY_VAE), tmp_path / "vae")]
    assert len(model_centrality(pool, **SMALL).centrality) == 3
    with pytest.raises(DisentangleError, match=r"differ in dataset\.type"):
        model_centrality([three_runs[0], digit_runs[0]], **SMALL)


def test_select_command_prints_the_table_and_the_chosen_run(three_runs: list[Run]) -> None:
    args = ["--groups", "12", "--group-size", "8", "--std-images", "64"]
    code, output = invoke("select", *[str(r.path) for r in three_runs], *args)
    assert code == 0, output
    assert "centrality" in output and "most central:" in output
    assert "…" not in output  # the run paths (long, under pytest's tmp) fold, never cut
    assert_clean_failure(*invoke("select", str(three_runs[0].path), *args), "at least two runs")


def test_select_refuses_a_folder_that_is_not_a_run(tmp_path: Path, three_runs: list[Run]) -> None:
    assert_clean_failure(*invoke("select", str(three_runs[0].path), str(tmp_path)), str(tmp_path))


@pytest.fixture(scope="module")
def digit_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Run]:
    """Three tiny runs with a Cat(10) code on MNIST files of 200 training and 20 test images."""
    root = tmp_path_factory.mktemp("digits")
    raw = root / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_split(raw, "train", 200, seed=0)
    write_split(raw, "t10k", 20, seed=1)
    runs = []
    for seed in (1, 2, 3):
        data = {
            **TINY_RECIPE,
            "dataset": {"type": "mnist", "root": str(root / "data")},
            "codes": [{**TINY_RECIPE["codes"][0], "k": 10}, TINY_RECIPE["codes"][1]],
            "train": {**TINY_RECIPE["train"], "seed": seed},
        }
        runs.append(train(validate_recipe(data), root / f"seed{seed}"))
    return runs


def test_purity_on_all_training_labels_is_evaluate_on_the_training_split(
    digit_runs: list[Run],
) -> None:
    result = labelled_purity(digit_runs, fraction=1.0)
    assert result.points == 200
    for run, purity, hungarian in zip(digit_runs, result.purity, result.hungarian, strict=True):
        scores = evaluate(run, ["accuracy"], split="train")["metrics"]["accuracy"]
        assert purity == pytest.approx(scores["accuracy_majority"])
        assert hungarian == pytest.approx(scores["accuracy_hungarian"])
    assert result.chosen == result.runs[max(range(3), key=result.purity.__getitem__)]


def test_purity_takes_the_same_seeded_share_of_labels_for_every_run(
    digit_runs: list[Run],
) -> None:
    result = labelled_purity(digit_runs, fraction=0.1)
    assert result.points == 20
    assert all(0 <= h <= p <= 1 for p, h in zip(result.purity, result.hungarian, strict=True))
    assert labelled_purity(digit_runs, fraction=0.1) == result  # seeded: the same again
    with pytest.raises(DisentangleError, match="at least two runs"):
        labelled_purity(digit_runs[:1])
    before = {p: p.stat().st_mtime_ns for r in digit_runs for p in r.path.rglob("*")}
    labelled_purity(digit_runs, fraction=0.1, split="test")
    assert {p: p.stat().st_mtime_ns for r in digit_runs for p in r.path.rglob("*")} == before


def test_select_by_purity_prints_the_purest_and_refuses_the_other_way_s_options(
    digit_runs: list[Run], three_runs: list[Run]
) -> None:
    paths = [str(r.path) for r in digit_runs]
    code, output = invoke("select", *paths, "--by", "purity", "--fraction", "0.1")
    assert code == 0, output
    assert "on the same 20 labelled images" in output and "purest:" in output
    assert "…" not in output
    assert_clean_failure(
        *invoke("select", *paths, "--by", "purity", "--groups", "3"),
        "--groups: not an option of --by purity",
    )
    assert_clean_failure(
        *invoke("select", *paths, "--split", "train"), "--split: not an option of --by centrality"
    )
    unlabelled = [str(r.path) for r in three_runs]  # the procedural shapes carry no labels here
    assert_clean_failure(*invoke("select", *unlabelled, "--by", "purity"), "purity does not apply")
