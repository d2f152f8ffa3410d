"""InfoGAN's training method, its variational lower bound on mutual information, and two
sample-based bounds (InfoNCE, NWJ) that use Q's posterior as their critic. Its codes are the
`codes` plugin's."""

from __future__ import annotations

from disentangle import hookimpl
from disentangle_infogan.contrastive import NWJ, ContrastiveParams, InfoNCE
from disentangle_infogan.cr import InfoGANCR, InfoGANCRParams
from disentangle_infogan.estimator import VariationalMI, VariationalParams
from disentangle_infogan.method import InfoGAN, InfoGANParams
from disentangle_infogan.published import published


@hookimpl
def register_methods(register):
    register("infogan", InfoGAN, InfoGANParams)
    register("infogan_cr", InfoGANCR, InfoGANCRParams)


@hookimpl
def register_estimators(register):
    register("variational", VariationalMI, VariationalParams)
    register("infonce", InfoNCE, ContrastiveParams)
    register("nwj", NWJ, ContrastiveParams)


@hookimpl
def published_results():
    return published()
