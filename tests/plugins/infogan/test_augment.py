"""DiffAugment's transformations (method.augment): what each does to every image, and that
gradients pass through them."""

from __future__ import annotations

import pytest
import torch
from disentangle_infogan.augment import augment, cutout, translate

N, C, SIDE = 16, 2, 16


def images() -> torch.Tensor:
    return torch.rand(N, C, SIDE, SIDE, generator=torch.Generator().manual_seed(1)) + 0.5


def shifted(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """`image` moved down by dy and right by dx, zeros shifted in (slicing, not indexing)."""
    out = torch.zeros_like(image)
    h, w = image.shape[-2:]
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def test_translation_shifts_each_image_within_an_eighth() -> None:
    x = images()
    y = translate(x, torch.Generator().manual_seed(0))
    reach = SIDE // 8
    moves = set()
    for before, after in zip(x, y, strict=True):
        found = [
            (dy, dx)
            for dy in range(-reach, reach + 1)
            for dx in range(-reach, reach + 1)
            if torch.equal(after, shifted(before, dy, dx))
        ]
        assert len(found) == 1  # pixels are all positive: one shift explains the image
        moves.add(found[0])
    assert len(moves) > 1  # each image draws its own shift


def test_cutout_zeroes_one_square_per_image() -> None:
    x = images()
    y = cutout(x, torch.Generator().manual_seed(0))
    side = SIDE // 2
    for before, after in zip(x, y, strict=True):
        zero = after == 0
        assert torch.equal(zero[0], zero[1])  # the same square in every channel
        rows, cols = zero[0].nonzero(as_tuple=True)
        assert 0 < rows.numel() <= side * side
        top, left = rows.min(), cols.min()
        height, width = rows.max() - top + 1, cols.max() - left + 1
        assert rows.numel() == height * width  # a rectangle: the square clipped at the border
        assert height <= side and width <= side
        assert height == side or top == 0 or top + height == SIDE
        kept = ~zero
        assert torch.equal(after[kept], before[kept])


@pytest.mark.parametrize("policy", [["translation"], ["cutout"], ["translation", "cutout"]])
def test_same_seed_same_draws_and_gradients_pass(policy: list[str]) -> None:
    x = images().requires_grad_(True)
    a = augment(x, policy, torch.Generator().manual_seed(3))
    b = augment(x, policy, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    a.sum().backward()
    # each output pixel reads at most one input pixel, with weight 1
    assert set(x.grad.unique().tolist()) <= {0.0, 1.0}
    assert x.grad.sum() == (a != 0).sum()


def test_no_policy_is_the_identity() -> None:
    x = images()
    assert augment(x, [], torch.Generator()) is x
