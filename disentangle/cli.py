"""The `disentangle` command: a thin Typer layer over the library (torch is imported lazily)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from disentangle.bounds import MAX_SEED
from disentangle.console import err, out, show_error, user_errors
from disentangle.errors import DisentangleError

if TYPE_CHECKING:
    from disentangle.plugins import PluginHost
    from disentangle.recipe.sections import Recipe

app = typer.Typer(
    help="Disentangled representation research, starting from InfoGAN.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
Variant = Annotated[
    str | None, typer.Option(help="A named variant: a \\[variants.NAME] table of the recipe.")
]


def _increasing(span: tuple[float, float]) -> tuple[float, float]:
    if not span[0] < span[1]:
        raise typer.BadParameter(f"{span[0]:g} {span[1]:g}: give the low end first, e.g. -2 2")
    return span


def _launcher(name: str | None) -> str | None:
    from disentangle.launch import LAUNCHERS

    if name is not None and name not in LAUNCHERS:
        raise typer.BadParameter(f"{name!r}: choose {' or '.join(LAUNCHERS)}")
    return name


def _device(name: str) -> str:
    from disentangle.bounds import check_device

    try:
        return check_device(name)
    except ValueError as exc:
        raise typer.BadParameter(f"{name!r} {exc}") from None


Span = Annotated[
    tuple[float, float],
    typer.Option("--range", help="Range of a continuous code, e.g. -2 2.", callback=_increasing),
]
Sets = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a recipe value, e.g. --set train.seed=3 (repeatable)."),
]
Metrics = Annotated[
    list[str] | None,
    typer.Option("--metric", help="A metric to compute (repeatable; default: all)."),
]
MetricSeed = Annotated[
    int, typer.Option(min=0, max=MAX_SEED, help="Seed of the metrics' sampling.")
]
Fast = Annotated[bool, typer.Option(help="Fewer samples (a quick check).")]
Device = Annotated[str, typer.Option(help="cpu, cuda, cuda:N or mps.", callback=_device)]


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
            callback=_launcher,
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
    with user_errors():
        from disentangle.recipe import load_recipe
        from disentangle.training.loop import resume as resume_run
        from disentangle.training.loop import train

        if resume is not None:
            if recipe is not None:
                _same_recipe(load_recipe(recipe, set_ or [], variant), resume)
            result = resume_run(resume, set_ or [], progress=not quiet)
        elif recipe is None:
            raise DisentangleError("give a RECIPE file to train, or --resume RUN_DIR")
        elif grid or seeds is not None or launcher:
            base = load_recipe(recipe, set_ or [], variant)
            sweep = Sweep(out_dir, overwrite, quiet, jobs, launcher, launcher_option or [])
            _run_sweep(base, grid or [], seeds, sweep)
            return
        else:
            result = train(
                load_recipe(recipe, set_ or [], variant),
                out_dir,
                overwrite=overwrite,
                progress=not quiet,
            )
        out.print(f"run finished: [bold]{result.path}[/]")
        report = result.path / "eval.json"
        if report.is_file() and result.recipe().evaluate.metrics:
            import json

            _show_scores(json.loads(report.read_text()))
        if os.environ.get("RANK", "0") == "0":  # under torchrun, one process writes the page
            from disentangle.html_report import write_html_report

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
    from disentangle.recipe import to_data
    from disentangle.sweep import (
        grid_plan,
        grid_recipes,
        parse_grid,
        parse_seeds,
        run_plan,
        seeds_plan,
    )
    from disentangle.table import sweep_table

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
        _show_seed_table(seed_list, runs)
    else:
        out.print(f"run finished: [bold]{runs[0].path}[/]")


def _show_seed_table(seeds: list[int], runs: list[Any]) -> None:
    from disentangle.sweep import final_mi

    codes = list(final_mi(runs[0]))
    table = Table("seed", "run", *[f"L_I {c}" for c in codes], title="final L_I per code")
    for seed, result in zip(seeds, runs, strict=True):
        mi = final_mi(result)
        table.add_row(str(seed), str(result.path), *[f"{mi[c]:.3f}" for c in codes])
    out.print(table)


def show_sweep_table(table: Any) -> None:
    """A sweep's groups: the swept values, the runs, each column as mean ± std."""
    out_table = Table(*table.swept, "runs", *table.columns, title="mean ± std over seeds")
    for g in table.groups:
        cells = [f"{g.mean[c]:.3f} ± {g.std[c]:.3f}" if c in g.mean else "" for c in table.columns]
        out_table.add_row(*map(str, g.values), str(len(g.runs)), *cells)
    out.print(out_table)


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
    recipes: Annotated[list[Path], typer.Argument(help="Recipe TOML files.")], set_: Sets = None
) -> None:
    """Check recipes and each of their variants without training; every problem is reported."""
    from disentangle.recipe import load_recipe, variants_of

    failed = False
    for path in recipes:
        try:
            names: list[str | None] = [None, *variants_of(path)]
        except DisentangleError as exc:
            show_error(exc)
            failed = True
            continue
        for name in names:
            label = f"{path}" if name is None else f"{path} (variant {name})"
            try:
                load_recipe(path, set_ or [], name)
                out.print(f"[green]ok[/] {label}")
            except DisentangleError as exc:
                show_error(exc)
                failed = True
    if failed:
        raise typer.Exit(1)


