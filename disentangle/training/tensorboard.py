"""TensorBoard event files beside metrics.jsonl, when the `tensorboard` package is installed.

metrics.jsonl stays the record; the events repeat it for TensorBoard's curves: the method's
losses (`loss_d` as `loss/d`), each code's L_I with its H(c) and attainable ceiling, any other
number the method logs, images/s, and the sample and traversal grids.
They go to RUN/tensorboard/. A resumed run writes a new event file from its checkpoint's
iteration on, marking the steps after it as purged, so the curves a killed run logged past its
last checkpoint are not shown twice (metrics.jsonl is truncated there too).
"""

from __future__ import annotations

import importlib.util
from typing import Any

import torch
from torchvision.utils import make_grid

from disentangle.run import Run

FOLDER = "tensorboard"
#: the tag groups of a record's per-code tables (others are tagged by their own key)
GROUPS = {"mi": "L_I", "entropy": "H(c)", "ceiling": "attainable"}


def available() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


class Board:
    """One event file of a run (opened lazily by the first write)."""

    def __init__(self, run: Run, start: int, codes: list[str]) -> None:
        self.run, self.start, self.codes = run, start, codes
        self.writer: Any = None

    def _open(self) -> Any:
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            folder = self.run.file(FOLDER)
            before = set(folder.glob("events.*")) if folder.is_dir() else set()
            # a resume hides what an earlier file logged after the checkpoint it starts from
            purge = self.start + 1 if self.start else None
            self.writer = SummaryWriter(str(folder), purge_step=purge)
            self.run.claim(*(set(folder.glob("events.*")) - before))
            self.writer.add_custom_scalars(
                {
                    "L_I against H(c)": {
                        code: ["Multiline", [f"L_I/{code}", f"H(c)/{code}", f"attainable/{code}"]]
                        for code in self.codes
                    }
                }
            )
        return self.writer

    def record(self, record: dict[str, Any]) -> None:
        """A metrics.jsonl record as scalars at its iteration."""
        w, step = self._open(), record["iteration"]
        for key, value in record.items():
            if key in ("iteration", "iterations_per_s", "images_per_s"):
                continue
            if isinstance(value, dict):
                group = GROUPS.get(key, key)
                for name, number in value.items():
                    w.add_scalar(f"{group}/{name}", number, step)
            elif isinstance(value, float):
                w.add_scalar(key.replace("loss_", "loss/", 1), value, step)
        w.add_scalar("speed/images_per_s", record["images_per_s"], step)
        w.flush()

    def images(self, tag: str, images: torch.Tensor, nrow: int, step: int) -> None:
        """Images [n, C, H, W] in [0, 1] as one grid of `nrow` per row."""
        grid = make_grid(images.nan_to_num(0.0), nrow=nrow, padding=2)  # a diverged G's NaNs
        self._open().add_image(tag, grid, step)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
