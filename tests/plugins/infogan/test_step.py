"""One iteration of the `infogan` method: which optimizer trains what, and where the MI
gradient goes; the R1 penalty (method.r1); DiffAugment (method.augment); several G steps per
D step (method.g_updates); spectral norm on D (InfoGAN-CR's dSprites) resumes exactly; bf16
weight copies compute what autocast computes."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from disentangle_infogan.augment import augment
from disentangle_infogan.method import InfoGAN
from support.tiny import tiny_grid, whole_and_resumed

from disentangle.errors import RecipeError
from disentangle.method import MethodSetup
from disentangle.recipe import validate_recipe
from disentangle.recipe.build import Components, build_components
from disentangle.run import load_run

CPU = torch.device("cpu")
BATCH = 8
SEED = 0


def recipe(lambdas: tuple[float, float]) -> dict[str, Any]:
    return {
        "noise": {"type": "uniform", "dim": 4},
        "codes": [
            {"type": "categorical", "k": 3, "lambda": lambdas[0]},
            {"type": "uniform", "lambda": lambdas[1]},
        ],
        "backbone": {"type": "mnist", "width": 0.125},
        "dataset": tiny_grid(),
        "method": {"type": "infogan", "lr_d": 2e-4, "lr_g": 1e-3},
        "train": {"batch_size": BATCH, "seed": SEED, "device": "cpu"},
    }


class Setup:
    """Components and the `infogan` method (networks, optimizers, step) as the training loop
    builds them."""

    def __init__(
        self,
        lambdas: tuple[float, float],
        tweak: Callable[[InfoGAN], None] | None = None,
        g_updates: int = 1,
        bf16: bool = False,
        r1: float = 0.0,
        policy: tuple[str, ...] = (),
    ) -> None:
        data = recipe(lambdas)
        data["method"].update(g_updates=g_updates, r1=r1, augment=list(policy))
        data["train"].update(precision="bf16" if bf16 else "fp32")
        rec = validate_recipe(data)
        torch.manual_seed(SEED)
        self.comps: Components = build_components(rec)
        self.rng = torch.Generator().manual_seed(SEED)
        setup = MethodSetup(rec, self.comps, CPU, self.rng)
        self.models = InfoGAN(rec.method, setup)
        if tweak is not None:
            tweak(self.models)
            self.models.updater.restored()  # the bf16 weight copies follow the tweaked weights
        self.step = self.models.step
        images = self.comps.dataset.load().images[:BATCH]
        low, high = self.comps.backbone.output_range
        self.real = low + (high - low) * images.float() / 255

    def grads(self, module: torch.nn.Module) -> dict[str, torch.Tensor]:
        return {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in module.named_parameters()}


def scramble_q_output(models: InfoGAN) -> None:
    """Change what Q outputs (its last layer) without touching anything else."""
    last = models.discriminator.q_head[-1]
    with torch.no_grad():
        last.weight.copy_(
            torch.randn(last.weight.shape, generator=torch.Generator().manual_seed(9))
        )


def assert_all_changed(before: dict[str, torch.Tensor], module: torch.nn.Module) -> None:
    for name, p in module.named_parameters():
        assert not torch.equal(before[name], p.detach()), f"{name} was not updated"


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys() and a
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0, msg=name)


def assert_differ(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys() and a
    assert any(not torch.allclose(a[n], b[n]) for n in a)


@pytest.mark.parametrize("lambdas", [(1.0, 0.1), (0.0, 0.0)])
def test_one_call_updates_every_part(lambdas: tuple[float, float]) -> None:
    s = Setup(lambdas)
    d, g = s.models.discriminator, s.models.generator
    parts = {"trunk": d.trunk, "d_head": d.d_head, "q_head": d.q_head, "generator": g}
    before = {k: snapshot(m) for k, m in parts.items()}
    s.step(s.real)
    for k, m in parts.items():
        assert_all_changed(before[k], m)
    assert all(p.requires_grad for p in d.parameters())  # D is unfrozen after the G step


def grads_of(
    loss: torch.Tensor, module: torch.nn.Module, retain: bool = False
) -> dict[str, torch.Tensor]:
    names, params = zip(*module.named_parameters(), strict=True)
    return dict(zip(names, torch.autograd.grad(loss, params, retain_graph=retain), strict=True))


@pytest.mark.parametrize(
    ("lambdas", "r1", "policy"),
    [
        ((1.0, 0.1), 0.0, ()),
        ((0.0, 0.5), 0.0, ()),
        ((1.0, 0.1), 2.0, ()),
        ((1.0, 0.1), 0.0, ("translation", "cutout")),
        ((1.0, 0.1), 2.0, ("cutout",)),
    ],
)
def test_step_follows_the_update_rule(
    lambdas: tuple[float, float], r1: float, policy: tuple[str, ...]
) -> None:
    """Replays one iteration by hand: the returned values and both steps' gradients; with
    r1 = γ the D loss also has γ/2 · E‖∇_x D(x)‖² over the real batch (R1); with a DiffAugment
    policy every image D sees, real or fake, in either step, is transformed first, with draws
    from the step's sampler."""
    s = Setup(lambdas, r1=r1, policy=policy)
    m = s.models
    g_before = copy.deepcopy(m.generator)
    d_before = copy.deepcopy(m.discriminator)
    weights = torch.tensor(lambdas)
    free = (weights == 0).float()
    rng = torch.Generator().manual_seed(SEED)  # the step's sampler, replayed

    def latents() -> tuple[torch.Tensor, list[torch.Tensor]]:
        z = s.comps.noise.sample(BATCH, rng, CPU)
        codes = [c.sample(BATCH, rng, CPU) for c in s.comps.codes]
        return torch.cat([z, *codes], dim=1), codes

    out = s.step(s.real)
    assert out.shape == (2 + len(s.comps.codes),)
    assert not out.requires_grad

    # D step, on the models as they were: real and fake pass D separately
    x, codes = latents()
    with torch.no_grad():
        fake = g_before(x)
    real = s.real.clone().requires_grad_(True)
    seen_real, seen_fake = augment(real, list(policy), rng), augment(fake, list(policy), rng)
    if policy:
        assert not torch.equal(seen_real, real)
        assert not torch.equal(seen_fake, fake)
    real_logits, _ = d_before(seen_real)
    features = d_before.trunk(seen_fake)
    fake_logits = d_before.d_head(features).flatten()
    bounds = m.estimator(d_before.q_head(features), codes)
    # a code with λ = 0 still trains Q's head, on features that carry no gradient to the trunk
    free_bounds = m.estimator(d_before.q_head(features.detach()), codes)
    adv_d = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    loss_d = adv_d - (weights * bounds).sum() - (free * free_bounds).sum()
    expected_d = grads_of(loss_d, d_before, retain=bool(r1))
    if r1:
        (slope,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
        penalty = r1 / 2 * slope.square().sum(dim=(1, 2, 3)).mean()
        assert penalty > 0
        without, expected_d = expected_d, grads_of(loss_d + penalty, d_before)
        assert_differ(without, expected_d)  # the penalty is not lost in the tolerance

    # G step: G as it was, D after its update, fresh latents
    x, codes = latents()
    logits, q = m.discriminator(augment(g_before(x), list(policy), rng))
    adv_g = F.softplus(-logits).mean()
    loss_g = adv_g - (weights * m.estimator(q, codes)).sum()
    expected_g = grads_of(loss_g, g_before)

    # returned: the adversarial parts of the two losses, then L_I per code
    expected_out = torch.cat([torch.stack([adv_d, adv_g]), bounds]).detach()
    torch.testing.assert_close(out, expected_out)
    assert out[2] <= m.estimator.entropies()[0] + 1e-6  # a categorical L_I never exceeds log k
    torch.testing.assert_close(s.grads(m.discriminator), expected_d)
    torch.testing.assert_close(s.grads(m.generator), expected_g)


@pytest.mark.parametrize("lambdas", [(0.0, 0.0), (1.0, 0.0), (0.0, 0.5)])
def test_free_q_head_still_trains(lambdas: tuple[float, float]) -> None:
    s = Setup(lambdas)
    q_head = s.models.discriminator.q_head
    before = snapshot(q_head)
    s.step(s.real)
    assert_all_changed(before, q_head)
    for name, grad in s.grads(q_head).items():
        assert grad.abs().sum() > 0, name


def test_zero_lambda_sends_no_mi_gradient_to_g_or_trunk() -> None:
    """With every λ = 0, what Q outputs cannot change the gradients of G or of D's trunk."""
    a, b = Setup((0.0, 0.0)), Setup((0.0, 0.0), tweak=scramble_q_output)
    out_a, out_b = a.step(a.real), b.step(b.real)
    assert not torch.allclose(out_a[2:], out_b[2:])  # Q's outputs really differ
    torch.testing.assert_close(out_a[:2], out_b[:2], rtol=0, atol=0)
    assert_same(a.grads(a.models.generator), b.grads(b.models.generator))
    assert_same(a.grads(a.models.discriminator.trunk), b.grads(b.models.discriminator.trunk))
    assert_same(snapshot(a.models.generator), snapshot(b.models.generator))


@pytest.mark.parametrize("lambdas", [(1.0, 0.0), (0.0, 0.1)])
def test_positive_lambda_sends_mi_gradient_to_g_and_trunk(lambdas: tuple[float, float]) -> None:
    """The control of the test above: with a λ > 0, Q's output shapes both updates."""
    a, b = Setup(lambdas), Setup(lambdas, tweak=scramble_q_output)
    a.step(a.real)
    b.step(b.real)
    assert_differ(a.grads(a.models.discriminator.trunk), b.grads(b.models.discriminator.trunk))
    assert_differ(a.grads(a.models.generator), b.grads(b.models.generator))


def test_optimizers_own_disjoint_parts() -> None:
    s = Setup((1.0, 0.1))
    m = s.models
    d_params = {id(p) for group in m.opt_d.param_groups for p in group["params"]}
    g_params = {id(p) for group in m.opt_g.param_groups for p in group["params"]}
    assert d_params == {id(p) for p in m.discriminator.parameters()}
    assert g_params == {id(p) for p in m.generator.parameters()}
    s.step(s.real)
    # the D step's gradients stay on D: the G step froze D instead of adding to them
    d_grads = s.grads(m.discriminator)
    assert d_grads.keys() == {n for n, _ in m.discriminator.named_parameters()}


def adam_steps(optimizer: torch.optim.Optimizer) -> set[int]:
    return {int(state["step"]) for state in optimizer.state.values()}


def test_g_updates_runs_that_many_g_steps_on_fresh_latents() -> None:
    """g_updates = 2: one D step, then two G optimizer steps, each on its own z and c, the
    second from G as the first left it; the G loss returned is the mean of the two."""
    s = Setup((1.0, 0.1), g_updates=2)
    m = s.models
    template = copy.deepcopy(m.generator)
    calls: list[tuple[torch.Tensor, dict[str, torch.Tensor]]] = []

    def record(module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        params = {n: p.detach().clone() for n, p in module.named_parameters()}
        calls.append((args[0].clone(), params))

    hook = m.generator.register_forward_pre_hook(record)
    try:
        out = s.step(s.real)
    finally:
        hook.remove()
    assert adam_steps(m.opt_d) == {1} and adam_steps(m.opt_g) == {2}

    rng = torch.Generator().manual_seed(SEED)  # the step's sampler, replayed

    def latents() -> tuple[torch.Tensor, list[torch.Tensor]]:
        z = s.comps.noise.sample(BATCH, rng, CPU)
        codes = [c.sample(BATCH, rng, CPU) for c in s.comps.codes]
        return torch.cat([z, *codes], dim=1), codes

    drawn = [latents() for _ in range(3)]  # the D step's, then one per G step
    assert len(calls) == 3  # G ran once for the D step and once per G step
    for (x, _), (seen, _) in zip(drawn, calls, strict=True):
        torch.testing.assert_close(seen, x, rtol=0, atol=0)
    assert not torch.equal(drawn[1][0], drawn[2][0])  # fresh latents for each G step
    assert_same(calls[0][1], calls[1][1])  # the D step leaves G as it was
    assert_differ(calls[1][1], calls[2][1])  # the second G step starts after the first

    weights = torch.tensor([1.0, 0.1])
    adv = []
    for (x, codes), (_, params) in zip(drawn[1:], calls[1:], strict=True):
        g = copy.deepcopy(template)
        g.load_state_dict(params, strict=False)
        logits, q = m.discriminator(g(x))  # D as its step left it, unchanged by the G steps
        adv.append(F.softplus(-logits).mean())
        loss_g = adv[-1] - (weights * m.estimator(q, codes)).sum()
        expected_g = grads_of(loss_g, g)
    # the gradients left on G are the second step's
    torch.testing.assert_close(s.grads(m.generator), expected_g)
    torch.testing.assert_close(out[1], (adv[0] + adv[1]).detach() / 2)
    assert all(p.requires_grad for p in m.discriminator.parameters())


def test_one_g_update_is_the_default_rule() -> None:
    """g_updates = 1 (the default) is the single-G-step iteration, draw for draw."""
    a, b = Setup((1.0, 0.1)), Setup((1.0, 0.1), g_updates=1)
    for _ in range(2):
        torch.testing.assert_close(a.step(a.real), b.step(b.real), rtol=0, atol=0)
    assert_same(snapshot(a.models.generator), snapshot(b.models.generator))
    assert_same(snapshot(a.models.discriminator), snapshot(b.models.discriminator))
    assert torch.equal(a.rng.get_state(), b.rng.get_state())
    assert adam_steps(a.models.opt_g) == {2}


def test_g_updates_must_be_positive() -> None:
    data = recipe((1.0, 0.1))
    assert validate_recipe(data).method.g_updates == 1
    data["method"]["g_updates"] = 0
    with pytest.raises(RecipeError, match="g_updates"):
        validate_recipe(data)


def infogan_cr_recipe() -> dict[str, Any]:
    """A tiny run with InfoGAN-CR's dSprites options: spectral norm on D/Q, two G steps."""
    return {
        "name": "sn",
        "noise": {"type": "uniform", "dim": 2},
        "codes": [{"type": "uniform", "lambda": 0.05}, {"type": "uniform", "lambda": 0.05}],
        "backbone": {"type": "dsprites", "width": 0.25, "spectral_norm": True},
        "dataset": {
            "type": "procedural",
            "shapes": 2,
            "scales": 2,
            "orientations": 2,
            "positions_x": 2,
            "positions_y": 2,
        },
        "method": {"type": "infogan", "lr_d": 2e-3, "lr_g": 1e-3, "g_updates": 2},
        "train": {
            "iterations": 6,
            "batch_size": 4,
            "device": "cpu",
            "log_every": 1,
            "checkpoint_every": 2,
            "sample_every": 1000,
        },
        "images": {"samples": 4, "traversal_rows": 2, "traversal_steps": 3},
    }


@pytest.mark.parametrize(
    ("precision", "policy"),
    [("fp32", []), ("bf16", []), ("fp32", ["translation", "cutout"])],
)
def test_spectral_norm_and_g_updates_resume_bit_identically(
    tmp_path: Path, precision: str, policy: list[str]
) -> None:
    """The spectrally normalised D (its weights, u and v) and the optimizers go through the
    safetensors checkpoint: a run cut at iteration 4 and resumed ends where the whole run does
    (in bf16 too: the weight copies are made again from the restored weights; with DiffAugment
    too: the transformations' draws survive a resume)."""
    data = infogan_cr_recipe()
    data["train"]["precision"] = precision
    if policy:
        data["method"] = {"type": "infogan", "augment": policy}
    whole, cut = whole_and_resumed(data, tmp_path, cut=4)
    d = whole["discriminator"]
    assert any(k.endswith("parametrizations.weight.0._u") for k in d)
    for part in ("generator", "discriminator", "estimator"):
        assert whole[part].keys() == cut[part].keys()
        for k in whole[part]:
            assert torch.equal(whole[part][k], cut[part][k]), f"{part}.{k}"
    for opt in ("opt_d", "opt_g"):
        for index, state in whole[opt]["state"].items():
            for k, v in state.items():
                assert torch.equal(v, cut[opt]["state"][index][k]), f"{opt}.{index}.{k}"
    whole_log = load_run(tmp_path / "whole").metrics()
    cut_log = load_run(tmp_path / "cut").metrics()
    key = ("loss_d", "loss_g", "mi")
    assert [[r[k] for k in key] for r in whole_log] == [[r[k] for k in key] for r in cut_log]


@pytest.mark.parametrize(("lambdas", "g_updates"), [((1.0, 0.1), 1), ((0.0, 0.5), 2)])
def test_bf16_weight_copies_compute_what_autocast_computes(
    lambdas: tuple[float, float], g_updates: int
) -> None:
    """One bf16 copy per conv/linear weight, refreshed once per optimizer step, instead of
    autocast's cast in every region: the same losses and weights, bit for bit."""
    copies = Setup(lambdas, g_updates=g_updates, bf16=True)
    plain = Setup(lambdas, g_updates=g_updates, bf16=True)
    plain.models.updater.copies = {}  # autocast casts the fp32 weights in every region itself
    assert len(copies.models.updater.copies) == 2
    for _ in range(3):
        assert torch.equal(copies.step(copies.real), plain.step(plain.real))
    for part in ("generator", "discriminator"):  # Q's head is D's
        assert_same(
            getattr(copies.models, part).state_dict(), getattr(plain.models, part).state_dict()
        )
    fp32 = Setup(lambdas, g_updates=g_updates)
    fp32.step(fp32.real)
    assert_differ(snapshot(fp32.models.generator), snapshot(Setup(lambdas).models.generator))
    once = Setup(lambdas, g_updates=g_updates, bf16=True)
    once.step(once.real)
    assert_differ(snapshot(once.models.generator), snapshot(fp32.models.generator))  # not fp32