@app.command()
def plugins() -> None:
    """List every registered component with its params, plugin and providing package."""
    with user_errors():
        from disentangle.plugins import ENV_VAR, host

        table = Table("kind", "name", "params", "plugin")
        for registry in host.registries.values():
            for e in registry.entries():
                params = ", ".join(
                    f"{k}={f.default!r}" if not f.is_required() else k
                    for k, f in e.params.model_fields.items()
                )
                table.add_row(registry.kind, e.name, params, e.plugin)
        out.print(table)
        loaded = Table("plugin", "package", "version", title=f"plugins (names for {ENV_VAR})")
        for p in host.loaded:
            loaded.add_row(p.name, p.provider, p.version)
        out.print(loaded)
        for f in host.failures:
            err.print(f"[red]failed[/] plugin {f.name!r} ({f.provider}): {f.error}")
        if host.unknown:
            raise DisentangleError("\n".join(host.unknown.values()))


@app.command()
def traverse(
    run_or_checkpoint: Annotated[Path, typer.Argument(help="Run folder or checkpoint .json.")],
    code: Annotated[str | None, typer.Option(help="Code name or index (default: all).")] = None,
    span: Span = (-1.0, 1.0),
    steps: Annotated[
        int, typer.Option(min=2, max=1000, help="Columns for a continuous code.")
    ] = 10,
    rows: Annotated[
        int, typer.Option(min=1, max=1000, help="Rows (fixed noise and other codes).")
    ] = 10,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Seed of the rows.")] = 0,
    gif: Annotated[bool, typer.Option(help="Also write an animated GIF per code.")] = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder (default RUN/figures).")
    ] = None,
) -> None:
    """One PNG per code: that code varies left → right, each row fixes the rest."""
    with user_errors():
        from disentangle.run import load_run

        run = load_run(run_or_checkpoint)
        for path in _traversals(
            run, run.load(), code, span, steps, rows, seed, gif, out_dir or run.path / "figures"
        ):
            out.print(f"wrote {path}")


def _traversals(
    run: Any,
    trained: Any,
    code: str | None,
    span: tuple[float, float],
    steps: int,
    rows: int,
    seed: int,
    gif: bool,
    folder: Path,
) -> list[Path]:
    from disentangle.figures import save_gif, save_grid

    names = trained.components.code_names
    chosen = range(len(names)) if code is None else [_code_index(code, names)]
    suffix = f"range{span[0]:g}_{span[1]:g}"
    paths = []
    for i in chosen:
        images, cols = run.traverse(
            i, rows=rows, steps=steps, span=span, seed=seed, trained=trained
        )
        png, animation = (folder / f"traverse-{names[i]}-{suffix}.{ext}" for ext in ("png", "gif"))
        paths.append(save_grid(images, run.note(png), cols))
        if gif:
            paths.append(save_gif(images, rows, cols, run.note(animation)))
    return paths


