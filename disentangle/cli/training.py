"""`disentangle run` (one recipe, a sweep, torchrun, a resume) and `disentangle validate`."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from disentangle.console import out, show_error, user_errors
from disentangle.errors import DisentangleError

if TYPE_CHECKING:
    from disentangle.recipe.sections import Recipe
    from disentangle.run import Run
from disentangle.cli.app import Sets, Variant, app, check_launcher
from disentangle.cli.show import show_scores, show_seed_table, show_sweep_table


@app.command()
def run(
    ctx: typer.Context,
    recipe: Annotated[Path | None, typer.Argument(help="Recipe TOML file.")] = None,
    set_: Sets = None,
    variant: Variant = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Run folder (default runs/NAME).")
    ] = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue this run folder from its last checkpoint.")
    ] = None,
    seeds: Annotated[
        str | None, typer.Option(help="Train several seeds (e.g. 1-5) into sibling folders.")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a run already in the folder.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    nproc: Annotated[
        int,
        typer.Option(min=1, help="Data-parallel processes (launches torchrun; one per GPU)."),
    ] = 1,
    jobs: Annotated[
        int,
        typer.Option(
            min=1, help="With --seeds or --grid: how many runs train at once (GPUs in turn)."
        ),
    ] = 1,
    grid: Annotated[
        list[str] | None,
        typer.Option(
            help="Sweep a key over values, e.g. method.lr_g=1e-3,5e-4 (repeatable: the product)."
        ),
    ] = None,
    launcher: Annotated[
        str | None,
        typer.Option(
            help="Submit each run as a job through submitit: slurm, or local (its local "
            "executor); a pre-empted job resumes from its last checkpoint.",
            callback=check_launcher,
        ),
    ] = None,
    launcher_option: Annotated[
        list[str] | None,
        typer.Option(help="A submitit parameter, e.g. timeout_min=120 or slurm_partition=gpu."),
    ] = None,
) -> None:
    """Train a recipe; writes checkpoints, metrics.jsonl and PNG grids into the run folder."""
    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        if seeds is not None or jobs > 1 or grid or launcher:
            show_error(
                DisentangleError(
                    "--seeds, --grid, --jobs and --launcher cannot run under --nproc (one "
                    "torchrun launch trains one run): train each run with --nproc and its own "
                    "--set values"
                )
            )
            raise typer.Exit(1)
        raise typer.Exit(_torchrun(nproc, ["run", *_given_args(ctx, skip="nproc")]))
    with user_errors(interrupted="continue from the last checkpoint with --resume RUN_DIR"):
        from disentangle.recipe import load_recipe
        from disentangle.run.lock import lock_run
        from disentangle.training.loop import resume as resume_run
        from disentangle.training.loop import train

        if resume is not None:
            with lock_run(resume):  # held until the report page is written
                if recipe is not None:
                    _same_recipe(load_recipe(recipe, set_ or [], variant), resume)
                _finished(resume_run(resume, set_ or [], progress=not quiet))
        elif recipe is None:
            raise DisentangleError("give a RECIPE file to train, or --resume RUN_DIR")
        elif grid or seeds is not None or launcher:
            base = load_recipe(recipe, set_ or [], variant)
            sweep = Sweep(out_dir, overwrite, quiet, jobs, launcher, launcher_option or [])
            _run_sweep(base, grid or [], seeds, sweep)
        else:
            chosen = load_recipe(recipe, set_ or [], variant)
            folder = out_dir if out_dir is not None else Path("runs") / chosen.name
            with lock_run(folder, create=True):  # held until the report page is written
                _finished(train(chosen, folder, overwrite=overwrite, progress=not quiet))


def _finished(result: Run) -> None:
    """Say where a trained run is, its scores, and write its report page."""
    out.print(f"run finished: [bold]{result.path}[/]")
    report = result.path / "eval.json"
    if report.is_file() and result.recipe().evaluate.metrics:
        import json

        show_scores(json.loads(report.read_text()))
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one process writes the page
        from disentangle.analysis.html_report import write_html_report

        page = result.path / "report.html"
        command = f"disentangle report {result.path} --html {page}"
        out.print(f"report page: [bold]{write_html_report([result], page, command)}[/]")


def _given_args(ctx: typer.Context, skip: str) -> list[str]:
    """The command's arguments and options as given (defaults left out), all but `skip`."""
    args: list[str] = []
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if param.name == skip or value is None or value == param.default:
            continue
        if param.param_type_name == "argument":
            args += [str(v) for v in value] if param.multiple else [str(value)]
        elif getattr(param, "is_flag", False):
            args.append(param.opts[0] if value else param.secondary_opts[0])
        else:
            for item in value if param.multiple else [value]:
                args += [param.opts[0], str(item)]
    return args


