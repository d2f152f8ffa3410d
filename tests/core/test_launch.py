"""`run --launcher`: each run a submitit job (its local executor here, Slurm's API beside it),
and a job requeued after pre-emption resumes its run from the last checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.cli import assert_clean_failure, invoke

from disentangle.errors import RunDirError
from disentangle.launch import TrainJob, launcher_options
from disentangle.recipe import to_data, validate_recipe
from disentangle.run import load_run
from disentangle.training.loop import train

pytest.importorskip("submitit")


def test_a_grid_runs_as_local_jobs(tiny_toml: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    code, output = invoke(
        "run", str(tiny_toml), "--grid", "method.lr_g=1e-3,5e-4", "--launcher", "local",
        "--launcher-option", "timeout_min=10", "--out", str(out), "--quiet",
    )  # fmt: skip
    assert code == 0, output
    assert output.count("job ") == 2 and "mean ± std over seeds" in output
    for lr in ("1e-3", "5e-4"):
        run = load_run(out / f"tiny-method.lr_g_{lr}")
        assert run.metrics()[-1]["iteration"] == 6
    assert list((out / "submitit").iterdir())  # the jobs' logs, beside the runs


def test_a_requeued_job_resumes_its_run(tiny_recipe: dict[str, Any], tmp_path: Path) -> None:
    whole = train(validate_recipe(tiny_recipe), tmp_path / "whole")
    job = TrainJob(to_data(validate_recipe(tiny_recipe)), str(tmp_path / "job"), False)
    job()
    for newest in (tmp_path / "job" / "checkpoints").glob("ckpt-0000006.*"):
        newest.unlink()  # as if pre-empted after iteration 4's checkpoint
    requeued = job.checkpoint()  # what submitit pickles and resubmits
    assert requeued.function is job and job.started
    requeued.function()
    keys = ("iteration", "loss_d", "loss_g", "mi")
    resumed = [[r[k] for k in keys] for r in load_run(tmp_path / "job").metrics()]
    assert resumed == [[r[k] for k in keys] for r in whole.metrics()]
    with pytest.raises(RunDirError, match="already holds a run"):
        TrainJob(job.recipe, job.folder, False)()  # a fresh job does not resume by accident


def test_launcher_options_are_toml_values() -> None:
    assert launcher_options(["timeout_min=120", "slurm_partition=gpu"]) == {
        "timeout_min": 120,
        "slurm_partition": "gpu",
    }


def test_a_bad_launcher_or_option_is_a_clear_error(tiny_toml: Path, tmp_path: Path) -> None:
    code, output = invoke("run", str(tiny_toml), "--launcher", "pbs", "--out", str(tmp_path / "a"))
    assert code == 2 and "choose slurm or local" in " ".join(output.split())
    assert_clean_failure(
        *invoke(
            "run",
            str(tiny_toml),
            "--launcher",
            "local",
            "--launcher-option",
            "bogus=1",
            "--out",
            str(tmp_path / "b"),
        ),
        "--launcher-option",
    )
