"""The `disentangle data` commands, added through the `register_commands` hook."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def add_data_commands(cli: typer.Typer) -> None:
    """`data prepare` and `data digits` under a `data` group of the CLI."""
    data = typer.Typer(help="Dataset tools.", no_args_is_help=True)
    cli.add_typer(data, name="data")

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
        from disentangle.build import prepare_dataset
        from disentangle.cli import out, user_errors

        with user_errors():
            images = prepare_dataset(name, root, set_ or []).images
            shape = "×".join(str(s) for s in images.shape[1:])
            out.print(f"{name}: {images.shape[0]} images of {shape}")

    @data.command("digits")
    def digits(
        root: Annotated[Path, typer.Argument(help="Where to write MNIST/raw/ (e.g. data).")],
    ) -> None:
        """Write scikit-learn's real 8×8 digits as MNIST IDX files (an offline stand-in)."""
        from disentangle.cli import out, user_errors
        from disentangle_data.digits import write_digits_as_mnist

        with user_errors():
            n = write_digits_as_mnist(root)
            out.print(f"wrote {n} real digits (upscaled to 28×28) to {root / 'MNIST' / 'raw'}")
