"""The Typer app of the `disentangle` command and the options its commands share."""

from __future__ import annotations

from typing import Annotated

import typer

from disentangle.bounds import MAX_SEED

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


def check_launcher(name: str | None) -> str | None:
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
    typer.Option(
        "--metric",
        help="A metric to compute, with params if you like: mig or mig:bins=30 "
        "(repeatable; default: all).",
    ),
]
MetricSeed = Annotated[
    int, typer.Option(min=0, max=MAX_SEED, help="Seed of the metrics' sampling.")
]
Fast = Annotated[bool, typer.Option(help="Fewer samples (a quick check).")]
Device = Annotated[str, typer.Option(help="cpu, cuda, cuda:N or mps.", callback=_device)]
