"""Two processes with the gloo backend under torchrun: identical weights, exact resume."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from disentangle.run import Run
from disentangle.run.checkpoint import load_checkpoint

WORKER = Path(__file__).resolve().parents[1] / "support" / "dist_worker.py"


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return {**env, "OMP_NUM_THREADS": "1"}


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = clean_env()
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        *args,
    ]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def final_state(run_dir: Path) -> dict[str, torch.Tensor]:
    state, _ = load_checkpoint(Run(run_dir).latest_checkpoint())
    return {**state["generator"], **{f"d.{k}": v for k, v in state["discriminator"].items()}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from support.tiny import TINY_TOML

    root = tmp_path_factory.mktemp("dist")
    (root / "tiny.toml").write_text(TINY_TOML)
    torchrun(str(WORKER), "tiny.toml", "whole", "train.iterations=6", cwd=root)
    launched = subprocess.run(  # the CLI's --nproc launches torchrun itself
        [
            sys.executable,
            "-m",
            "disentangle",
            "run",
            "tiny.toml",
            "--nproc",
            "2",
            "--out",
            "cut",
            "--quiet",
            "--set",
            "train.iterations=4",
        ],
        cwd=root,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert launched.returncode == 0, launched.stdout + launched.stderr
    torchrun(
        "-m",
        "disentangle",
        "run",
        "--resume",
        "cut",
        "--quiet",
        "--set",
        "train.iterations=6",
        cwd=root,
    )
    return root


def test_both_ranks_hold_identical_weights(runs: Path) -> None:
    rank0 = load_file(str(runs / "whole" / "rank0.safetensors"))
    rank1 = load_file(str(runs / "whole" / "rank1.safetensors"))
    assert rank0.keys() == rank1.keys()
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)


def test_rank0_writes_the_run_with_the_global_batch(runs: Path) -> None:
    state, meta = load_checkpoint(Run(runs / "whole").latest_checkpoint())
    assert meta["processes"] == 2
    assert state["rng"]["sampler"].shape[0] == 2  # every rank's RNG state, for an exact resume
    assert [r["iteration"] for r in Run(runs / "whole").metrics()] == [2, 4, 6]


def test_a_resumed_two_process_run_matches_an_uninterrupted_one(runs: Path) -> None:
    whole, resumed = final_state(runs / "whole"), final_state(runs / "cut")
    assert whole.keys() == resumed.keys()
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


def test_the_checkpoint_records_two_processes_and_refuses_one(runs: Path) -> None:
    from disentangle.errors import TrainingError
    from disentangle.training.loop import resume

    with pytest.raises(TrainingError, match="written by 2 process"):
        resume(runs / "cut", ["train.iterations=8"])
