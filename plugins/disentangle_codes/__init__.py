"""The method-neutral latent codes: categorical, uniform and Gaussian, each with its posterior
family for Q (or an encoder). Every method draws them: InfoGAN's G takes them as input, a VAE
reads its latent factors through them."""

from __future__ import annotations

from disentangle import hookimpl
from disentangle_codes.codes import (
    Categorical,
    CategoricalParams,
    Gaussian,
    GaussianParams,
    Uniform,
    UniformParams,
)


@hookimpl
def register_codes(register):
    register("categorical", Categorical, CategoricalParams)
    register("uniform", Uniform, UniformParams)
    register("gaussian", Gaussian, GaussianParams)
