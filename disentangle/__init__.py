"""disentangle: a plugin-based PyTorch toolkit for disentangled representation research.

Attributes are imported lazily, so `import disentangle` (and the CLI's `--help`) stays fast;
torch is imported on first use of a component, the training loop or a run.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from disentangle.hookspecs import hookimpl, hookspec
from disentangle.registry import Params

__version__ = "0.1.0"

_LAZY = {
    "Method": "disentangle.method",
    "MethodSetup": "disentangle.method",
    "Iterations": "disentangle.method",
    "Updater": "disentangle.update",
    "Components": "disentangle.recipe.build",
    "Layout": "disentangle.layout",
    "split_q": "disentangle.layout",
    "Choice": "disentangle.registry",
    "Problem": "disentangle.errors",
    "LatentCode": "disentangle.components",
    "Backbone": "disentangle.components",
    "Dataset": "disentangle.components",
    "GroundTruthDataset": "disentangle.components",
    "ImageData": "disentangle.components",
    "Discriminator": "disentangle.components",
    "MIEstimator": "disentangle.components",
    "Metric": "disentangle.components",
    "EvalContext": "disentangle.components",
    "DisentangleError": "disentangle.errors",
    "load_recipe": "disentangle.recipe",
    "validate_recipe": "disentangle.recipe",
    "train": "disentangle.training.loop",
    "Run": "disentangle.run",
    "load_run": "disentangle.run",
    "evaluate": "disentangle.analysis.evaluate",
    "Published": "disentangle.analysis.literature",
    "published": "disentangle.analysis.literature",
}
_REGISTRIES = ("methods", "codes", "backbones", "datasets", "estimators", "metrics")

__all__ = ["Params", "__version__", "hook", "hookimpl", "hookspec", *_LAZY, *_REGISTRIES]


def __getattr__(name: str) -> Any:
    if name in _REGISTRIES or name == "hook":
        from disentangle.plugins import host

        if name == "hook":  # every hook, the plugins' own specs too: `disentangle.hook.<name>()`
            host.load()
            return host.manager.hook
        return host.registries[name]
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'disentangle' has no attribute {name!r}")
