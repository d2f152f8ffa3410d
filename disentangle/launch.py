"""Runs as jobs of a cluster scheduler through submitit (Slurm, or its local executor).

Each run is one job. A job that the scheduler pre-empts or times out is requeued by submitit,
and the requeued job resumes its run from the last checkpoint (`disentangle run --resume`), so
nothing finished is trained twice. Job logs go to OUT/submitit/ beside the runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from disentangle.errors import DisentangleError
from disentangle.recipe import parse_override, to_data
from disentangle.run import Run

LAUNCHERS = ("slurm", "local")


def submitit_module() -> Any:
    try:
        import submitit
    except ImportError:
        raise DisentangleError(
            "--launcher needs submitit: pip install 'disentangle-toolkit[slurm]'"
        ) from None
    return submitit


class TrainJob:
    """One run as a submitit job: trains it, or, requeued after pre-emption, resumes it."""

    def __init__(self, recipe: dict[str, Any], folder: str, overwrite: bool) -> None:
        self.recipe, self.folder, self.overwrite = recipe, folder, overwrite
        self.started = False  # pickled with the job when submitit requeues it

    def __call__(self) -> str:
        from disentangle.recipe import validate_recipe
        from disentangle.training.loop import resume, train

        if self.started:
            return str(resume(self.folder).path)
        self.started = True
        return str(train(validate_recipe(self.recipe), self.folder, overwrite=self.overwrite).path)

    def checkpoint(self) -> Any:
        """What submitit requeues on pre-emption or time-out: this job, marked as started."""
        return submitit_module().helpers.DelayedSubmission(self)


def launcher_options(texts: list[str]) -> dict[str, Any]:
    """`timeout_min=120`, `slurm_partition=gpu` → submitit executor parameters."""
    return dict(parse_override(text) for text in texts)


def submit_plan(
    plan: list[tuple[Any, Path]],
    launcher: str,
    logs: Path,
    options: dict[str, Any],
    *,
    overwrite: bool = False,
) -> list[Run]:
    """Submit each (recipe, folder) as a job, print the job ids, wait for all of them."""
    submitit = submitit_module()
    executor = submitit.AutoExecutor(folder=logs / "%j", cluster=launcher)
    try:
        executor.update_parameters(**options)
    except (TypeError, ValueError, NameError) as exc:  # submitit names a bad one
        raise DisentangleError(f"--launcher-option: {exc}") from None
    jobs = [executor.submit(TrainJob(to_data(r), str(f), overwrite)) for r, f in plan]
    for job, (_, folder) in zip(jobs, plan, strict=True):
        print(f"job {job.job_id}: {folder}")
    return [Run(job.result()) for job in jobs]
