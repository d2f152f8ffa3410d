"""`disentangle eval`, `curve`, `compare`, `report`, `study`, `table` and `select`: a run's
numbers."""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from disentangle.bounds import MAX_SEED
from disentangle.cli.app import Device, Fast, Metrics, MetricSeed, app
from disentangle.cli.show import (
    show_centrality,
    show_curve,
    show_purity,
    show_scores,
    show_sweep_table,
    show_udr,
)
from disentangle.console import out, user_errors
from disentangle.errors import DisentangleError


class SelectBy(enum.StrEnum):
    """How `select` chooses."""

    centrality = "centrality"
    purity = "purity"
    udr = "udr"


class UdrCorrelation(enum.StrEnum):
    """How UDR compares two runs' latents."""

    lasso = "lasso"
    spearman = "spearman"


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
            "inception_score and kid, unless their weights param gives one (--metric "
            "fid:weights=PATH); or set DISENTANGLE_INCEPTION_WEIGHTS."
        ),
    ] = None,
) -> None:
    """Compute metrics of a trained run; writes RUN/eval.json and PNGs into RUN/eval/."""
    kept = (
        "eval.json is unchanged (eval writes it at the end); to evaluate, run "
        f"disentangle eval {run_or_checkpoint} again"
    )
    with user_errors(interrupted=kept):
        from disentangle.analysis.evaluate import evaluate
        from disentangle.recipe.metric_specs import metric_specs
        from disentangle.run import load_run
        from disentangle.run.lock import lock_run

        if inception_weights is not None:
            if not inception_weights.is_file():
                raise DisentangleError(f"--inception-weights {inception_weights}: no such file")
            os.environ["DISENTANGLE_INCEPTION_WEIGHTS"] = str(inception_weights)

        specs = metric_specs(metric, "--metric") if metric else None
        with lock_run(load_run(run_or_checkpoint).path):
            report = evaluate(
                run_or_checkpoint,
                specs,
                split=split,
                seed=seed,
                fast=fast,
                device=device,
                chance=chance,
            )
        show_scores(report)


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
    kept = (
        "curve.json keeps the checkpoints scored so far; run "
        f"disentangle curve {run_dir} again to go on from there"
    )
    with user_errors(interrupted=kept):
        from disentangle.analysis.curve import curve_plot, metric_curve
        from disentangle.analysis.literature import published
        from disentangle.plugins import host
        from disentangle.recipe.metric_specs import metric_specs
        from disentangle.run import load_run
        from disentangle.run.lock import lock_run

        run = load_run(run_dir)
        if literature is not None and literature not in host.datasets.names():
            raise DisentangleError(f"--published {literature}: no dataset of that name")
        with lock_run(run.path):  # curve.json is written into the run folder
            specs = metric_specs(metric, "--metric") if metric else None
            result = metric_curve(run, specs, every=every, seed=seed, fast=fast, device=device)
            show_curve(result, title=str(run.path))
            dataset = literature or run.recipe().dataset.type
            path = output or run.note(run.path / "curve.png")
            out.print(f"wrote {curve_plot(result, published(dataset), path)}")


@app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="Run folders.")],
    output: Annotated[Path, typer.Option("--out", help="PNG path.")] = Path("mi-compare.png"),
) -> None:
    """Plot the L_I curves of several runs together, against H(c) (paper Figure 1), and print
    their final L_I and eval.json scores side by side (as `disentangle table`)."""
    with user_errors():
        from disentangle.analysis.plots import mi_curves
        from disentangle.analysis.table import sweep_table
        from disentangle.run import load_run

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
        from disentangle.analysis.html_report import write_html_report
        from disentangle.analysis.report import write_report

        write_pages("report", runs, output, html, write_report, write_html_report)


@app.command()
def study(
    runs: Annotated[
        list[Path], typer.Argument(help="Run folders of several methods on one dataset.")
    ],
    output: Annotated[
        Path | None,
        typer.Option("--out", help="Markdown file (default study.md, unless --html is given)."),
    ] = None,
    html: Annotated[
        Path | None, typer.Option(help="Also (or only, without --out) one HTML page.")
    ] = None,
) -> None:
    """Runs of several methods side by side (each needs its eval.json): every score's
    distribution per method (median [min, max] and a PNG), Spearman's rank correlation
    between scores across all runs, and the median of any reference implementation's scores
    a run folder carries (reference-<peer>.json, from benchmarks/reference/vae_peers.py)."""
    with user_errors():
        from disentangle.analysis.study import write_study, write_study_html

        write_pages("study", runs, output, html, write_study, write_study_html)


