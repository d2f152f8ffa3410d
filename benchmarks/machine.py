"""What the benchmarks record about the machine they ran on: the CPU's model, its cores, and
the instruction-set extensions that decide which kernels PyTorch's CPU operators can use.

    python benchmarks/machine.py     # prints the same as the benchmarks' JSONs carry
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import torch

CPUINFO = Path("/proc/cpuinfo")
#: the extensions that matter to training speed, by the /proc/cpuinfo flag that announces each
EXTENSIONS = {
    "avx2": "avx2",
    "avx512": "avx512f",
    "avx512_bf16": "avx512_bf16",
    "amx_bf16": "amx_bf16",
    "amx_tile": "amx_tile",
}


def _field(text: str, name: str) -> str | None:
    """The value of the first line of /proc/cpuinfo's `text` that starts with `name`."""
    for line in text.splitlines():
        if line.startswith(name):
            return line.partition(":")[2].strip()
    return None


def cpu_model(text: str | None = None) -> str:
    """The CPU's model name from /proc/cpuinfo (or its `text`), or "unknown"."""
    if text is None:
        text = CPUINFO.read_text() if CPUINFO.exists() else ""
    return _field(text, "model name") or "unknown"


def extensions(text: str) -> list[str]:
    """The EXTENSIONS whose flag /proc/cpuinfo's `text` lists, in EXTENSIONS' order."""
    flags = set((_field(text, "flags") or "").split())
    return [name for name, flag in EXTENSIONS.items() if flag in flags]


def describe() -> dict[str, object]:
    """The CPU's model, its logical cores, its extensions that matter (EXTENSIONS) and the
    vector ISA PyTorch's CPU kernels dispatch to (`ATEN_CPU_CAPABILITY` can lower it)."""
    text = CPUINFO.read_text() if CPUINFO.exists() else ""
    return {
        "cpu": cpu_model(text),
        "cores": os.cpu_count(),
        "extensions": extensions(text),
        "torch_capability": torch.backends.cpu.get_cpu_capability(),
    }


def environment() -> dict[str, object]:
    """The header every benchmark JSON starts with: when, which torch, how many threads, and
    the machine (`describe`)."""
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": cpu_model(),
        "machine": describe(),
    }


if __name__ == "__main__":
    print(json.dumps(describe(), indent=2))
