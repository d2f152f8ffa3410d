"""A training process killed with SIGKILL (mid-step, mid-checkpoint-write, before its first
checkpoint) and resumed ends bit-identical to an uninterrupted run, with the same metrics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from disentangle.recipe import validate_recipe
from disentangle.run import load_run
from disentangle.run.checkpoint import load_checkpoint
from disentangle.training.loop import train

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")

# Runs the CLI in a process that kills itself with SIGKILL at a chosen point:
# "step N": when the N-th training step of this process starts;
# "write N": while writing the tensors of checkpoint N, half of its temp file on disk.
KILLER = """
import os, signal, sys
from pathlib import Path

from disentangle.run import checkpoint
from disentangle.cli import app
from disentangle_infogan.method import InfoGAN

mode, at = sys.argv[1], int(sys.argv[2])
if mode == "step":
    original_step, calls = InfoGAN.step, [0]

    def dying_step(self, batch):
        calls[0] += 1
        if calls[0] == at:
            os.kill(os.getpid(), signal.SIGKILL)
        return original_step(self, batch)

    InfoGAN.step = dying_step
else:
    original_save = checkpoint.save_file

    def dying_save(tensors, path):
        original_save(tensors, path)
        if f"ckpt-{at:07d}" in path:
            data = Path(path).read_bytes()
            Path(path).write_bytes(data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)

    checkpoint.save_file = dying_save
app(sys.argv[3:])
"""


def cli(tmp_path: Path, *args: str, kill: tuple[str, int] | None = None) -> int:
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    mode, at = kill or ("step", 0)
    result = subprocess.run(
        [sys.executable, str(script), mode, str(at), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    return result.returncode


def final_state(run_dir: Path) -> dict[str, torch.Tensor]:
    state, _ = load_checkpoint(load_run(run_dir).latest_checkpoint())
    return {
        f"{part}.{k}": v
        for part in ("generator", "discriminator", "estimator")
        for k, v in state[part].items()
    }


def records(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    out = []
    for line in lines:
        record = json.loads(line)
        for timing in ("iterations_per_s", "images_per_s"):
            record.pop(timing)
        out.append(record)
    return out


#: checkpoints every 2 iterations, a metrics line every iteration
TRAIN = {"iterations": 8, "log_every": 1, "checkpoint_every": 2, "sample_every": 4}


def assert_same_run(whole: Path, cut: Path) -> None:
    """Bit-identical final weights and the same metrics (timings aside)."""
    expected, got = final_state(whole), final_state(cut)
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    assert records(cut) == records(whole)


@pytest.fixture
def whole(tiny_recipe: dict[str, Any], tmp_path: Path) -> Path:
    """The uninterrupted run, trained in-process."""
    tiny_recipe["train"].update(TRAIN)
    return train(validate_recipe(tiny_recipe), tmp_path / "whole").path


@pytest.fixture
def recipe_file(tiny_recipe: dict[str, Any], tmp_path: Path) -> Path:
    tiny_recipe["train"].update(TRAIN)
    path = tmp_path / "recipe.json.toml"
    lines = []
    for key, value in tiny_recipe.items():
        if isinstance(value, dict):
            lines.append(f"[{key}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in value.items()]
        elif isinstance(value, list):
            for table in value:
                lines.append(f"[[{key}]]")
                lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
        else:
            lines.insert(0, f"{key} = {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_killed_runs_resume_bit_identical(recipe_file: Path, whole: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut"
    kill = -signal.SIGKILL
    # killed while the tensors of checkpoint 4 were half written: 2 is the newest checkpoint
    assert cli(tmp_path, "run", str(recipe_file), "--out", str(cut), kill=("write", 4)) == kill
    assert load_run(cut).latest_checkpoint().name == "ckpt-0000002.json"
    assert (cut / "checkpoints" / ".ckpt-0000004.safetensors.tmp").is_file()
    # killed again in the middle of a step (iteration 7, after logging 5 and 6)
    assert cli(tmp_path, "run", "--resume", str(cut), kill=("step", 5)) == kill
    assert cli(tmp_path, "run", "--resume", str(cut), "--quiet") == 0
    assert_same_run(whole, cut)


def test_a_run_killed_before_its_first_checkpoint_starts_again_on_resume(
    recipe_file: Path, whole: Path, tmp_path: Path
) -> None:
    cut = tmp_path / "cut"
    assert cli(tmp_path, "run", str(recipe_file), "--out", str(cut), kill=("step", 2)) == (
        -signal.SIGKILL
    )
    assert not load_run(cut).checkpoints()
    # a plain re-run refuses the folder; --resume starts over
    assert cli(tmp_path, "run", str(recipe_file), "--out", str(cut)) == 1
    assert cli(tmp_path, "run", "--resume", str(cut), "--quiet") == 0
    assert_same_run(whole, cut)
