"""Whether torch.compile's CPU backend (inductor) can build kernels on this machine."""

from __future__ import annotations

import os

import torch


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
