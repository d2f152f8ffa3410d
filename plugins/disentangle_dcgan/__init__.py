"""The paper's DCGAN-style architectures (InfoGAN, Appendix C), one module each."""

from __future__ import annotations

from disentangle import hookimpl
from disentangle_dcgan.mnist import MnistBackbone, MnistParams


@hookimpl
def register_backbones(register):
    register("mnist", MnistBackbone, MnistParams)
