"""Disentanglement metrics (disentanglement_lib's definitions), unsupervised accuracy, and
sample quality (FID, Inception Score, KID through torch-fidelity)."""

from __future__ import annotations

from disentangle import hookimpl
from disentangle_metrics.fidelity import FID, KID, FidelityParams, InceptionScore
from disentangle_metrics.metrics import (
    DCI,
    MIG,
    SAP,
    Accuracy,
    AccuracyParams,
    BetaVAE,
    BetaVAEParams,
    DCIHist,
    FactorVAE,
    FactorVAEParams,
    MIGParams,
    Modularity,
    ModularityParams,
    SAPParams,
    SplitParams,
)


@hookimpl
def register_metrics(register):
    register("accuracy", Accuracy, AccuracyParams)
    register("mig", MIG, MIGParams)
    register("dci", DCI, SplitParams)
    register("dci_hist", DCIHist, SplitParams)
    register("sap", SAP, SAPParams)
    register("factor_vae", FactorVAE, FactorVAEParams)
    register("beta_vae", BetaVAE, BetaVAEParams)
    register("modularity", Modularity, ModularityParams)
    register("fid", FID, FidelityParams)
    register("inception_score", InceptionScore, FidelityParams)
    register("kid", KID, FidelityParams)
