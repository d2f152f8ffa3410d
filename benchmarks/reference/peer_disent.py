"""nmichlo/disent 0.9.3 as a peer: its frameworks (BetaVae, BetaTcVae, DipVae) around the
toolkit's own networks (the same weights), configured as disentanglement_lib trains them:
`recon_loss="bce"` on the decoder's logits with `loss_reduction="mean_sum"` (each image's
sum, the batch's mean), Adam 1e-4.

Where disent defines a loss differently from disentanglement_lib, a subclass here follows
disentanglement_lib and says so (`PATCHES`); `patched=False` runs disent as shipped:
- BetaTcVae weights the KL by β as well (β·KL + (β−1)·TC; dlib: KL + (β−1)·TC).
- DipVae's type ii adds `torch.mean(torch.diag(z_var), dim=0)` to Cov[μ]: `torch.diag` of the
  (B, Z) variances is a (B,) vector (the first row's diagonal walk), whose mean is one
  scalar added to every entry of the matrix, where dlib adds diag(E[σ²]) to the diagonal.
"""

from __future__ import annotations

from typing import Any

import torch
from disent.frameworks.vae import BetaTcVae, BetaVae, DipVae
from disent.model import AutoEncoder, DisentDecoder, DisentEncoder
from disent.nn.functional import torch_cov_matrix
from torch import nn

#: the dlib-following changes, by method (only where disent's definition differs)
PATCHES = {
    "beta_tcvae": "the KL weighted by 1, not β (dlib: KL + (β − 1)·TC)",
    "dip_vae_ii": "Cov[z] = Cov[μ] + diag(E[σ²]), not Cov[μ] + mean(torch.diag(σ²)) everywhere",
}


class _Encoder(DisentEncoder):
    def __init__(self, net: nn.Module, shape: tuple[int, ...], latents: int) -> None:
        super().__init__(x_shape=shape, z_size=latents, z_multiplier=2)
        self.net = net

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _Decoder(DisentDecoder):
    def __init__(self, logits: nn.Module, shape: tuple[int, ...], latents: int) -> None:
        super().__init__(x_shape=shape, z_size=latents)
        self.logits = logits

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.logits(z)


class _Captured:
    """A framework whose `log`/`log_dict` keep the last values (no Lightning trainer)."""

    logged: dict[str, float]

    def log(self, name: str, value: Any, **_: Any) -> None:
        self.logged[name] = float(torch.as_tensor(value).detach())

    def log_dict(self, values: dict[str, Any], **_: Any) -> None:
        for name, value in values.items():
            self.log(name, value)


class CapturedBetaVae(_Captured, BetaVae):
    pass


class CapturedDipVae(_Captured, DipVae):
    pass


class CapturedBetaTcVae(_Captured, BetaTcVae):
    pass


class DlibBetaTcVae(CapturedBetaTcVae):
    """disent's β-TCVAE with dlib's weighting: KL + (β − 1)·TC (disent's own TC estimate)."""

    def compute_ave_reg_loss(self, ds_posterior, ds_prior, zs_sampled):  # type: ignore[no-untyped-def]
        kl = self.latents_handler.compute_ave_kl_loss(ds_posterior, ds_prior, zs_sampled)
        tc_reg, logs = self._betatc_compute_loss(ds_posterior[0], zs_sampled[0])
        return kl + tc_reg, {"kl_loss": kl, **logs}


class DlibDipVae(CapturedDipVae):
    """disent's DIP-VAE with dlib's type-ii covariance: Cov[μ] + diag(E[σ²])."""

    def _dip_estimate_cov_matrix(self, d_posterior):  # type: ignore[no-untyped-def]
        cov = torch_cov_matrix(d_posterior.mean)
        if self.cfg.dip_mode == "ii":
            cov = cov + torch.diag(d_posterior.variance.mean(dim=0))
        return cov


def build(method: str, params: Any, nets: dict[str, nn.Module], patched: bool) -> Peer:
    """disent's framework for `method` with the toolkit recipe's `params` (its [method])."""
    shape = (1, 64, 64)
    latents = nets["encoder"][-1].out_features // 2
    model = AutoEncoder(
        _Encoder(nets["encoder"], shape, latents), _Decoder(nets["logits"], shape, latents)
    )
    common = {
        "recon_loss": "bce",
        "loss_reduction": "mean_sum",
        "optimizer": "adam",
        "optimizer_kwargs": {
            "lr": params.lr,
            "betas": (params.beta1, params.beta2),
            "eps": params.eps,
        },
    }
    if method == "beta_vae":
        framework = CapturedBetaVae(model, BetaVae.cfg(beta=params.beta, **common))
    elif method == "beta_tcvae":
        cls = DlibBetaTcVae if patched else CapturedBetaTcVae
        framework = cls(model, BetaTcVae.cfg(beta=params.beta, **common))
    else:
        cls = DlibDipVae if patched and method == "dip_vae_ii" else CapturedDipVae
        cfg = DipVae.cfg(
            beta=1.0,  # dlib: KL + the DIP penalty
            dip_mode=params.dip_type,
            dip_beta=1.0,
            lambda_od=params.lambda_od,
            lambda_d=params.lambda_d_factor * params.lambda_od,
            **common,
        )
        framework = cls(model, cfg)
    return Peer(framework)


class Peer:
    """One disent framework: its loss terms on a batch, its optimizer step, its means."""

    name = "disent"

    def __init__(self, framework: Any) -> None:
        self.framework = framework
        framework.logged = {}
        self.opt = framework.configure_optimizers()

    def terms(self, real: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The framework's loss on `real` (its `do_training_step`) and its logged terms."""
        f = self.framework
        f.logged = {}
        loss = f.do_training_step({"x_targ": (real,)}, 0)
        terms = {
            "reconstruction": f.logged["recon_loss"],
            "kl": f.logged["kl_loss"],
            "regulariser": f.logged["reg_loss"],
            "total": float(loss),
        }
        return loss, terms

    def step(self, real: torch.Tensor, iteration: int) -> dict[str, float]:
        loss, terms = self.terms(real)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return terms

    def set_schedule(self, iteration: int) -> None:
        """disent's methods compared here have no schedule."""

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        self.framework.eval()
        means = self.framework.encode(images)
        self.framework.train()
        return means
