"""The `infogan` method trains what InfoGAN's update rule, written out here by hand, trains.

The reference is the paper's iteration with nothing of the toolkit's but the networks (deep
copies, so both sides start from the same weights): it takes the latents the method drew (read
at G's input), computes L_I from Q's raw outputs (softmax for the categorical code, a unit-std
Gaussian for the uniform one, each plus H(c)), the non-saturating GAN losses, and steps with an
Adam written out below. After every iteration the method's returned numbers, the gradients it
left, and every weight and buffer of G and D (BN statistics and spectral norm's vectors
included) must match the reference's.

Matching is measured in norms, so that no CPU's order of summation decides it: each network's
gradients within REL of the norm of the reference's, its weights and each buffer within REL of
how far the reference's step moved them. In fp32 each step of the reference (the D step, each G
step) starts from the state the method's step started from, read at G's input: the two then
run the same forward to the bit, and a ReLU whose input sits within round-off of zero cannot
open on one side and stay shut on the other. (Chained, two runs that differ by round-off can
meet such a unit: on an Intel Xeon that moved G's gradient by 1.4e-2 in one step.) fp32
round-off stays far below REL (the largest error measured is in `docs/guide.md`, "Testing the
update rule"); a flipped sign, a dropped λ or a skipped optimizer step in the method breaks it
by orders of magnitude. The bf16 path (autocast with bf16 weight copies) is held to the fp32
reference, chained from the same start, at bf16's own precision: the returned numbers, and
each network's update in direction and size.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from support.tiny import tiny_grid
from torch import nn

from disentangle.method import Method, MethodSetup
from disentangle.plugins import host
from disentangle.recipe import validate_recipe
from disentangle.recipe.build import build_components

CPU = torch.device("cpu")
#: the devices the fp32 comparison runs on: the CPU, and a CUDA device where there is one
#: (marked `cuda`: benchmarks/gpu_check.sh runs them)
DEVICES = [
    pytest.param(CPU, id="cpu"),
    pytest.param(
        torch.device("cuda"),
        id="cuda",
        marks=[
            pytest.mark.cuda,
            pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
        ],
    ),
]
BATCH, ITERATIONS = 8, 3
#: iterations the method trains in fp32 before the comparison: at initialisation G's images
#: barely differ, D's batch norm divides by their tiny spread, and round-off is amplified
WARMUP = 200
NOISE, K = 4, 3  # z's width; the categorical code's categories (then one uniform code)
LR_D, LR_G, BETAS = 2e-4, 1e-3, (0.5, 0.999)
#: fp32: the largest error allowed, relative to the reference's gradient or update, network by
#: network, and buffer by buffer (measured: at most 2.4e-6 at the CPU capabilities default,
#: avx2 and avx512 and at one thread; a flipped sign, a dropped λ or a skipped step: 0.24 and
#: up, see docs/guide.md)
REL = 1e-3
#: bf16: the error allowed in the returned numbers (measured: at most 3.7e-2); each network's
#: update since the comparison began against the fp32 reference's, the least cosine (measured:
#: 0.52) and the range of its norm's ratio (measured: 0.95 to 1.08)
BF16_ATOL, BF16_COSINE, BF16_RATIO = 0.1, 0.3, (0.5, 2.0)


@dataclass(frozen=True)
class Case:
    """A tiny run's settings: the codes' λs, G steps per D step, spectral norm on D/Q, and the
    method's options (recipe: method.mi_trains_trunk, method.g_latents)."""

    lambdas: tuple[float, float] = (1.0, 0.1)
    g_updates: int = 1
    sn: bool = False
    mi_trains_trunk: bool = True
    g_latents: str = "fresh"


CASES = {
    "plain": Case(),
    "one_code_free": Case(lambdas=(1.0, 0.0)),
    "two_g_steps_spectral_norm": Case(g_updates=2, sn=True),
    "mi_spares_the_trunk": Case(lambdas=(1.0, 0.0), mi_trains_trunk=False),
    "g_reuses_the_latents_twice": Case(g_updates=2, g_latents="reuse"),
}


def recipe(case: Case, bf16: bool, device: torch.device) -> Any:
    method = {
        "mi_trains_trunk": case.mi_trains_trunk,
        "g_latents": case.g_latents,
        "g_updates": case.g_updates,
        "lr_d": LR_D,
        "lr_g": LR_G,
        "beta1": BETAS[0],
        "beta2": BETAS[1],
    }
    return validate_recipe(
        {
            "method": {"type": "infogan", **method},
            "noise": {"type": "uniform", "dim": NOISE},
            "codes": [
                {"type": "categorical", "k": K, "lambda": case.lambdas[0]},
                {"type": "uniform", "lambda": case.lambdas[1]},
            ],
            "backbone": {"type": "mnist", "width": 0.125, "spectral_norm": case.sn},
            "dataset": tiny_grid(),
            "train": {
                "batch_size": BATCH,
                "device": str(device),
                "precision": "bf16" if bf16 else "fp32",
            },
        }
    )


