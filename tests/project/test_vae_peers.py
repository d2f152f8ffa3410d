"""benchmarks/reference: the toolkit's side of the VAE peer comparison (runs everywhere) and
the check against the peers (only where disent and pythae are installed: the venv that
benchmarks/reference/setup.sh builds; CI has neither)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

from disentangle.run import Run
from disentangle.training.loop import Trainer

REFERENCE = Path(__file__).resolve().parents[2] / "benchmarks" / "reference"
#: a few images of dSprites' grid: enough for a batch of 64, fast to draw
FEW = {"size": 128, "seed": 0}


@pytest.fixture(scope="module")
def harness() -> Iterator[tuple[ModuleType, ModuleType]]:
    sys.path.insert(0, str(REFERENCE))
    try:
        yield importlib.import_module("toolkit_side"), importlib.import_module("vae_peers")
    finally:
        sys.path.remove(str(REFERENCE))


@pytest.mark.parametrize(
    ("method", "kind", "param"),
    [
        ("beta_vae", "beta_vae", ("beta", 4.0)),
        ("beta_tcvae", "beta_tcvae", ("beta", 6.0)),
        ("dip_vae_i", "dip_vae", ("dip_type", "i")),
        ("dip_vae_ii", "dip_vae", ("dip_type", "ii")),
        ("factor_vae", "factor_vae", ("gamma", 30.0)),
        ("annealed_vae", "annealed_vae", ("c_max", 25.0)),
    ],
)
def test_each_method_is_the_dsprites_vae_recipes_variant_on_the_procedural_grid(
    harness: tuple[ModuleType, ModuleType], method: str, kind: str, param: tuple[str, object]
) -> None:
    toolkit, _ = harness
    recipe = toolkit.recipe_for(method, seed=3, steps=500)
    assert recipe.method.type == kind
    assert getattr(recipe.method, param[0]) == param[1]
    assert recipe.dataset.type == "procedural"
    sizes = (len(recipe.dataset.shape_names), recipe.dataset.scales, recipe.dataset.orientations)
    assert sizes == (3, 6, 40)  # dSprites' grid
    assert (recipe.dataset.positions_x, recipe.dataset.positions_y) == (32, 32)
    assert (recipe.train.seed, recipe.train.iterations, recipe.train.batch_size) == (3, 500, 64)


def test_the_peer_starts_from_the_weights_a_run_of_the_recipe_starts_from(
    harness: tuple[ModuleType, ModuleType], tmp_path: Path
) -> None:
    toolkit, _ = harness
    recipe = toolkit.recipe_for("factor_vae", seed=2, steps=1, dataset=FEW)
    built = toolkit.networks(toolkit.build_method(recipe))
    trainer = Trainer(recipe, Run(tmp_path / "run"))
    for name, module in toolkit.networks(trainer.method).items():
        for ours, theirs in zip(
            module.state_dict().values(), built[name].state_dict().values(), strict=True
        ):
            assert torch.equal(ours, theirs), name
    other = toolkit.networks(toolkit.build_method(toolkit.recipe_for("factor_vae", 3, 1, FEW)))
    assert not torch.equal(other["encoder"][-1].weight, built["encoder"][-1].weight)


@pytest.mark.parametrize("method", ["beta_vae", "beta_tcvae", "dip_vae_ii", "annealed_vae"])
def test_the_loss_terms_are_the_methods_own_and_add_up(
    harness: tuple[ModuleType, ModuleType], method: str
) -> None:
    toolkit, _ = harness
    recipe = toolkit.recipe_for(method, seed=1, steps=1, dataset=FEW)
    vae = toolkit.build_method(recipe)
    real = toolkit.batches(recipe).batch(0)
    toolkit.set_schedule(vae, 50_000)
    terms = toolkit.loss_terms(vae, real, noise_seed=7)
    assert terms == toolkit.loss_terms(vae, real, noise_seed=7)  # the draws are the seed's
    assert terms != toolkit.loss_terms(vae, real, noise_seed=8)
    assert terms["total"] == pytest.approx(terms["reconstruction"] + terms["regulariser"])
    if method == "beta_vae":
        assert terms["regulariser"] == pytest.approx(4.0 * terms["kl"])
    if method == "annealed_vae":  # γ |KL − C| with C = 25 · 50,000 / 100,000
        assert terms["regulariser"] == pytest.approx(1000 * abs(terms["kl"] - 12.5), rel=1e-5)


def test_factor_vaes_terms_hold_the_discriminators_loss(
    harness: tuple[ModuleType, ModuleType],
) -> None:
    toolkit, _ = harness
    recipe = toolkit.recipe_for("factor_vae", seed=1, steps=1, dataset=FEW)
    vae = toolkit.build_method(recipe)
    terms = toolkit.loss_terms(vae, toolkit.batches(recipe).batch(0), noise_seed=7)
    assert terms["loss_tc"] == pytest.approx(0.693, abs=0.01)  # an untrained critic: log 2
    assert terms["total"] == pytest.approx(terms["reconstruction"] + terms["regulariser"])


def test_an_encoder_given_to_the_scores_is_scored_on_the_runs_own_samples(
    harness: tuple[ModuleType, ModuleType], tmp_path: Path
) -> None:
    toolkit, _ = harness
    recipe = toolkit.recipe_for("beta_vae", seed=1, steps=2, dataset=FEW)
    run = Run(toolkit.train_toolkit(recipe, tmp_path / "run").run)
    method = run.load().method
    metrics = ("mig", "sap", "modularity")
    own = toolkit.scores(run.path, metrics=metrics, fast=True)
    given = toolkit.scores(run.path, method.encode, metrics=metrics, fast=True)
    assert given.keys() == own.keys() == set(metrics)
    for name in metrics:
        assert given[name] == pytest.approx(own[name])

    def scaled(images: torch.Tensor) -> torch.Tensor:  # another encoder, other scores
        return method.encode(images) * torch.linspace(1, 5, 10) + torch.randn(len(images), 10)

    assert toolkit.scores(run.path, scaled, metrics=("mig",), fast=True)["mig"] != own["mig"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "beta_vae", "--peer", "nobody"], "unknown peer 'nobody'; the peers are"),
        (["--method", "vae", "--peer", "disent"], "unknown method 'vae'; the methods are"),
        (["--method", "factor_vae", "--peer", "disent"], "disent has no factor_vae; its"),
    ],
)
def test_what_the_harness_cannot_compare_is_one_line(
    harness: tuple[ModuleType, ModuleType],
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    _, vae_peers = harness
    with pytest.raises(SystemExit) as stop:
        vae_peers.main(["check-loss", *args])
    assert stop.value.code == 1
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("method", "peer"),
    [
        ("beta_vae", "disent"),
        ("beta_tcvae", "disent"),
        ("dip_vae_i", "disent"),
        ("dip_vae_ii", "disent"),
        ("beta_vae", "pythae"),
        ("beta_tcvae", "pythae"),
        ("factor_vae", "pythae"),
        ("annealed_vae", "pythae"),
    ],
)
def test_each_peer_computes_the_same_loss_on_the_same_weights_batch_and_draws(
    harness: tuple[ModuleType, ModuleType], method: str, peer: str
) -> None:
    pytest.importorskip(peer, reason=f"{peer}: bash benchmarks/reference/setup.sh DIR")
    _, vae_peers = harness
    assert vae_peers.main(["check-loss", "--method", method, "--peer", peer]) == 0


def test_setup_refuses_an_interpreter_older_than_disent_needs(tmp_path: Path) -> None:
    if sys.version_info >= (3, 12):
        pytest.skip("the tests' Python is new enough for disent")
    target = tmp_path / "peers"
    done = subprocess.run(
        ["bash", str(REFERENCE / "setup.sh"), str(target)],
        env={**os.environ, "PYTHON": sys.executable},  # the tests' own Python: 3.11
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "is not a Python 3.12 or newer" in done.stderr
    assert not target.exists()


def test_the_peers_curve_holds_its_losses_means_as_the_toolkits_log_does(
    harness: tuple[ModuleType, ModuleType],
) -> None:
    toolkit, vae_peers = harness
    recipe = toolkit.recipe_for("beta_vae", 1, 250, FEW)  # logs every 100 iterations

    class Counting:  # a peer whose step reports its iteration
        def step(self, real: torch.Tensor, iteration: int) -> dict[str, float]:
            return {"reconstruction": float(iteration), "kl": 1.0}

    trained = vae_peers.train_peer(Counting(), recipe, recipe.train.log_every)
    assert [point["iteration"] for point in trained.curve] == [100, 200, 250]
    assert trained.curve[0]["reconstruction"] == sum(range(100)) / 100
    assert trained.final == {"reconstruction": sum(range(150, 250)) / 100, "kl": 1.0}
    assert trained.images_per_s > 0


def test_twin_against_itself_drifts_from_a_nudge_of_rounding_size(
    harness: tuple[ModuleType, ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    _, vae_peers = harness
    args = ["twin", "--method", "annealed_vae", "--peer", "self", "--steps", "2", "--size", "128"]
    assert vae_peers.main(args) == 0
    drift = [float(line.split("= ")[1]) for line in capsys.readouterr().out.splitlines()[1:]]
    assert len(drift) == 2 and 1e-8 < drift[0] < 1e-6  # the nudge, not a different network
    for method, peer in [("dip_vae_i", "disent"), ("factor_vae", "self"), ("bogus", "self")]:
        with pytest.raises(SystemExit):
            vae_peers.main(["twin", "--method", method, "--peer", peer])
        assert "twin compares with pythae or `self`" in capsys.readouterr().err


def test_the_table_gives_each_pairs_medians_over_seeds(
    harness: tuple[ModuleType, ModuleType],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, vae_peers = harness

    def side(mig: float, rate: float) -> dict[str, object]:
        scores = {metric: {score: 0.5} for metric, score in vae_peers.HEADLINE}
        return {"scores": {**scores, "mig": {"mig": mig}}, "images_per_s": rate}

    paths = []
    for seed, (ours, theirs) in enumerate([(0.1, 0.4), (0.2, 0.6), (0.9, 0.5)], 1):
        report = {
            "method": "beta_vae",
            "peer_name": "disent",
            "seed": seed,
            "steps": 100,
            "toolkit": side(ours, 100.0 * seed),
            "peer": side(theirs, 90.0),
        }
        paths.append(tmp_path / f"s{seed}.json")
        paths[-1].write_text(json.dumps(report))
    assert vae_peers.main(["table", "--each", *map(str, paths)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == (
        "| beta_vae | disent | 100 | 1, 2, 3 | 0.200 / 0.500 | 0.500 / 0.500 | 0.500 / 0.500 "
        "| 0.500 / 0.500 | 0.500 / 0.500 | 0.500 / 0.500 | 200 / 90 | -0.300, +0.000 |"
    )
    assert lines[-3:] == [  # every seed, in order
        "| beta_vae | disent | 1 | 0.100 / 0.400 | 0.500 / 0.500 | 100 / 90 |",
        "| beta_vae | disent | 2 | 0.200 / 0.600 | 0.500 / 0.500 | 200 / 90 |",
        "| beta_vae | disent | 3 | 0.900 / 0.500 | 0.500 / 0.500 | 300 / 90 |",
    ]
