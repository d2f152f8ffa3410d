"""The paper's DCGAN-style architectures (InfoGAN, Appendix C), InfoGAN-CR's dSprites one and
FineGAN's 128×128 one."""

from __future__ import annotations

from disentangle import hookimpl
from disentangle_dcgan.celeba import CelebaBackbone, CelebaParams
from disentangle_dcgan.chairs import ChairsBackbone, ChairsParams
from disentangle_dcgan.dsprites import DspritesBackbone, DspritesParams
from disentangle_dcgan.faces import FacesBackbone, FacesParams
from disentangle_dcgan.finegan import FineganBackbone, FineganParams
from disentangle_dcgan.mnist import MnistBackbone, MnistParams
from disentangle_dcgan.svhn import SvhnBackbone, SvhnParams


@hookimpl
def register_backbones(register):
    register("mnist", MnistBackbone, MnistParams)
    register("svhn", SvhnBackbone, SvhnParams)
    register("celeba", CelebaBackbone, CelebaParams)
    register("faces", FacesBackbone, FacesParams)
    register("chairs", ChairsBackbone, ChairsParams)
    register("dsprites", DspritesBackbone, DspritesParams)
    register("finegan", FineganBackbone, FineganParams)
