"""The toolkit's side of the VAE peer comparison (vae_peers.py): the recipe each method trains
with, its networks at initialisation, its loss terms on one batch, its training run, and the
toolkit's metric code applied to any encoder on the same ground-truth samples.

Every method trains on recipes/dsprites-vae.toml's settings (disentanglement_lib's conv64
architecture, Bernoulli reconstruction, Adam 1e-4, batch 64, 10 latents) with its variant's
hyper-parameters, on the procedural dSprites grid (the same factors and sizes as DeepMind's
file, drawn by the toolkit: no download). Needs only the toolkit: the peers live in
peer_disent.py and peer_pythae.py.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from disentangle.analysis.evaluate import eval_context, evaluate, score
from disentangle.method import Method, MethodSetup
from disentangle.plugins import host
from disentangle.recipe import load_recipe, to_data, validate_recipe
from disentangle.recipe.build import build_components
from disentangle.recipe.sections import Recipe
from disentangle.run import Run
from disentangle.training.data import DeviceBatches
from disentangle.training.loop import train

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "dsprites-vae.toml"
#: the scores both sides get, by the toolkit's metric names
METRICS = ("mig", "factor_vae", "dci", "sap", "beta_vae", "modularity")
#: the comparison's methods: each the recipe's variant of that name (β-VAE is its base)
METHODS = ("beta_vae", "beta_tcvae", "dip_vae_i", "dip_vae_ii", "factor_vae", "annealed_vae")


def recipe_for(method: str, seed: int, steps: int, dataset: dict[str, Any] | None = None) -> Recipe:
    """recipes/dsprites-vae.toml with `method`'s variant, on the procedural grid (`dataset`:
    its params; none: dSprites' sizes), `steps` iterations, one checkpoint at the end."""
    variant = None if method == "beta_vae" else method
    overrides = [
        f"train.seed={seed}",
        f"train.iterations={steps}",
        f"train.checkpoint_every={steps}",
        f"train.sample_every={steps}",
        f"train.log_every={min(100, steps)}",
    ]
    data = to_data(load_recipe(RECIPE, overrides, variant))
    data["dataset"] = {"type": "procedural", **(dataset or {})}
    data["name"] = f"vae-peers-{method}-seed{seed}"
    return validate_recipe(data, f"{RECIPE} ({method})")


def build_method(recipe: Recipe) -> Method:
    """The method as the training loop builds it: the same global seed before the
    components, so its networks start from the weights a run of `recipe` starts from."""
    device = torch.device("cpu")
    torch.manual_seed(recipe.train.seed)
    comps = build_components(recipe)
    rng = torch.Generator(device=device)
    rng.manual_seed(recipe.train.seed)
    return host.methods.build(recipe.method, MethodSetup(recipe, comps, device, rng))


def batches(recipe: Recipe) -> DeviceBatches:
    """The run's batches in the run's order (epoch-shuffled by its seed), scaled to [0, 1]."""
    images = build_components(recipe).dataset.load().images
    t = recipe.train
    return DeviceBatches(images, t.batch_size, t.seed, (0.0, 1.0), torch.device("cpu"))


def networks(method: Method) -> dict[str, nn.Module]:
    """The modules a peer is given: the encoder (means first, then log variances), the
    decoder's logits and its sigmoid output, and FactorVAE's TC discriminator."""
    found = {"encoder": method.e, "logits": method.logits, "decoder": method.g}
    if hasattr(method, "critic"):
        found["critic"] = method.critic
    return found


@torch.no_grad()
def spread_posterior(method: Method, factor: float) -> None:
    """Scale the encoder's output layer (means and log variances) by `factor`."""
    head = method.e[-1]
    head.weight.mul_(factor)
    head.bias.mul_(factor)


def set_schedule(method: Method, iteration: int) -> None:
    """Move a scheduled method (the annealed VAE's capacity) to `iteration`."""
    if hasattr(method, "iterations"):
        method.iterations.count.fill_(iteration)


def loss_terms(method: Method, real: torch.Tensor, noise_seed: int) -> dict[str, float]:
    """One step's loss terms as the method computes them, with the training draws (the
    reparameterisation noise, FactorVAE's permutations) from `noise_seed`: reconstruction,
    kl, the regulariser added to the reconstruction, total and, for FactorVAE, the
    discriminator's loss_tc. FactorVAE's are its `step`'s own numbers (its optimizers step)."""
    method.rng.manual_seed(noise_seed)
    if hasattr(method, "critic"):
        values = dict(zip(method.scalars, method.step(real).tolist(), strict=True))
        regulariser = values["kl"] + method.spec.gamma * values["tc"]
        return {
            "reconstruction": values["reconstruction"],
            "kl": values["kl"],
            "regulariser": regulariser,
            "total": values["loss"],
            "loss_tc": values["loss_tc"],
        }
    with torch.no_grad():
        noise = method.draw_noise(real.shape[0], real.device)
        mean, log_var, z, reconstruction, kl = method.elbo_terms(real, noise)
        regulariser = method.regulariser(kl, mean, log_var, z)
    return {
        "reconstruction": float(reconstruction),
        "kl": float(kl),
        "regulariser": float(regulariser),
        "total": float(reconstruction + regulariser),
    }


@dataclass
class Trained:
    """One side's training: the seconds its steps took, their speed, its last logged losses,
    its run folder (the toolkit's) or its loss curve (the peer's: the toolkit's is the run's
    metrics.jsonl)."""

    seconds: float
    images_per_s: float
    final: dict[str, float]
    run: Path | None = None
    curve: list[dict[str, float]] = dataclasses.field(default_factory=list)


def train_toolkit(recipe: Recipe, out: Path) -> Trained:
    """`disentangle run` of the recipe into `out`. Its speed is the training loop's own (the
    steps and their logging, from metrics.jsonl's per-record rates), as the peer's is its
    steps': neither counts drawing the dataset, checkpoints or the figures at the end."""
    run = train(recipe, out)
    records = run.metrics()
    loop_seconds, done = 0.0, 0
    for record in records:
        loop_seconds += (record["iteration"] - done) / record["iterations_per_s"]
        done = record["iteration"]
    final = {k: float(records[-1][k]) for k in ("reconstruction", "kl", "loss")}
    images = recipe.train.iterations * recipe.train.batch_size
    return Trained(loop_seconds, images / loop_seconds, final, run.path)


def scores(
    run: Path,
    encode: Any = None,
    *,
    metrics: tuple[str, ...] = METRICS,
    seed: int = 0,
    fast: bool = False,
    out: Path | None = None,
) -> dict[str, dict[str, float]]:
    """The toolkit's metrics on the run's encoder, or on `encode` (float images in [0, 1] ->
    means) over the same ground-truth samples: the run's dataset and the same eval seed."""
    if encode is None:
        return evaluate(run, list(metrics), seed=seed, fast=fast)["metrics"]
    trained = Run(run).load()
    ctx = eval_context(trained, out or run / "peer-eval", seed=seed, fast=fast)
    ctx.out_dir.mkdir(parents=True, exist_ok=True)

    @torch.no_grad()
    def peer_encode(images: torch.Tensor) -> torch.Tensor:
        return torch.cat([encode(chunk.float() / 255) for chunk in images.split(512)])

    ctx = dataclasses.replace(ctx, encode=peer_encode, cache={})
    return score(ctx, list(metrics), False, run)[0]


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")