def write_pages(
    command: str,
    runs: list[Path],
    markdown: Path | None,
    html: Path | None,
    write_markdown: Callable[[list[Any], Path, str], Path],
    write_html: Callable[[list[Any], Path, str], Path],
) -> None:
    """`report`'s and `study`'s pages: the HTML page when --html is given, the Markdown one
    when --out is given or --html is not (then COMMAND.md); each names the command that made
    it."""
    from disentangle.run import Run

    folders = [Run(r) for r in runs]
    words = [f"disentangle {command}", *map(str, runs)]
    if html is not None:
        out.print(f"wrote {write_html(folders, html, ' '.join([*words, '--html', str(html)]))}")
    if markdown is not None or html is None:
        target = markdown or Path(f"{command}.md")
        made = write_markdown(folders, target, " ".join([*words, "--out", str(target)]))
        out.print(f"wrote {made}")


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
        from disentangle.analysis.table import refuse_mixed, sweep_table
        from disentangle.run import load_run

        loaded = [load_run(r) for r in runs]
        refuse_mixed(loaded, ("method",), "a table (each method logs scalars of its own)")
        result = sweep_table(loaded, metric)
        show_sweep_table(result)
        if csv_path is not None:
            result.write_csv(csv_path)
            out.print(f"wrote {csv_path}")


@app.command()
def select(
    runs: Annotated[list[Path], typer.Argument(help="Run folders: a seed or settings sweep.")],
    by: Annotated[
        SelectBy,
        typer.Option(
            help="centrality: ModelCentrality, no labels; purity: on 1% of the training "
            "images' labels (ClusterGAN); udr: UDR of VAE runs, no labels (Duan et al.)."
        ),
    ] = SelectBy.centrality,
    groups: Annotated[
        int | None,
        typer.Option(min=1, max=100_000, help="Groups of images per teacher (centrality: 500)."),
    ] = None,
    group_size: Annotated[
        int | None, typer.Option(min=2, max=10_000, help="Images per group (centrality: 100).")
    ] = None,
    std_images: Annotated[
        int | None,
        typer.Option(
            min=2, max=1_000_000, help="Images for each column's std (centrality: 10,000)."
        ),
    ] = None,
    fraction: Annotated[
        float | None,
        typer.Option(min=1e-6, max=1.0, help="Share of the labelled images (purity: 0.01)."),
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="Split of the labelled images (purity: train).")
    ] = None,
    points: Annotated[
        int | None,
        typer.Option(min=2, max=1_000_000, help="Images every run encodes (udr: 1,000)."),
    ] = None,
    correlation: Annotated[
        UdrCorrelation | None,
        typer.Option(help="How two runs' latents are compared (udr: lasso)."),
    ] = None,
    seed: Annotated[
        int, typer.Option(min=0, max=MAX_SEED, help="Seed of the latents or the labelled subset.")
    ] = 0,
    device: Device = "cpu",
) -> None:
    """Choose one run of a sweep: the most central one without labels (ModelCentrality,
    InfoGAN-CR: each run's generator is ground truth for the others' FactorVAE score; the
    medoid wins), the purest on a few training labels (ClusterGAN), or, for VAEs, the one
    with the highest UDR (Duan et al.: how alike its latents are to the other runs')."""
    with user_errors():
        from disentangle.analysis.select import (
            GROUP_SIZE,
            GROUPS,
            STD_IMAGES,
            labelled_purity,
            model_centrality,
        )
        from disentangle.run import load_run

        flags = {
            SelectBy.centrality: {
                "--groups": groups,
                "--group-size": group_size,
                "--std-images": std_images,
            },
            SelectBy.purity: {"--fraction": fraction, "--split": split},
            SelectBy.udr: {"--points": points, "--correlation": correlation},
        }
        unused = [
            flag
            for other, options in flags.items()
            if other is not by
            for flag, value in options.items()
            if value is not None
        ]
        if unused:
            raise DisentangleError(f"{', '.join(unused)}: not an option of --by {by.value}")
        loaded = [load_run(r) for r in runs]
        if by is SelectBy.udr:
            from disentangle.analysis.udr import POINTS, udr

            result = udr(
                loaded,
                points=points or POINTS,
                correlation=(correlation or UdrCorrelation.lasso).value,
                seed=seed,
                device=device,
            )
            show_udr(result)
        elif by is SelectBy.purity:
            purity = labelled_purity(
                loaded, fraction=fraction or 0.01, split=split, seed=seed, device=device
            )
            show_purity(purity)
        else:
            centrality = model_centrality(
                loaded,
                groups=groups or GROUPS,
                group_size=group_size or GROUP_SIZE,
                std_images=std_images or STD_IMAGES,
                seed=seed,
                device=device,
            )
            show_centrality(centrality)
