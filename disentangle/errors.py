"""Errors that the CLI shows as a message (exit 1) instead of a traceback, and warnings."""

from __future__ import annotations

import sys
from dataclasses import dataclass


def warn(message: str) -> None:
    """Tell the user on stderr about something the toolkit worked around."""
    print(f"disentangle: warning: {message}", file=sys.stderr)


class DisentangleError(Exception):
    """A user-facing error: bad input, missing data, a broken checkpoint."""


@dataclass(frozen=True)
class Problem:
    """One problem in a recipe: where (a TOML key path), what, and the bad value."""

    where: str
    message: str
    value: str | None = None

    def __str__(self) -> str:
        got = f" (got {self.value})" if self.value is not None else ""
        return f"{self.where}: {self.message}{got}"


class RecipeError(DisentangleError):
    """Every problem found in one recipe, reported together."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source, self.problems = source, problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")


class DatasetError(DisentangleError):
    """Dataset files missing or not in the expected layout."""


class CheckpointError(DisentangleError):
    """A checkpoint that is missing, truncated, corrupt or from another recipe."""


class RunDirError(DisentangleError):
    """An output folder that cannot be used for this run."""


class TrainingError(DisentangleError):
    """Training had to stop (non-finite losses)."""