@app.command()
def figures(
    run_dir: Annotated[Path, typer.Argument(help="Run folder or checkpoint .json.")],
    gif: Annotated[bool, typer.Option(help="Also write animated GIFs.")] = False,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Seed of the noise.")] = 0,
) -> None:
    """Every figure of a run: samples, and each code's traversal over −1..1 and −2..2."""
    with user_errors():
        from disentangle.figures import save_grid
        from disentangle.run import load_run

        run = load_run(run_dir)
        trained = run.load()
        folder = run.path / "figures"
        samples = run.note(folder / f"samples-{seed}.png")
        paths = [save_grid(run.sample(100, seed, trained), samples, 10)]
        for span in ((-1.0, 1.0), (-2.0, 2.0)):
            paths += _traversals(run, trained, None, span, 10, 10, seed, gif, folder)
        for path in paths:
            out.print(f"wrote {path}")


def _code_index(code: str, names: list[str]) -> int:
    if code.isdigit() and int(code) < len(names):
        return int(code)
    if code in names:
        return names.index(code)
    raise DisentangleError(
        f"no code {code!r}; the run's codes are {', '.join(names)} "
        f"(or an index 0..{len(names) - 1})"
    )


@app.command()
def sample(
    run_or_checkpoint: Annotated[Path, typer.Argument(help="Run folder or checkpoint .json.")],
    n: Annotated[int, typer.Option(min=1, max=10_000, help="Number of images.")] = 100,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Seed of the samples.")] = 0,
    output: Annotated[
        Path | None,
        typer.Option("--out", help="PNG path (default RUN/figures/samples-SEED.png)."),
    ] = None,
) -> None:
    """A grid of generated images."""
    with user_errors():
        import math

        from disentangle.figures import save_grid
        from disentangle.run import load_run

        run = load_run(run_or_checkpoint)
        path = run.note(output or run.path / "figures" / f"samples-{seed}.png")
        save_grid(run.sample(n, seed), path, max(1, round(math.sqrt(n))))
        out.print(f"wrote {path}")


@app.command("eval")
def eval_(
    run_or_checkpoint: Annotated[Path, typer.Argument(help="Run folder or checkpoint .json.")],
    metric: Metrics = None,
    split: Annotated[str | None, typer.Option(help="Dataset split (default: test).")] = None,
    seed: MetricSeed = 0,
    fast: Fast = False,
    chance: Annotated[
        bool, typer.Option(help="Also score noise: each metric's chance level.")
    ] = False,
    device: Device = "cpu",
    inception_weights: Annotated[
        Path | None,
        typer.Option(
            help="The Inception weights file (pt_inception-2015-12-05-6726825d.pth) for fid, "
            "inception_score and kid; or set DISENTANGLE_INCEPTION_WEIGHTS."
        ),
    ] = None,
) -> None:
    """Compute metrics of a trained run; writes RUN/eval.json and PNGs into RUN/eval/."""
    with user_errors():
        from disentangle.evaluate import evaluate

        if inception_weights is not None:
            if not inception_weights.is_file():
                raise DisentangleError(f"--inception-weights {inception_weights}: no such file")
            os.environ["DISENTANGLE_INCEPTION_WEIGHTS"] = str(inception_weights)

        report = evaluate(
            run_or_checkpoint,
            metric,
            split=split,
            seed=seed,
            fast=fast,
            device=device,
            chance=chance,
        )
        _show_scores(report)


