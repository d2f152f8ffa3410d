"""3D Faces architecture (InfoGAN Table 4): 32×32 gray, the MNIST network at 8·8 instead of 7·7."""

from __future__ import annotations

from pydantic import Field

from disentangle_dcgan.layers import Output
from disentangle_dcgan.mnist import MnistBackbone, MnistParams


class FacesParams(MnistParams):
    output: Output = Field("sigmoid", description="G's output activation (the paper: sigmoid)")


class FacesBackbone(MnistBackbone):
    """D/Q: conv64 s2 → conv128 s2 BN → FC1024 BN; G: FC1024 BN → FC 8·8·128 BN → upconv64 s2
    BN → upconv1 s2 sigmoid."""

    image_shape = (1, 32, 32)
