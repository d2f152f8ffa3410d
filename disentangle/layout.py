"""Where each latent part sits: for the noise and each code, its columns of G's input, of Q's
output and of the representation that evaluation scores. The one place these are computed:
figures, evaluation, the estimators and the methods read them from here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from disentangle.components import LatentCode


@dataclass(frozen=True)
class Part:
    """One latent part: its name, its code, and its columns of each vector."""

    name: str
    code: LatentCode
    #: its columns of the generator's input (noise first, then the codes in recipe order)
    input: slice
    #: its columns of Q's raw output (none for the noise, which Q never infers)
    q: slice
    #: its columns of the representation (`Method.encode`; none for the noise)
    representation: slice


def split_q(q_out: torch.Tensor, codes: Sequence[LatentCode]) -> tuple[torch.Tensor, ...]:
    """Q's raw output [n, Σ q_dim] as one block per code, in order."""
    return torch.split(q_out, [c.q_dim for c in codes], dim=1)


@dataclass(frozen=True)
class Layout:
    """The noise's part and each code's, in recipe order."""

    noise: Part
    codes: tuple[Part, ...]

    @classmethod
    def of(cls, noise: LatentCode, codes: Sequence[LatentCode], names: Sequence[str]) -> Layout:
        none = slice(0, 0)
        parts, at, q, rep = [], noise.dim, 0, 0
        for name, code in zip(names, codes, strict=True):
            parts.append(
                Part(
                    name,
                    code,
                    input=slice(at, at + code.dim),
                    q=slice(q, q + code.q_dim),
                    representation=slice(rep, rep + code.dim),
                )
            )
            at, q, rep = at + code.dim, q + code.q_dim, rep + code.dim
        return cls(Part("noise", noise, slice(0, noise.dim), none, none), tuple(parts))

    @property
    def input_dim(self) -> int:
        """The generator's input width: the noise's and every code's dimensions."""
        return self.noise.input.stop + sum(p.code.dim for p in self.codes)

    @property
    def q_dim(self) -> int:
        """Q's output width: what every code's posterior needs."""
        return sum(p.code.q_dim for p in self.codes)

    def representation_columns(self) -> dict[str, slice]:
        """Each code's columns of the representation, by name."""
        return {p.name: p.representation for p in self.codes}

    def split_q(self, q_out: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Q's raw output as one block per code."""
        return split_q(q_out, [p.code for p in self.codes])
