"""`disentangle traverse`, `figures` and `sample`: images from a trained run."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer

from disentangle.bounds import MAX_SEED
from disentangle.cli.app import Span, app
from disentangle.console import out, user_errors
from disentangle.errors import DisentangleError


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
        folder = out_dir or run.path / "figures"
        with _writing(run, folder):
            for path in _traversals(run, run.load(), code, span, steps, rows, seed, gif, folder):
                out.print(f"wrote {path}")


def _writing(run: Any, target: Path) -> AbstractContextManager[None]:
    """The run folder's writer lock when `target` lies in it (elsewhere, the run is only read)."""
    from disentangle.run.lock import lock_run

    inside = target.resolve().is_relative_to(run.path.resolve())
    return lock_run(run.path) if inside else nullcontext()


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
    from disentangle.run.figures import save_gif, save_grid

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
        from disentangle.run import load_run
        from disentangle.run.figures import save_grid

        run = load_run(run_dir)
        folder = run.path / "figures"
        with _writing(run, folder):
            trained = run.load()
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

        from disentangle.run import load_run
        from disentangle.run.figures import save_grid

        if output is not None:
            _check_image_name(output)
        run = load_run(run_or_checkpoint)
        target = output or run.path / "figures" / f"samples-{seed}.png"
        with _writing(run, target):
            save_grid(run.sample(n, seed), run.note(target), max(1, round(math.sqrt(n))))
        out.print(f"wrote {target}")


def _check_image_name(path: Path) -> None:
    """Refuse an --out whose ending names no image format that PIL writes."""
    from PIL import Image

    Image.init()
    formats = Image.registered_extensions()
    if formats.get(path.suffix.lower()) not in Image.SAVE:
        raise DisentangleError(
            f"--out {path}: not an image file name (its ending {path.suffix or '(none)'!r} "
            "names no image format); give a name ending in .png, .jpg, .webp or .bmp"
        )
