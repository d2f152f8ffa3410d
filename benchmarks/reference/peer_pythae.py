"""pythae 0.1.2 as a peer: its BetaVAE, BetaTCVAE, FactorVAE and DisentangledBetaVAE (Burgess
et al.'s capacity annealing: disentanglement_lib's AnnealedVAE) around the toolkit's own
networks (the same weights; FactorVAE's TC discriminator is the toolkit's six-layer one, where
pythae's own has five), `reconstruction_loss="bce"` (pythae's binary cross entropy of the
sigmoid output), and the Adam steps of pythae's trainers (BaseTrainer: one Adam on every
parameter; AdversarialTrainer for FactorVAE: the VAE's Adam and the discriminator's, its four
lines of backward and step).

Where pythae defines a loss differently from disentanglement_lib, a subclass here follows
disentanglement_lib and says so (`PATCHES`); `patched=False` runs pythae as shipped:
- BetaTCVAE: α·MI + β·TC + γ·dim-KL from one sample (with α = γ = 1: a one-sample KL estimate,
  not the closed form) and TC with its constant (D − 1)·log(B·N); dlib: the closed-form KL +
  (β − 1)·TC without the constant (both the minibatch-weighted estimate).
- FactorVAE: the VAE's terms on one half of the batch and the permuted codes from the other
  half; the discriminator's loss sees z without detaching it, and AdversarialTrainer steps the
  encoder with that loss's gradient added to the VAE's; dlib: one batch for both, the
  discriminator's loss on z detached, each optimizer with its own loss only.
- DisentangledBetaVAE: γ·|KL − C| per image, then the batch mean, with C raised per epoch;
  dlib: γ·|batch-mean KL − C|, C raised per iteration.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pythae.models import (
    BetaTCVAE,
    BetaTCVAEConfig,
    BetaVAE,
    BetaVAEConfig,
    DisentangledBetaVAE,
    DisentangledBetaVAEConfig,
    FactorVAE,
    FactorVAEConfig,
)
from pythae.models.base.base_utils import ModelOutput
from pythae.models.nn import BaseDecoder, BaseEncoder
from torch import nn

PATCHES = {
    "beta_tcvae": "the closed-form KL + (β − 1)·TC, TC without its constant",
    "factor_vae": "one batch for the VAE and the permuted codes; the discriminator's loss on z "
    "detached (each optimizer gets its own loss's gradient only)",
    "annealed_vae": "γ·|batch-mean KL − C|, C = c_max·min(1, iteration / iteration_threshold)",
}


class _Encoder(BaseEncoder):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> ModelOutput:
        mean, log_var = self.net(x).chunk(2, dim=1)
        return ModelOutput(embedding=mean, log_covariance=log_var)


class _Decoder(BaseDecoder):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, z: torch.Tensor) -> ModelOutput:
        return ModelOutput(reconstruction=self.net(z))


def _bce(recon_x: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """pythae's "bce" reconstruction per image."""
    n = x.shape[0]
    return F.binary_cross_entropy(recon_x.reshape(n, -1), x.reshape(n, -1), reduction="none").sum(
        dim=-1
    )


