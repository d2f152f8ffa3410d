"""The device a run or a command computes on: a name from a recipe or a flag, checked against
what this machine has."""

from __future__ import annotations

import torch

from disentangle.errors import TrainingError


def resolve_device(
    name: str, local_rank: int | None = None, where: str = "train.device"
) -> torch.device:
    """A device name (checked by the recipe or the CLI) as a device that exists here; under
    torchrun (`local_rank`: this process's rank on its machine) each process takes the GPU of
    its local rank."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and local_rank is not None:
        name = f"cuda:{local_rank}"
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainingError(f"{where} = {name!r} but CUDA is not available here")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise TrainingError(f"{where} = {name!r} but this machine has {count} GPU(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise TrainingError(f"{where} = {name!r} but MPS is not available here")
    return device
