"""benchmarks/machine.py: what the benchmarks' JSONs record about the CPU, read from
/proc/cpuinfo's text (here, excerpts in its format)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("machine", ROOT / "benchmarks" / "machine.py")
assert spec is not None and spec.loader is not None
machine = importlib.util.module_from_spec(spec)
sys.modules["machine"] = machine
spec.loader.exec_module(machine)

XEON = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw avx512_bf16 amx_bf16 amx_tile amx_int8
"""
EPYC = """processor\t: 0
model name\t: AMD EPYC 7R13 Processor
flags\t\t: fpu sse2 avx avx2 fma
"""


def test_the_extensions_that_decide_the_kernels_are_read_from_the_flags() -> None:
    assert machine.cpu_model(XEON) == "Intel(R) Xeon(R) Platinum 8480+"
    assert machine.extensions(XEON) == ["avx2", "avx512", "avx512_bf16", "amx_bf16", "amx_tile"]
    assert machine.cpu_model(EPYC) == "AMD EPYC 7R13 Processor"
    assert machine.extensions(EPYC) == ["avx2"]
    assert machine.cpu_model("") == "unknown" and machine.extensions("") == []


def test_describe_names_this_machine() -> None:
    found = machine.describe()
    assert set(found) == {"cpu", "cores", "extensions", "torch_capability"}
    assert found["torch_capability"] == torch.backends.cpu.get_cpu_capability()
    assert set(found["extensions"]) <= set(machine.EXTENSIONS)
