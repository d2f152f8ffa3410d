"""The `infogan_cr` method: pairs that share one code, the CR discriminator's own step, the
weight schedule with a fresh CR discriminator at its start, and exact resume across it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from disentangle_infogan.cr import InfoGANCR, InfoGANCRParams
from support.tiny import SMALL_IMAGES, checkpointed, tiny_grid, whole_and_resumed

from disentangle.errors import RecipeError
from disentangle.method import MethodSetup
from disentangle.recipe import validate_recipe
from disentangle.recipe.build import build_components
from disentangle.run import load_run

CPU = torch.device("cpu")
BATCH = 8


def recipe(**method: Any) -> dict[str, Any]:
    return {
        "name": "cr",
        "method": {"type": "infogan_cr", **method},
        "noise": {"type": "uniform", "dim": 2},
        "codes": [
            {"type": "categorical", "k": 2, "name": "kind"},
            {"type": "uniform", "lambda": 0.1, "name": "a"},
            {"type": "uniform", "lambda": 0.1, "name": "b"},
        ],
        "backbone": {"type": "mnist", "width": 0.125, "spectral_norm": True},
        "dataset": tiny_grid(),
        "train": checkpointed(6, BATCH),
        "images": SMALL_IMAGES,
    }


def build(**method: Any) -> tuple[InfoGANCR, torch.Tensor]:
    rec = validate_recipe(recipe(**method))
    torch.manual_seed(0)
    comps = build_components(rec)
    m = InfoGANCR(rec.method, MethodSetup(rec, comps, CPU, torch.Generator().manual_seed(0)))
    images = comps.dataset.load().images[:BATCH].float() / 255
    return m, images


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_pairs_share_the_noise_and_the_labelled_code_only() -> None:
    m, _ = build()
    first, second, labels = m._pairs(512)
    assert set(labels.tolist()) == {0, 1, 2}  # uniform over the three codes
    noise = slice(0, 2)
    torch.testing.assert_close(first[:, noise], second[:, noise], rtol=0, atol=0)
    blocks = [slice(2, 4), slice(4, 5), slice(5, 6)]  # Cat(2) one-hot, then a, then b
    for j, block in enumerate(blocks):
        same = (first[:, block] == second[:, block]).all(dim=1)
        assert same[labels == j].all()
        if j > 0:  # two continuous draws are never equal; two of Cat(2) are half the time
            assert not same[labels != j].any()
        else:
            assert 0.3 < same[labels != j].float().mean() < 0.7


def test_the_critic_step_trains_the_critic_alone() -> None:
    m, _ = build(start=100)
    g, d, critic = snapshot(m.generator), snapshot(m.discriminator), snapshot(m.critic)
    m._critic_step(BATCH)
    assert snapshot(m.generator).keys() == g.keys()
    for k, v in snapshot(m.generator).items():  # batch norm in inference mode before the start
        assert torch.equal(v, g[k]), k
    for k, v in snapshot(m.discriminator).items():
        assert torch.equal(v, d[k]), k
    changed = [k for k, v in snapshot(m.critic).items() if not torch.equal(v, critic[k])]
    assert any(k.endswith("original") for k in changed)
    assert not any(p.requires_grad for p in m.critic.parameters())  # frozen outside its step


def test_before_the_start_g_gets_no_contrastive_term_and_after_it_does() -> None:
    m, images = build(start=2, cr_weight=1.5)
    m.step(images)
    assert m.weight == 0.0 and m._g_draws(BATCH) is None and m._g_regulariser(None) is None
    m.step(images)
    m.step(images)  # the third iteration is iteration 2: the term counts from here on
    assert m.weight == 1.5
    pairs = m._g_draws(BATCH)
    term = m._g_regulariser(pairs)
    expected = 1.5 * m._contrastive(pairs)  # the same pairs; spectral norm's power iteration
    torch.testing.assert_close(term, expected, rtol=1e-3, atol=0)  # has moved on by one step
    grads = torch.autograd.grad(term, list(m.generator.parameters()), allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_the_critic_restarts_fresh_at_the_start() -> None:
    m, images = build(start=2)
    m.step(images)
    m.step(images)
    trained = snapshot(m.critic.net)
    assert m.opt_cr.state  # Adam has moments
    m._restart_critic()
    fresh = snapshot(m.critic.net)
    assert not m.opt_cr.state
    for key, value in fresh.items():
        if key.endswith(("._u", "._v")):
            assert torch.equal(value, trained[key]), key  # the power-iteration vectors stay
        elif key.endswith("original"):
            assert not torch.equal(value, trained[key]), key
    loss = F.cross_entropy(m.critic(images, images), torch.zeros(BATCH, dtype=torch.long))
    assert torch.isfinite(loss)


def test_a_resume_across_the_start_ends_where_the_whole_run_does(tmp_path: Path) -> None:
    whole, again = whole_and_resumed(recipe(start=3), tmp_path, cut=2)
    assert int(whole["schedule"]["count"]) == 6
    for part in ("generator", "discriminator", "cr_discriminator"):
        for k in whole[part]:
            assert torch.equal(whole[part][k], again[part][k]), f"{part}.{k}"
    records = load_run(tmp_path / "whole").metrics()
    assert [r["cr_weight"] for r in records] == [0.0, 0.0, 0.0, 2.0, 2.0, 2.0]
    assert [r["loss_cr"] for r in records] == [
        r["loss_cr"] for r in load_run(tmp_path / "cut").metrics()
    ]


def test_recipes_it_cannot_use_are_recipe_errors() -> None:
    one_code = recipe()
    one_code["codes"] = one_code["codes"][:1]
    with pytest.raises(RecipeError) as info:
        validate_recipe(one_code)
    assert [p.where for p in info.value.problems] == ["codes"]
    assert "at least two" in str(info.value)
    no_critic = recipe()
    no_critic["backbone"] = {"type": "chairs", "width": 0.125}
    no_critic["dataset"]["resolution"] = 64
    with pytest.raises(RecipeError) as info:
        validate_recipe(no_critic)
    assert [p.where for p in info.value.problems] == ["method.type"]
    assert "pair_discriminator" in str(info.value)
    assert isinstance(validate_recipe(recipe()).method, InfoGANCRParams)