def _torchrun(nproc: int, args: list[str]) -> int:
    """Run `disentangle ARGS` in `nproc` processes under torchrun; its exit code."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "disentangle",
        *args,
    ]
    return subprocess.call(command)


@dataclass
class Sweep:
    """How a sweep's runs are trained: where, and in-process, in parallel or as jobs."""

    out: Path | None
    overwrite: bool
    quiet: bool
    jobs: int
    launcher: str | None
    launcher_options: list[str]


def _run_sweep(recipe: Recipe, grid: list[str], seeds: str | None, how: Sweep) -> None:
    """Every grid point and seed into sibling folders (or the one run, as a job), then the
    sweep's table (a plain seed sweep: the final L_I of each seed)."""
    from disentangle.analysis.table import sweep_table
    from disentangle.recipe import to_data
    from disentangle.sweep import (
        grid_plan,
        grid_recipes,
        parse_grid,
        parse_seeds,
        run_plan,
        seeds_plan,
    )

    seed_list = parse_seeds(seeds) if seeds is not None else None
    if grid:
        plan = grid_plan(grid_recipes(to_data(recipe), parse_grid(grid)), seed_list, how.out)
    elif seed_list is not None:
        plan = seeds_plan(recipe, seed_list, how.out)
    else:
        plan = [(recipe, how.out or Path("runs") / recipe.name)]
    if how.launcher:
        from disentangle.launch import launcher_options, submit_plan

        logs = (how.out or Path("runs")) / "submitit"
        options = launcher_options(how.launcher_options)
        runs = submit_plan(plan, how.launcher, logs, options, overwrite=how.overwrite)
    else:
        progress = not how.quiet and how.jobs == 1
        runs = run_plan(plan, overwrite=how.overwrite, progress=progress, jobs=how.jobs)
    if grid:
        show_sweep_table(sweep_table(runs))
    elif seed_list is not None:
        show_seed_table(seed_list, runs)
    else:
        out.print(f"run finished: [bold]{runs[0].path}[/]")


def _same_recipe(recipe: object, run_dir: Path) -> None:
    """With both RECIPE and --resume, the recipe must be the run's (train.iterations aside)."""
    from disentangle.recipe import to_data
    from disentangle.run import Run

    stored = Run(run_dir).require().recipe()

    def comparable(r: object) -> dict:
        data = to_data(r)  # type: ignore[arg-type]
        data["train"].pop("iterations")
        data.pop("name")
        return data

    if comparable(recipe) != comparable(stored):
        raise DisentangleError(
            f"the recipe differs from the one {run_dir} was trained with; resume with "
            "--resume alone (plus --set train.iterations=N to extend it)"
        )


@app.command()
def validate(
    recipes: Annotated[list[Path], typer.Argument(help="Recipe TOML files.")],
    set_: Sets = None,
    variant: Annotated[
        str | None,
        typer.Option(help="Check this variant only (as `run --variant` would train it)."),
    ] = None,
) -> None:
    """Check recipes and each of their variants without training; every problem is reported."""
    from disentangle.method import check_builds
    from disentangle.recipe import load_recipe, variants_of

    failed = False
    for path in recipes:
        try:
            names: list[str | None] = [variant] if variant else [None, *variants_of(path)]
        except DisentangleError as exc:
            show_error(exc)
            failed = True
            continue
        for name in names:
            label = f"{path}" if name is None else f"{path} (variant {name})"
            try:
                check_builds(load_recipe(path, set_ or [], name))
                out.print(f"[green]ok[/] {label}")
            except DisentangleError as exc:
                show_error(exc)
                failed = True
    if failed:
        raise typer.Exit(1)
