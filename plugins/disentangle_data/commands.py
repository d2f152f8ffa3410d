"""The `disentangle data` commands, added through the `register_commands` hook."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from disentangle.console import err, out, user_errors


def _mirror(url: str | None) -> str | None:
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise typer.BadParameter(f"{url!r}: give a base URL, e.g. https://mirror.example.org")
    return url


def add_data_commands(cli: typer.Typer) -> None:
    """`data download`, `data prepare` and `data digits` under a `data` group of the CLI."""
    data = typer.Typer(help="Dataset tools.", no_args_is_help=True)
    cli.add_typer(data, name="data")

    @data.command("download")
    def download(
        name: Annotated[str, typer.Argument(help="Dataset name, e.g. fashion_mnist.")],
        root: Annotated[
            Path, typer.Option(help="The folder to put it in (the recipe's dataset.root).")
        ] = Path("data"),
        mirror: Annotated[
            str | None,
            typer.Option(
                help="A mirror's base URL, in place of each file's scheme and host (same paths).",
                callback=_mirror,
            ),
        ] = None,
        timeout: Annotated[
            float, typer.Option(min=0.01, help="Seconds without data before giving up.")
        ] = 30.0,
    ) -> None:
        """Download a dataset into ROOT, verified, in the layout it reads; then load it once."""
        from disentangle_data.download import download as download_dataset
        from disentangle_data.sources import shipped_sources

        with user_errors():
            root = root.expanduser().absolute()
            try:
                data = download_dataset(name, root, shipped_sources(), mirror, timeout, err)
            except KeyboardInterrupt:
                err.print("[yellow]interrupted[/]: the same command resumes from the .part kept")
                raise typer.Exit(130) from None
            images = data.images
            shape = "×".join(str(s) for s in images.shape[1:])
            out.print(f"{name}: {images.shape[0]} images of {shape} load from {root}")

    @data.command("prepare")
    def prepare(
        name: Annotated[str, typer.Argument(help="Dataset name, e.g. chairs.")],
        root: Annotated[str | None, typer.Option(help="The dataset's folder (or archive).")] = None,
        set_: Annotated[
            list[str] | None,
            typer.Option("--set", help="Another dataset param, e.g. split=test."),
        ] = None,
    ) -> None:
        """Read a dataset once and write its prepared cache, so runs load it in seconds."""
        from disentangle.recipe.prepare import prepare_dataset

        with user_errors():
            images = prepare_dataset(name, root, set_ or []).images
            shape = "×".join(str(s) for s in images.shape[1:])
            out.print(f"{name}: {images.shape[0]} images of {shape}")

    @data.command("digits")
    def digits(
        root: Annotated[Path, typer.Argument(help="Where to write MNIST/raw/ (e.g. data).")],
    ) -> None:
        """Write scikit-learn's real 8×8 digits as MNIST IDX files (an offline stand-in)."""
        from disentangle_data.digits import write_digits_as_mnist

        with user_errors():
            n = write_digits_as_mnist(root)
            out.print(f"wrote {n} real digits (upscaled to 28×28) to {root / 'MNIST' / 'raw'}")
