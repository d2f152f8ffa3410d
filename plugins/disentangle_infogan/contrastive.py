"""Sample-based lower bounds on I(c; x) with Q's posterior in their critic: InfoNCE and NWJ.

Both score every pair of a batch, each image x_i against each code value c_k, with the critic
s(x_i, c_k) = log Q(c_k | x_i) − log p(c_k), the pointwise MI that Q implies (Poole et al.,
2019, "On variational bounds of mutual information", eqs. 12 and 8):

- InfoNCE (van den Oord et al., 2018): E_i[s_ii − log (1/n) Σ_k exp s_ik]. It stays below
  log n, the log of the batch size, however informative the code is.
- NWJ (Nguyen, Wainwright and Jordan, 2010), the f-divergence bound: with f = 1 + s,
  E_p[f] − e⁻¹ E_{p(x)p(c)}[e^f], the second expectation over the batch's mismatched pairs
  (i ≠ k). Unbiased, and tight when Q is the true posterior, but with a variance that grows
  with e^I.

Both need each code's prior density (`LatentCode.log_prior`).
"""

from __future__ import annotations

import math
from abc import abstractmethod

import torch

from disentangle import LatentCode, MIEstimator, Params, split_q
from disentangle.errors import DisentangleError


class ContrastiveParams(Params):
    pass


def pair_scores(code: LatentCode, q_part: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """log Q(c_k | x_i) − log p(c_k) for every pair of a batch, [n, n] (rows: images,
    columns: code values)."""
    n = q_part.shape[0]
    rows = q_part.unsqueeze(1).expand(n, n, q_part.shape[1]).reshape(n * n, -1)
    columns = c.unsqueeze(0).expand(n, n, c.shape[1]).reshape(n * n, -1)
    return code.log_likelihood(rows, columns).view(n, n) - code.log_prior(c).unsqueeze(0)


class PairwiseBound(MIEstimator):
    """Splits Q's output by code and scores each code's pairs."""

    def __init__(self, name: str, codes: list[LatentCode]) -> None:
        super().__init__()
        for code in codes:
            try:
                code.log_prior(code.sample(2, torch.Generator(), torch.device("cpu")))
            except NotImplementedError:
                raise DisentangleError(
                    f"estimator {name!r} needs each code's prior density, and the "
                    f"{type(code).__name__} code does not give one (LatentCode.log_prior)"
                ) from None
        self.codes = codes

    def forward(self, q_out: torch.Tensor, codes: list[torch.Tensor]) -> torch.Tensor:
        parts = split_q(q_out, self.codes)
        return torch.stack(
            [
                self.bound(pair_scores(code, part, c.float()))
                for code, part, c in zip(self.codes, parts, codes, strict=True)
            ]
        )

    @abstractmethod
    def bound(self, scores: torch.Tensor) -> torch.Tensor:
        """The code's bound in nats from its pair scores [n, n]."""

    def entropies(self) -> list[float]:
        return [c.entropy() for c in self.codes]


class InfoNCE(PairwiseBound):
    """InfoNCE; at most log(batch size)."""

    def __init__(self, spec: ContrastiveParams, codes: list[LatentCode]) -> None:
        super().__init__("infonce", codes)
        self.batch = 0  # the last batch's size: its log is the bound's ceiling

    def bound(self, scores: torch.Tensor) -> torch.Tensor:
        n = scores.shape[0]
        self.batch = n
        return (scores.diagonal() - torch.logsumexp(scores, dim=1)).mean() + math.log(n)

    def ceilings(self) -> list[float]:
        """log n for every code, and never above H(c) for a discrete one (H(c) before any
        batch)."""
        if not self.batch:
            return self.entropies()
        top = math.log(self.batch)
        return [min(top, c.entropy()) if c.discrete else top for c in self.codes]


class NWJ(PairwiseBound):
    """The NWJ (f-divergence) bound with critic 1 + log Q(c|x) − log p(c)."""

    def __init__(self, spec: ContrastiveParams, codes: list[LatentCode]) -> None:
        super().__init__("nwj", codes)

    def bound(self, scores: torch.Tensor) -> torch.Tensor:
        n = scores.shape[0]
        f = 1 + scores
        mismatched = ~torch.eye(n, dtype=torch.bool, device=f.device)
        return f.diagonal().mean() - torch.exp(f[mismatched] - 1).mean()

    def ceilings(self) -> list[float]:
        """H(c) for a discrete code; for a continuous one, 1 + H(c) + the largest log Q."""
        return [
            c.entropy() if c.discrete else 1 + c.entropy() + c.max_log_likelihood()
            for c in self.codes
        ]
