"""VAE baselines as disentanglement_lib defines them (methods/unsupervised/vae.py), and its
standard 64×64 convolutional encoder and decoder (methods/shared/architectures.py).

The public surface for plugins that build on this one (declare `requires = ["vae"]`):
`BetaVAE` and `BetaVAEParams`. Subclass `BetaVAE` and override
`regulariser(kl, mean, log_var, z)`, the term added to the reconstruction loss (β · KL here),
as the annealed VAE, β-TCVAE and DIP-VAE do; subclass `BetaVAEParams` for settings of your own.
"""

from __future__ import annotations

from disentangle import hookimpl
from disentangle_vae.architectures import DlibConvBackbone, DlibConvParams
from disentangle_vae.beta_vae import BetaVAE, BetaVAEParams
from disentangle_vae.factor_vae import FactorVAE, FactorVAEParams
from disentangle_vae.regularisers import (
    DIPVAE,
    AnnealedVAE,
    AnnealedVAEParams,
    BetaTCVAE,
    BetaTCVAEParams,
    DIPVAEParams,
)

__all__ = ["BetaVAE", "BetaVAEParams"]


@hookimpl
def register_methods(register):
    register("beta_vae", BetaVAE, BetaVAEParams)
    register("annealed_vae", AnnealedVAE, AnnealedVAEParams)
    register("beta_tcvae", BetaTCVAE, BetaTCVAEParams)
    register("factor_vae", FactorVAE, FactorVAEParams)
    register("dip_vae", DIPVAE, DIPVAEParams)


@hookimpl
def register_backbones(register):
    register("dlib_conv", DlibConvBackbone, DlibConvParams)
