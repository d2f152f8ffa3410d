"""benchmarks/gpu_check.sh on a machine without CUDA: it runs, skips what needs a GPU, prints
its table and writes the JSON that docs/benchmarks.md describes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
STEPS = ["cuda tests", "train speed", "quickstart", "nccl", "eval"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_without_cuda_the_gpu_check_skips_what_needs_a_gpu(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    flags = ["--out", str(tmp_path), "--json", str(out), "--tests", "tests/core/test_cuda.py"]
    done = subprocess.run(
        ["bash", "benchmarks/gpu_check.sh", *flags],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert result["cuda"] is None and result["torch"] == torch.__version__
    assert [s["name"] for s in result["steps"]] == STEPS
    tests, *gpu_only = result["steps"]
    assert tests["status"] == "passed" and "skipped" in tests["summary"], tests
    assert "passed" not in tests["summary"]  # no test marked cuda ran on the CPU
    assert all(s["status"] == "skipped" and s["summary"] == "no CUDA device" for s in gpu_only)
    assert "no CUDA device" in done.stdout and str(out) in done.stdout
