"""The literature's numbers for InfoGAN's experiments, read from published.toml."""

from __future__ import annotations

import tomllib
from importlib.resources import files

from disentangle import Published


def published() -> list[Published]:
    """One record per printed score of each row of published.toml."""
    data = tomllib.loads(files(__package__).joinpath("published.toml").read_text("utf-8"))
    records = []
    for row in data["results"]:
        for key, value in row["scores"].items():
            metric, score = key.split(".")
            records.append(
                Published(
                    dataset=row["dataset"],
                    method=row["method"],
                    metric=metric,
                    score=score,
                    value=value,
                    source=row["source"],
                    note=row["note"],
                )
            )
    return records
