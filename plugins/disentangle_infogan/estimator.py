"""The variational lower bound L_I = E[log Q(c|x)] + H(c) of InfoGAN."""

from __future__ import annotations

import torch

from disentangle import LatentCode, MIEstimator, Params, split_q


class VariationalParams(Params):
    pass


class VariationalMI(MIEstimator):
    """Splits Q's output by code and returns each code's L_I (nats)."""

    def __init__(self, spec: VariationalParams, codes: list[LatentCode]) -> None:
        super().__init__()
        self.codes = codes

    def forward(self, q_out: torch.Tensor, codes: list[torch.Tensor]) -> torch.Tensor:
        parts = split_q(q_out, self.codes)
        bounds = [
            code.log_likelihood(part, c).mean() + code.entropy()
            for code, part, c in zip(self.codes, parts, codes, strict=True)
        ]
        return torch.stack(bounds)

    def entropies(self) -> list[float]:
        return [c.entropy() for c in self.codes]

    def ceilings(self) -> list[float]:
        """H(c) + the largest E[log Q(c|x)]: for U(−1, 1) with std 1, log 2 − ½ log 2π."""
        return [c.entropy() + c.max_log_likelihood() for c in self.codes]
