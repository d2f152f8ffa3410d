"""bf16 weight copies: swapped in for a region, gradients moved onto the fp32 parameters, refreshed
after the optimizer step; layers with a computed weight are left to autocast."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from disentangle.precision import WeightCopies


def model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), spectral_norm(nn.Linear(4, 2)))


def test_copies_cover_plain_conv_and_linear_parameters_only() -> None:
    m = model()
    copies = WeightCopies(m, torch.bfloat16)
    assert [name for _, name, _ in copies.slots] == ["weight", "bias"]  # the first Linear's
    assert all(c.dtype == torch.bfloat16 for c in copies.copies)
    assert torch.equal(copies.copies[0], m[0].weight.detach().to(torch.bfloat16))


def test_swapped_computes_with_the_copies_and_restores_the_parameters() -> None:
    m = model()
    weight = m[0].weight
    copies = WeightCopies(m, torch.bfloat16)
    m[0].weight.requires_grad_(False)
    with copies.swapped():
        assert m[0].weight is copies.copies[0]
        assert not m[0].weight.requires_grad  # as trainable as the parameter it stands for
        assert m[1].weight.dtype == torch.float32  # batch norm is not a copied layer
    assert m[0].weight is weight and m[0].weight.dtype == torch.float32
    assert dict(m.named_parameters())["0.weight"] is weight


def test_gradients_move_to_the_parameters_and_the_copies_follow_a_step() -> None:
    m = model()
    copies = WeightCopies(m, torch.bfloat16)
    x = torch.randn(5, 3)
    with copies.swapped(), torch.autocast("cpu", dtype=torch.bfloat16):
        m(x).sum().backward()
    assert m[0].weight.grad is None and copies.copies[0].grad is not None
    expected = copies.copies[0].grad.float()
    copies.move_gradients()
    assert torch.equal(m[0].weight.grad, expected) and copies.copies[0].grad is None
    with copies.swapped(), torch.autocast("cpu", dtype=torch.bfloat16):
        m(x).sum().backward()
    copies.move_gradients()  # adds to a gradient already there
    torch.testing.assert_close(m[0].weight.grad, 2 * expected)
    with torch.no_grad():
        m[0].weight.add_(1.0)
    assert not torch.equal(copies.copies[0], m[0].weight.detach().to(torch.bfloat16))
    copies.refresh()
    assert torch.equal(copies.copies[0], m[0].weight.detach().to(torch.bfloat16))
