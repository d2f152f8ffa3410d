"""CelebA architecture (InfoGAN Table 3): the SVHN network, 32×32 colour."""

from __future__ import annotations

from disentangle_dcgan.svhn import SvhnBackbone, SvhnParams


class CelebaParams(SvhnParams):
    """The SVHN network's params: width, leaky_slope, output (tanh by default)."""


class CelebaBackbone(SvhnBackbone):
    """Table 3 (its caption wrongly says SVHN): the same D/Q and G as Table 2."""