class Adam:
    """Kingma & Ba's Adam, step by step (eps 1e-8, no weight decay)."""

    def __init__(self, params: list[nn.Parameter], lr: float) -> None:
        self.params, self.lr, self.t = params, lr, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    def resume(self, optimizer: torch.optim.Optimizer, params: list[nn.Parameter]) -> None:
        """Continue from a torch optimizer's moments (the method's, at the same weights)."""
        for p, m, v in zip(params, self.m, self.v, strict=True):
            state = optimizer.state.get(p)
            if state:
                m.copy_(state["exp_avg"])
                v.copy_(state["exp_avg_sq"])
                self.t = int(state["step"])

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor]) -> None:
        self.t += 1
        b1, b2 = BETAS
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            m_hat, v_hat = m / (1 - b1**self.t), v / (1 - b2**self.t)
            p.sub_(self.lr * m_hat / (v_hat.sqrt() + 1e-8))


def bounds(q: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
    """L_I of the categorical and the uniform code: E[log Q(c|x)] + H(c)."""
    _, onehot, u = torch.split(latents, [NOISE, K, 1], dim=1)
    logits, mean = q[:, :K].float(), q[:, K:].float()
    categorical = (F.log_softmax(logits, dim=1) * onehot).sum(1).mean() + math.log(K)
    uniform = (-0.5 * (u - mean).square() - 0.5 * math.log(2 * math.pi)).sum(1).mean()
    return torch.stack([categorical, uniform + math.log(2)])


#: each network's state_dict (weights and buffers), copied
State = dict[str, dict[str, torch.Tensor]]


def snapshot(g: nn.Module, d: nn.Module) -> State:
    return {
        "generator": copy.deepcopy(g.state_dict()),
        "discriminator": copy.deepcopy(d.state_dict()),
    }


@dataclass
class Reference:
    """InfoGAN's iteration on copies of the method's G and D; with `mi_trains_trunk` false,
    the D step's L_I reaches Q's head only (each code at its λ, a code with λ = 0 at 1)."""

    g: nn.Module
    d: nn.Module
    weights: torch.Tensor
    mi_trains_trunk: bool

    def __post_init__(self) -> None:
        self.d_params = list(self.d.parameters())
        self.g_params = list(self.g.parameters())
        self.opt_d, self.opt_g = Adam(self.d_params, LR_D), Adam(self.g_params, LR_G)
        self.grads: dict[str, list[torch.Tensor]] = {}
        #: both networks' state after each step of the last iteration
        self.after: list[State] = []

    def iteration(
        self, real: torch.Tensor, latents: list[torch.Tensor], states: list[State] | None = None
    ) -> torch.Tensor:
        """The D/Q step on the first latents, then one G step on each of the others; with
        `states`, each step first loads the networks' state at its index (Adam's moments stay
        the reference's own)."""
        self.after.clear()
        outs = []
        for i, x in enumerate(latents):
            if states is not None:
                self.g.load_state_dict(states[i]["generator"])
                self.d.load_state_dict(states[i]["discriminator"])
            outs.append(self._g_step(x) if i else self._d_step(real, x))
            self.after.append(snapshot(self.g, self.d))
        (adv_d, b), adv_g = outs[0], outs[1:]
        return torch.cat([torch.stack([adv_d, sum(adv_g) / len(adv_g)]), b]).detach()

    def _d_step(self, real: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """D's adversarial loss and L_I per code."""
        d, free = self.d, (self.weights == 0).float()
        with torch.no_grad():
            fake = self.g(x)
        real_logits = d.d_head(d.trunk(real)).flatten()
        features = d.trunk(fake)
        fake_logits = d.d_head(features).flatten()
        adv_d = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        if self.mi_trains_trunk:
            b = bounds(d.q_head(features), x)
            loss_d = adv_d - (self.weights * b).sum()
            if free.any():  # a code with λ = 0: Q learns it on features that train nothing else
                loss_d = loss_d - (free * bounds(d.q_head(features.detach()), x)).sum()
        else:
            b = bounds(d.q_head(features.detach()), x)
            loss_d = adv_d - ((self.weights + free) * b).sum()
        self.grads["discriminator"] = list(torch.autograd.grad(loss_d, self.d_params))
        self.opt_d.step(self.grads["discriminator"])
        return adv_d, b

    def _g_step(self, x: torch.Tensor) -> torch.Tensor:
        """G's adversarial loss."""
        features = self.d.trunk(self.g(x))
        adv_g = F.softplus(-self.d.d_head(features).flatten()).mean()
        loss_g = adv_g - (self.weights * bounds(self.d.q_head(features), x)).sum()
        self.grads["generator"] = list(torch.autograd.grad(loss_g, self.g_params))
        self.opt_g.step(self.grads["generator"])
        return adv_g


def relative_error(got: torch.Tensor, want: torch.Tensor, scale: torch.Tensor) -> float:
    """‖got − want‖ / ‖scale‖ (0 when both are equal)."""
    diff = (got.double() - want.double()).norm()
    return 0.0 if diff == 0 else float(diff / scale.double().norm().clamp_min(1e-30))


def flat(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.detach().double().reshape(-1) for t in tensors])


def errors(method: Method, ref: Reference, states: list[State]) -> dict[str, float]:
    """The method's relative errors against the reference, which started each step from the
    method's state (`states`: at each step's start, then at the iteration's end): each
    network's gradients as a whole against the reference's; after each step, each network's
    weights as a whole and each buffer (batch-norm statistics, spectral norm's vectors)
    against how far the reference's step moved them. (One tensor's gradient can be a
    near-cancelling sum, a bias before a sigmoid say, whose relative error says nothing of the
    step.)"""
    found: dict[str, float] = {}
    for part, ref_net in (("generator", ref.g), ("discriminator", ref.d)):
        net = method.networks[part]
        got = flat(
            [p.grad if p.grad is not None else torch.zeros_like(p) for p in net.parameters()]
        )
        want = flat(ref.grads[part])
        found[f"{part}'s gradients"] = relative_error(got, want, want)
        weights = [n for n, _ in ref_net.named_parameters()]
        for i, after in enumerate(ref.after):
            step = f"step {i + 1} ({'G' if i else 'D'}): {part}"
            before, want_state, state = states[i][part], after[part], states[i + 1][part]
            moved = flat([want_state[k] - before[k] for k in weights])
            got, want = flat([state[k] for k in weights]), flat([want_state[k] for k in weights])
            found[f"{step}'s weights"] = relative_error(got, want, moved)
            for name in set(want_state) - set(weights):
                if want_state[name].is_floating_point():
                    moved = want_state[name] - before[name]
                    found[f"{step}.{name}"] = relative_error(state[name], want_state[name], moved)
                else:  # BN's batch counts
                    found[f"{step}.{name}"] = float(not torch.equal(state[name], want_state[name]))
    return found


def updates(method: Method, ref: Reference, start: State) -> dict[str, tuple[float, float]]:
    """Each network's update of its weights since the start against the reference's: their
    cosine, and the ratio of their norms."""
    found = {}
    for part, ref_net in (("generator", ref.g), ("discriminator", ref.d)):
        names = [n for n, _ in ref_net.named_parameters()]
        state, want_state = method.networks[part].state_dict(), ref_net.state_dict()
        step = flat([state[k] - start[part][k] for k in names])
        want = flat([want_state[k] - start[part][k] for k in names])
        cosine = float(F.cosine_similarity(step, want, dim=0))
        found[part] = cosine, float(step.norm() / want.norm())
    return found


def build(case: str, bf16: bool, device: torch.device) -> Method:
    rec = recipe(CASES[case], bf16, device)
    torch.manual_seed(0)
    rng = torch.Generator(device).manual_seed(0)
    setup = MethodSetup(rec, build_components(rec), device, rng)
    return host.methods.build(rec.method, setup)


def batches(method: Method) -> list[torch.Tensor]:
    images = method.comps.dataset.load().images.float() / 255  # the backbone's [0, 1]
    return list(
        images[torch.randperm(len(images), generator=torch.Generator().manual_seed(1))].split(BATCH)
    )


@dataclass
class Comparison:
    """After each iteration: the method's and the reference's returned numbers; in fp32 the
    method's errors (`errors`), in bf16 its networks' updates against the reference's
    (`updates`)."""

    outs: list[torch.Tensor]
    ref_outs: list[torch.Tensor]
    errors: list[dict[str, float]]
    updates: list[dict[str, tuple[float, float]]]


def compare(case: str, bf16: bool, warmup: int = 0, device: torch.device = CPU) -> Comparison:
    """ITERATIONS iterations of the method and of the reference, side by side, after `warmup`
    iterations of the method in fp32 (handed to the bf16 method as a resume would): in fp32
    each step of the reference starts from the method's state, in bf16 the reference runs on
    from the start on its own."""
    settings = CASES[case]
    method = build(case, False, device)
    data = [batch.to(device) for batch in batches(method)]
    for i in range(warmup):
        method.step(data[i % len(data)])
    if bf16:
        trained, method = method, build(case, True, device)
        for name, net in method.networks.items():
            net.load_state_dict(trained.networks[name].state_dict())
        for name, opt in method.optimizers.items():
            opt.load_state_dict(trained.optimizers[name].state_dict())
        method.updater.restored()
    g, d = method.networks["generator"], method.networks["discriminator"]
    weights = torch.tensor(settings.lambdas, device=device)
    ref = Reference(copy.deepcopy(g), copy.deepcopy(d), weights, settings.mi_trains_trunk)
    ref.opt_d.resume(method.optimizers["opt_d"], list(d.parameters()))
    ref.opt_g.resume(method.optimizers["opt_g"], list(g.parameters()))
    start = snapshot(g, d)

    # at each of G's calls (the D step's fake batch, then each G step): its input, and the
    # state both networks are in as that step starts
    drawn: list[tuple[torch.Tensor, State]] = []
    g.register_forward_pre_hook(
        lambda _, args: drawn.append((args[0].detach().clone(), snapshot(g, d)))
    )
    result = Comparison([], [], [], [])
    for i in range(ITERATIONS):
        real = data[(warmup + i) % len(data)]
        drawn.clear()
        result.outs.append(method.step(real))
        assert len(drawn) == 1 + settings.g_updates  # G ran for the D step and each G step
        latents, states = [x for x, _ in drawn], [state for _, state in drawn]
        for x in latents[1:]:  # each G step on the D step's latents, or on its own
            assert torch.equal(x, latents[0]) == (settings.g_latents == "reuse")
        if bf16:  # chained: the reference runs on from its own weights
            result.ref_outs.append(ref.iteration(real, latents))
            result.updates.append(updates(method, ref, start))
        else:
            result.ref_outs.append(ref.iteration(real, latents, states))
            result.errors.append(errors(method, ref, [*states, snapshot(g, d)]))
    return result


def worst(found: dict[str, float]) -> tuple[str, float]:
    name = max(found, key=found.__getitem__)
    return name, found[name]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", list(CASES))
def test_the_method_trains_what_the_update_rule_trains(case: str, device: torch.device) -> None:
    c = compare(case, bf16=False, warmup=WARMUP, device=device)
    for i, (out, want, errs) in enumerate(zip(c.outs, c.ref_outs, c.errors, strict=True)):
        torch.testing.assert_close(out, want, rtol=1e-4, atol=1e-6, msg=f"iteration {i + 1}")
        name, err = worst(errs)
        assert err < REL, f"iteration {i + 1}: {name} is off by {err:.2e} of its scale"


@pytest.mark.parametrize("case", list(CASES))
def test_bf16_trains_what_the_fp32_update_rule_trains_to_bf16_s_precision(case: str) -> None:
    """bf16 rounds to about 2⁻⁸; on these tiny networks, whose batch norms cancel most of each
    gradient, D's and G's gradients then differ from fp32's by 30-150%, and Adam's steps
    follow them: what is held is the direction and size of each network's update, not its
    elements. Stale bf16 weight copies turn the update away (cosine at most 0.06), gradients
    left on the copies leave most weights where they were (cosine at most 0.13)."""
    c = compare(case, bf16=True, warmup=WARMUP)
    low, high = BF16_RATIO
    for i, (out, want, moved) in enumerate(zip(c.outs, c.ref_outs, c.updates, strict=True)):
        torch.testing.assert_close(out, want, rtol=0, atol=BF16_ATOL, msg=f"iteration {i + 1}")
        for part, (cosine, ratio) in moved.items():
            assert cosine > BF16_COSINE, f"iteration {i + 1}: {part}'s update turned ({cosine})"
            assert low < ratio < high, f"iteration {i + 1}: {part}'s update is {ratio}× fp32's"


def test_the_guide_states_the_reference_test_s_tolerances() -> None:
    guide_page = Path(__file__).resolve().parents[3] / "docs" / "guide.md"
    guide = " ".join(guide_page.read_text().split())
    warmup = re.search(r"after (\d+) fp32 iterations of warm-up", guide)
    rel = re.search(r"must be within ([0-9.e-]+) of their scale", guide)
    bf16 = re.search(
        r"within ([0-9.]+) of fp32's .*? cosine above ([0-9.]+) .*? between ([0-9.]+) and "
        r"([0-9.]+) times",
        guide,
    )
    assert warmup and rel and bf16, "docs/guide.md, 'Testing the update rule'"
    assert int(warmup.group(1)) == WARMUP
    assert float(rel.group(1)) == REL
    assert float(bf16.group(1)) == BF16_ATOL and float(bf16.group(2)) == BF16_COSINE
    assert (float(bf16.group(3)), float(bf16.group(4))) == BF16_RATIO
