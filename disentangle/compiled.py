"""The parts of a step that `train.compile` compiles.

A method hands each part of its step that turns tensors into losses to
`updater.compiled(fn, name)`: its random draws are made before, with the run's generator, and
passed in (torch.compile cannot trace a `torch.Generator`), and the part toggles no
`requires_grad` inside. With `train.compile` set the part runs through torch.compile
(inductor): the networks' forward passes are traced into it and fuse with the losses, and its
backward is the compiled backward graph. Each region counts the graphs it builds (`graphs`: one
per distinct input signature, so a fixed, small number over a run) and says once, as a
warning with dynamo's reason, when dynamo breaks its graph or gives up and runs it eagerly
(e.g. its recompile limit): never silently. `cpu_compile_problem` says why a CPU cannot
compile at all, and `refuse_uncompilable` refuses such a run.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch._dynamo.utils import counters

from disentangle.errors import TrainingError

#: dynamo's counters of what it could not compile: graph breaks, and the limits and
#: unsupported constructs that send a frame back to eager
FALLBACK_COUNTERS = ("graph_break", "unimplemented")


def cpu_compile_problem() -> str | None:
    """Why `train.compile` cannot work on this CPU, or None.

    Inductor picks a vector instruction set from the CPU and ATEN_CPU_CAPABILITY. With none (a
    CPU without AVX2, or ATEN_CPU_CAPABILITY=default), torch 2.14.1's inductor generated code
    for these models that its own C++ compile then rejected ("'at::vec' has not been
    declared"), so such a run is refused at its start instead of failing inside a kernel build.
    """
    from torch._inductor.cpu_vec_isa import pick_vec_isa

    if pick_vec_isa():
        return None
    capability = os.environ.get("ATEN_CPU_CAPABILITY")
    known = torch.backends.cpu.get_cpu_capability()
    why = f"ATEN_CPU_CAPABILITY={capability}" if capability else f"torch sees this CPU as {known}"
    return (
        f"torch.compile's CPU backend has no vector instruction set here ({why}) and fails to "
        "build these models' kernels without one; set train.compile = false"
    )


def refuse_uncompilable(compile: bool, device_type: str) -> None:
    """`train.compile` on a CPU whose compiler cannot build kernels: one TrainingError (for
    `run` and `validate` alike)."""
    if compile and device_type == "cpu" and (problem := cpu_compile_problem()) is not None:
        raise TrainingError(f"train.compile: {problem}")


class CompileFallbackWarning(UserWarning):
    """A compiled part of the step that dynamo could not compile whole."""


def _fallbacks() -> dict[tuple[str, str], int]:
    return {(kind, reason): n for kind in FALLBACK_COUNTERS for reason, n in counters[kind].items()}


class CompiledRegion:
    """`fn` compiled by torch.compile with inductor, static shapes; counts its graphs."""

    def __init__(self, fn: Callable[..., Any], name: str) -> None:
        self.name = name
        #: graphs dynamo has built for this region (a recompile adds one)
        self.graphs = 0
        self.warned = False
        self._compiled = torch.compile(fn, backend=self._build, dynamic=False)

    def _build(self, graph: torch.fx.GraphModule, inputs: list[Any]) -> Callable[..., Any]:
        from torch._inductor.compile_fx import compile_fx

        self.graphs += 1
        return compile_fx(graph, inputs)

    def __call__(self, *args: Any) -> Any:
        if self.warned:
            return self._compiled(*args)
        before = _fallbacks()
        out = self._compiled(*args)
        new = [key for key, n in _fallbacks().items() if n > before.get(key, 0)]
        if new:
            self.warned = True
            reason = new[0][1].strip().splitlines()[0]
            warnings.warn(
                f"train.compile: dynamo could not compile the {self.name} whole and runs part "
                f"of it eagerly ({reason})",
                CompileFallbackWarning,
                stacklevel=2,
            )
        return out
