"""Disentanglement metrics (disentanglement_lib's definitions: the supervised scores, IRS, the
unsupervised scores, downstream task, fairness), unsupervised accuracy, and sample quality
(FID, Inception Score, KID through torch-fidelity)."""

from __future__ import annotations

from disentangle import hookimpl
from disentangle_metrics.fidelity import FID, KID, FidelityParams, InceptionScore
from disentangle_metrics.metrics import (
    DCI,
    IRS,
    MIG,
    SAP,
    Accuracy,
    AccuracyParams,
    BetaVAE,
    BetaVAEParams,
    DCIHist,
    DownstreamBoostedTrees,
    DownstreamLogisticRegression,
    DownstreamParams,
    FactorVAE,
    FactorVAEParams,
    Fairness,
    FairnessParams,
    IRSParams,
    MIGParams,
    Modularity,
    ModularityParams,
    SAPParams,
    SplitParams,
    Unsupervised,
    UnsupervisedParams,
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
    register("irs", IRS, IRSParams)
    register("unsupervised", Unsupervised, UnsupervisedParams)
    register("downstream_task_logistic_regression", DownstreamLogisticRegression, DownstreamParams)
    register("downstream_task_boosted_trees", DownstreamBoostedTrees, DownstreamParams)
    register("fairness", Fairness, FairnessParams)
    register("fid", FID, FidelityParams)
    register("inception_score", InceptionScore, FidelityParams)
    register("kid", KID, FidelityParams)
