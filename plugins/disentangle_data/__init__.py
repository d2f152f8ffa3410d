"""First-party datasets: MNIST and Fashion-MNIST from IDX files, and procedural sprites."""

from __future__ import annotations

from disentangle import hookimpl
from disentangle_data.procedural import Procedural, ProceduralParams
from disentangle_data.torchvision_sets import FashionMnist, IdxParams, Mnist


@hookimpl
def register_datasets(register):
    register("mnist", Mnist, IdxParams)
    register("fashion_mnist", FashionMnist, IdxParams)
    register("procedural", Procedural, ProceduralParams)
