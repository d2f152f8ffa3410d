"""One Rich progress bar for a training run."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

#: the record's speed fields, shown first
SPEEDS = ("iterations_per_s", "images_per_s")


class TrainingProgress:
    """Shows iterations, it/s, images/s, the method's losses and L_I per code; silent when
    disabled."""

    def __init__(self, total: int, done: int, enabled: bool) -> None:
        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[stats]}"),
            console=Console(stderr=True),
            disable=not enabled,
        )
        self.task = self.progress.add_task("train", total=total, completed=done, stats="")

    def __enter__(self) -> TrainingProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, iteration: int, record: dict[str, object]) -> None:
        losses = " ".join(
            f"{key.removeprefix('loss_')} {value:.3f}"
            for key, value in record.items()
            if isinstance(value, float) and key not in SPEEDS
        )
        stats = (
            f"{record['iterations_per_s']:.1f} it/s {record['images_per_s']:.0f} img/s  {losses}"
        )
        if isinstance(record.get("mi"), dict):
            stats += "  L_I: " + " ".join(f"{k} {v:.3f}" for k, v in record["mi"].items())
        self.progress.update(self.task, completed=iteration, stats=stats)
