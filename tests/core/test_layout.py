"""The latent layout: one place says where the noise and each code sit in G's input, Q's output
and the representation."""

from __future__ import annotations

import torch
from support.tiny import TINY_RECIPE

from disentangle.recipe import validate_recipe
from disentangle.recipe.build import build_components


def test_each_part_has_its_columns_of_each_vector() -> None:
    data = {
        **TINY_RECIPE,
        "codes": [
            {"type": "categorical", "name": "kind", "k": 3},
            {"type": "gaussian", "name": "style", "dim": 2, "posterior_std": "learned"},
            {"type": "uniform", "name": "x"},
        ],
    }
    layout = build_components(validate_recipe(data)).layout
    noise = TINY_RECIPE["noise"]["dim"]
    assert layout.noise.input == slice(0, noise) and layout.noise.q == slice(0, 0)
    assert [p.name for p in layout.codes] == ["kind", "style", "x"]
    assert [p.input for p in layout.codes] == [
        slice(noise, noise + 3),
        slice(noise + 3, noise + 5),
        slice(noise + 5, noise + 6),
    ]
    assert [p.q for p in layout.codes] == [slice(0, 3), slice(3, 7), slice(7, 8)]
    assert layout.representation_columns() == {
        "kind": slice(0, 3),
        "style": slice(3, 5),
        "x": slice(5, 6),
    }
    assert (layout.input_dim, layout.q_dim) == (noise + 6, 8)
    q_out = torch.arange(16.0).reshape(2, 8)
    blocks = layout.split_q(q_out)
    assert [b.shape[1] for b in blocks] == [3, 4, 1]
    assert all(torch.equal(b, q_out[:, p.q]) for b, p in zip(blocks, layout.codes, strict=True))