def _kl(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """pythae's closed-form KL per image."""
    return -0.5 * torch.sum(1 + log_var - mu.pow(2) - log_var.exp(), dim=-1)


class DlibBetaTCVAE(BetaTCVAE):
    """pythae's β-TCVAE with dlib's objective: closed-form KL + (β − 1)·TC, TC from pythae's
    own log densities without the constant."""

    def loss_function(self, recon_x, x, mu, log_var, z, dataset_size):  # type: ignore[no-untyped-def]
        recon, kl = _bce(recon_x, x), _kl(mu, log_var)
        log_q = self._compute_log_gauss_density(
            z.unsqueeze(1), mu.unsqueeze(0), log_var.unsqueeze(0)
        )
        log_qz = torch.logsumexp(log_q.sum(dim=-1), dim=-1)
        log_prod_qz = torch.logsumexp(log_q, dim=1).sum(dim=-1)
        tc = (log_qz - log_prod_qz).mean()
        reg = kl.mean() + (self.beta - 1) * tc
        return recon.mean() + reg, recon.mean(), reg


class DlibFactorVAE(FactorVAE):
    """pythae's FactorVAE with dlib's batch use: the whole batch for the VAE's terms and for
    the permuted codes (pythae's own `_permute_dims`), the discriminator's loss on z detached."""

    def forward(self, inputs: Any, **kwargs: Any) -> ModelOutput:
        x = inputs["data"]
        out = self.encoder(x)
        mu, log_var = out.embedding, out.log_covariance
        z, _ = self._sample_gauss(mu, torch.exp(0.5 * log_var))
        recon_x = self.decoder(z)["reconstruction"]
        permuted = self._permute_dims(z).detach()
        recon, kl = _bce(recon_x, x), _kl(mu, log_var)
        logits = self.discriminator(z)
        tc = (logits[:, 0] - logits[:, 1]).mean()
        autoencoder_loss = recon.mean() + kl.mean() + self.gamma * tc
        joint = torch.zeros(len(z), dtype=torch.long)
        product = torch.ones(len(z), dtype=torch.long)
        discriminator_loss = 0.5 * (
            F.cross_entropy(self.discriminator(z.detach()), joint)
            + F.cross_entropy(self.discriminator(permuted), product)
        )
        return ModelOutput(
            loss=autoencoder_loss + discriminator_loss,
            recon_loss=recon.mean(),
            kl=kl.mean(),
            tc=tc,
            autoencoder_loss=autoencoder_loss,
            discriminator_loss=discriminator_loss,
        )


class DlibAnnealedVAE(DisentangledBetaVAE):
    """pythae's capacity-annealed β-VAE with dlib's AnnealedVAE objective, C by iteration."""

    iteration = 0
    threshold = 1

    def loss_function(self, recon_x, x, mu, log_var, z, epoch):  # type: ignore[no-untyped-def]
        recon, kl = _bce(recon_x, x), _kl(mu, log_var)
        capacity = self.C * min(1.0, self.iteration / self.threshold)
        reg = self.beta * (kl.mean() - capacity).abs()
        return recon.mean() + reg, recon.mean(), kl.mean()


def build(method: str, params: Any, nets: dict[str, nn.Module], patched: bool) -> Peer:
    """pythae's model for `method` with the toolkit recipe's `params` (its [method])."""
    latents = nets["encoder"][-1].out_features // 2
    common = {"input_dim": (1, 64, 64), "latent_dim": latents, "reconstruction_loss": "bce"}
    parts = {"encoder": _Encoder(nets["encoder"]), "decoder": _Decoder(nets["decoder"])}
    if method == "beta_vae":
        model = BetaVAE(BetaVAEConfig(beta=params.beta, **common), **parts)
    elif method == "beta_tcvae":
        config = BetaTCVAEConfig(alpha=1.0, beta=params.beta, gamma=1.0, use_mss=False, **common)
        model = (DlibBetaTCVAE if patched else BetaTCVAE)(config, **parts)
    elif method == "factor_vae":
        model = (DlibFactorVAE if patched else FactorVAE)(
            FactorVAEConfig(gamma=params.gamma, **common), **parts
        )
        model.discriminator = nets["critic"]
    else:
        # pythae raises C per epoch over warmup_epoch epochs: the threshold in dSprites epochs
        warmup = max(1, round(params.iteration_threshold / (737_280 // 64)))
        config = DisentangledBetaVAEConfig(
            beta=params.gamma, C=params.c_max, warmup_epoch=warmup, **common
        )
        model = (DlibAnnealedVAE if patched else DisentangledBetaVAE)(config, **parts)
        model.threshold = params.iteration_threshold
    return Peer(model, params, method == "factor_vae")


class Peer:
    """One pythae model: its loss terms on a batch, its trainer's optimizer step, its means."""

    name = "pythae"

    def __init__(self, model: Any, params: Any, adversarial: bool) -> None:
        self.model, self.adversarial = model, adversarial
        self.epoch = 0
        if adversarial:
            vae = [*model.encoder.parameters(), *model.decoder.parameters()]
            self.opt = torch.optim.Adam(vae, lr=params.lr, betas=(params.beta1, params.beta2))
            self.opt_tc = torch.optim.Adam(
                model.discriminator.parameters(),
                lr=params.lr_tc,
                betas=(params.beta1_tc, params.beta2_tc),
            )
        else:
            self.opt = torch.optim.Adam(
                model.parameters(), lr=params.lr, betas=(params.beta1, params.beta2)
            )

    def terms(self, real: torch.Tensor) -> tuple[Any, dict[str, float]]:
        """The model's forward on `real` and its terms (the regulariser as the model weights
        it, not as total − reconstruction, which float32 rounds away when it is small)."""
        model = self.model
        out = model({"data": real}, epoch=self.epoch, dataset_size=737_280)
        terms = {"reconstruction": float(out.recon_loss)}
        if self.adversarial:
            terms["total"] = float(out.autoencoder_loss)
            if "kl" in out:  # the dlib-following subclass gives its terms
                terms["kl"] = float(out.kl)
                terms["regulariser"] = float(out.kl + model.gamma * out.tc)
            else:
                terms["regulariser"] = float(out.autoencoder_loss - out.recon_loss)
            terms["loss_tc"] = float(out.discriminator_loss)
            return out, terms
        terms["total"] = float(out.loss)
        if isinstance(model, BetaTCVAE):  # its reg_loss is the whole regulariser
            terms["regulariser"] = float(out.reg_loss)
        elif isinstance(model, DisentangledBetaVAE):
            terms["kl"] = float(out.reg_loss)
            terms["regulariser"] = float(out.loss - out.recon_loss)
        else:
            terms["kl"] = float(out.reg_loss)
            terms["regulariser"] = float(model.beta * out.reg_loss)
        return out, terms

    def step(self, real: torch.Tensor, iteration: int) -> dict[str, float]:
        self.set_schedule(iteration)
        out, terms = self.terms(real)
        if self.adversarial:  # pythae's AdversarialTrainer._optimizers_step
            self.opt.zero_grad()
            out.autoencoder_loss.backward(retain_graph=True)
            self.opt_tc.zero_grad()
            out.discriminator_loss.backward()
            self.opt.step()
            self.opt_tc.step()
        else:
            self.opt.zero_grad()
            out.loss.backward()
            self.opt.step()
        return terms

    def set_schedule(self, iteration: int) -> None:
        """The annealing's position: the iteration (patched) or the epoch (as shipped)."""
        self.model.iteration = iteration
        self.epoch = iteration // (737_280 // 64)

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.encoder(images).embedding