@app.command()
def curve(
    run_dir: Annotated[Path, typer.Argument(help="Run folder.")],
    metric: Metrics = None,
    every: Annotated[
        int | None,
        typer.Option(min=1, help="Only checkpoints at multiples of this iteration."),
    ] = None,
    seed: MetricSeed = 0,
    fast: Fast = False,
    device: Device = "cpu",
    literature: Annotated[
        str | None,
        typer.Option(
            "--published",
            help="Draw this dataset's published numbers (default: the run's dataset's).",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--out", help="PNG path (default RUN/curve.png).")
    ] = None,
) -> None:
    """Metrics over a run's kept checkpoints: RUN/curve.json (resumed if stopped), a table, and
    a plot with the published numbers beside."""
    with user_errors():
        from disentangle.curve import curve_plot, metric_curve
        from disentangle.literature import published
        from disentangle.plugins import host
        from disentangle.run import load_run

        run = load_run(run_dir)
        if literature is not None and literature not in host.datasets.names():
            raise DisentangleError(f"--published {literature}: no dataset of that name")
        result = metric_curve(run, metric, every=every, seed=seed, fast=fast, device=device)
        keys = sorted(
            {(m, s) for p in result["points"] for m, v in p["metrics"].items() for s in v}
        )
        points = result["points"]
        table = Table("score", *(str(p["iteration"]) for p in points), title=f"{run.path}")
        for m, s in keys:  # one row per score, one column per checkpoint
            values = [p["metrics"].get(m, {}).get(s) for p in points]
            table.add_row(s, *("" if v is None else f"{v:.3f}" for v in values))
        out.print(table)
        dataset = literature or run.recipe().dataset.type
        path = output or run.note(run.path / "curve.png")
        out.print(f"wrote {curve_plot(result, published(dataset), path)}")


def _show_scores(report: dict[str, Any]) -> None:
    """The scores of an eval.json report, beside their chance levels when measured."""
    chance = report.get("chance") or {}
    columns = ["metric", "score", "value"] + (["chance"] if chance else [])
    title = f"{report['run']} at iteration {report['iteration']} on {report['dataset']}"
    table = Table(*columns, title=title)
    for name, scores in report["metrics"].items():
        for key, value in scores.items():
            noise = chance.get(name, {}).get(key)
            table.add_row(name, key, f"{value:.4f}", *([f"{noise:.4f}"] if chance else []))
    out.print(table)
    codes = report.get("codes") or {}
    if codes:
        found = ", ".join(f"{code} → {m['factor']} ({m['nmi']:.2f})" for code, m in codes.items())
        out.print(f"codes and the factor each matches best (normalised MI): {found}")
    for name, reason in report["skipped"].items():
        out.print(f"[dim]skipped {name}: {reason}[/]")


@app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="Run folders.")],
    output: Annotated[Path, typer.Option("--out", help="PNG path.")] = Path("mi-compare.png"),
) -> None:
    """Plot the L_I curves of several runs together, against H(c) (paper Figure 1), and print
    their final L_I and eval.json scores side by side (as `disentangle table`)."""
    with user_errors():
        from disentangle.plots import mi_curves
        from disentangle.run import load_run
        from disentangle.table import sweep_table

        loaded = [load_run(r) for r in runs]
        out.print(f"wrote {mi_curves(loaded, output)}")
        show_sweep_table(sweep_table(loaded))


@app.command()
def report(
    runs: Annotated[list[Path], typer.Argument(help="Run folders: the seeds of one recipe.")],
    output: Annotated[
        Path | None,
        typer.Option("--out", help="Markdown file (default report.md, unless --html is given)."),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            help="Also (or only, without --out) one self-contained HTML page: traversal "
            "sliders, scores, curves; several runs (seeds or a grid) in a sortable table."
        ),
    ] = None,
) -> None:
    """One Markdown page for seeds of a recipe: scores as mean ± std beside chance, what each
    code captures, the traversal figure and the L_I curves (each run needs its eval.json);
    with --html, a page to open in a browser."""
    with user_errors():
        from disentangle.html_report import write_html_report
        from disentangle.report import write_report
        from disentangle.run import Run

        if html is not None:
            command = " ".join(["disentangle report", *map(str, runs), "--html", str(html)])
            out.print(f"wrote {write_html_report([Run(r) for r in runs], html, command)}")
        if output is not None or html is None:
            markdown = output or Path("report.md")
            command = " ".join(["disentangle report", *map(str, runs), "--out", str(markdown)])
            out.print(f"wrote {write_report([Run(r) for r in runs], markdown, command)}")


