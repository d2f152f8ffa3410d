"""Data-parallel training with torch.distributed, as launched by torchrun.

Each rank takes its slice of the recipe's global batch, samples its own z and c, and averages
its gradients with the other ranks' before every optimizer step (one flat all-reduce per
optimizer). Rank 0 alone writes the run folder; batch-norm buffers are broadcast from rank 0
before a checkpoint, and every rank's RNG state is saved, so a run resumes exactly.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from disentangle.errors import TrainingError


@dataclass(frozen=True)
class Ranks:
    """This process's place in a distributed run."""

    rank: int
    world: int
    local_rank: int

    @property
    def main(self) -> bool:
        return self.rank == 0


SINGLE = Ranks(0, 1, 0)


def ranks_from_env() -> Ranks:
    """The ranks torchrun set in the environment (a single process when it set none)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return SINGLE
    return Ranks(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def start(ranks: Ranks, device: torch.device) -> None:
    """Join the process group (NCCL on CUDA, gloo on CPU)."""
    if ranks.world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def barrier(ranks: Ranks) -> None:
    if ranks.world > 1:
        dist.barrier()


def stop(ranks: Ranks) -> None:
    if ranks.world > 1 and dist.is_initialized():
        dist.destroy_process_group()


def average_gradients(params: list[torch.Tensor], world: int) -> None:
    """Replace each gradient by its mean over the ranks (one all-reduce)."""
    grads = [p.grad for p in params if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat.div_(world)
    for grad, synced in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads), strict=True):
        grad.copy_(synced)


def gradient_sync(ranks: Ranks) -> Callable[[torch.optim.Optimizer], None] | None:
    """What to call before each optimizer step: average its gradients (None alone)."""
    if ranks.world == 1:
        return None

    def sync(optimizer: torch.optim.Optimizer) -> None:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        average_gradients(params, ranks.world)

    return sync


def average(values: torch.Tensor, world: int) -> torch.Tensor:
    """The mean of a tensor over the ranks."""
    if world > 1:
        values = values.clone()
        dist.all_reduce(values)
        values.div_(world)
    return values


def broadcast_buffers(module: nn.Module) -> None:
    """Rank 0's batch-norm statistics everywhere (training uses batch statistics)."""
    for buffer in module.buffers():
        dist.broadcast(buffer, 0)


def gather(state: torch.Tensor, ranks: Ranks, device: torch.device) -> torch.Tensor:
    """Every rank's copy of a tensor, stacked [world, ...] on the CPU (identical shapes)."""
    if ranks.world == 1:
        return state.unsqueeze(0).cpu()
    state = state.to(device)
    parts = [torch.empty_like(state) for _ in range(ranks.world)]
    dist.all_gather(parts, state)
    return torch.stack(parts).cpu()


def check_identical(modules: list[nn.Module], ranks: Ranks, device: torch.device) -> float:
    """A checksum of every parameter; raises if any rank's differs from rank 0's."""
    total = sum(float(p.detach().double().sum()) for m in modules for p in m.parameters())
    sums = gather(torch.tensor([total], dtype=torch.float64), ranks, device)
    if not torch.all(sums == sums[0]):
        raise TrainingError(f"ranks' weights diverged: checksums {sums.flatten().tolist()}")
    return total