@app.command()
def table(
    runs: Annotated[list[Path], typer.Argument(help="Run folders, e.g. a sweep's.")],
    metric: Annotated[
        list[str] | None,
        typer.Option(help="An eval.json metric to show (repeatable; default: all)."),
    ] = None,
    csv_path: Annotated[
        Path | None, typer.Option("--csv", help="Also write the table as CSV here.")
    ] = None,
) -> None:
    """One table of runs: final L_I and eval.json scores, grouped by the recipe values that
    differ between them, mean ± std over seeds."""
    with user_errors():
        from disentangle.run import load_run
        from disentangle.table import sweep_table

        result = sweep_table([load_run(r) for r in runs], metric)
        show_sweep_table(result)
        if csv_path is not None:
            result.write_csv(csv_path)
            out.print(f"wrote {csv_path}")


@app.command()
def select(
    runs: Annotated[list[Path], typer.Argument(help="Run folders: a seed or settings sweep.")],
    groups: Annotated[
        int, typer.Option(min=1, max=100_000, help="Groups of images per teacher.")
    ] = 500,
    group_size: Annotated[int, typer.Option(min=2, max=10_000, help="Images per group.")] = 100,
    std_images: Annotated[
        int, typer.Option(min=2, max=1_000_000, help="Images for each column's std.")
    ] = 10_000,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Seed of the latents.")] = 0,
    device: Device = "cpu",
) -> None:
    """Choose the most central run without labels (ModelCentrality, InfoGAN-CR): each run's
    generator is ground truth for the others' FactorVAE score; the medoid wins."""
    with user_errors():
        from disentangle.run import load_run
        from disentangle.select import model_centrality

        result = model_centrality(
            [load_run(r) for r in runs],
            groups=groups,
            group_size=group_size,
            std_images=std_images,
            seed=seed,
            device=device,
        )
        table = Table(title="FactorVAE score of each run (row) on each teacher's codes (column)")
        table.add_column("run")
        for i in range(len(result.runs)):
            table.add_column(f"teacher {i + 1}", justify="right")
        table.add_column("centrality", justify="right")
        for i, name in enumerate(result.runs):
            cells = ["" if v is None else f"{v:.3f}" for v in result.scores[i]]
            table.add_row(f"{i + 1}. {name}", *cells, f"{result.centrality[i]:.3f}")
        out.print(table)
        out.print(f"most central: {result.chosen}")


@app.command()
def schema(
    components: Annotated[
        bool,
        typer.Option("--plugins", help="Each registered component's params instead, by registry."),
    ] = False,
) -> None:
    """Print the JSON Schema of recipe files (for editor completion and checking)."""
    with user_errors():
        import json

        from disentangle.recipe import component_schemas, recipe_schema

        print(json.dumps(component_schemas() if components else recipe_schema(), indent=1))


#: the apps that have their plugins' commands already
_WITH_PLUGIN_COMMANDS: list[typer.Typer] = []


def add_plugin_commands(cli: typer.Typer, plugins: PluginHost | None = None) -> None:
    """Commands from the plugins' `register_commands(cli)` hooks (`data` comes from the
    datasets plugin), once per app; a hook that fails is reported and skipped."""
    from disentangle.plugins import host

    if any(cli is done for done in _WITH_PLUGIN_COMMANDS):
        return
    _WITH_PLUGIN_COMMANDS.append(cli)
    plugins = plugins or host
    plugins.load()
    for impl in plugins.manager.hook.register_commands.get_hookimpls():
        try:
            impl.function(cli=cli)
        except Exception as exc:  # a broken plugin must not take the CLI down
            err.print(
                f"disentangle: plugin {impl.plugin_name!r} failed to add its commands: "
                f"{type(exc).__name__}: {exc}"
            )


def core_commands() -> set[str]:
    """The names of the commands the core defines itself."""
    return {
        info.name or info.callback.__name__.replace("_", "-")
        for info in app.registered_commands
        if info.callback is not None
    }


def main() -> None:
    """The `disentangle` program. A core command runs without importing the plugins first
    (each loads what it needs); anything else (help, a plugin's command) gets the plugins'
    commands added."""
    command = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    if command not in core_commands():
        add_plugin_commands(app)
    app(prog_name="disentangle")
