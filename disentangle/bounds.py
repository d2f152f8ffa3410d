"""Checks shared by recipes, plugins' params and the CLI: size limits, safe names, devices."""

from __future__ import annotations

import re
from typing import Any

from pydantic import AfterValidator

#: names that become file and folder names in a run folder: never a path, never hidden
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NAME_RULE = (
    "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit "
    "(it names files in the run folder)"
)
#: the largest seed: seeds are combined into 64-bit generator seeds
MAX_SEED = 2**31 - 1
DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
DEVICE_RULE = "must be auto (CUDA when present, else CPU), cpu, cuda, cuda:N or mps"


def at_most(limit: int | float, why: str) -> Any:
    """A pydantic validator for a size that reaches a tensor: `limit` with the reason for it."""

    def check(value: Any) -> Any:
        if value is not None and value > limit:
            raise ValueError(f"at most {limit:,}: {why}")
        return value

    return AfterValidator(check)


def check_name(value: str | None) -> str | None:
    if value is not None and not SAFE_NAME.fullmatch(value):
        raise ValueError(NAME_RULE)
    return value


def check_device(value: str) -> str:
    if not DEVICE.fullmatch(value):
        raise ValueError(DEVICE_RULE)
    return value


SafeName = AfterValidator(check_name)
Device = AfterValidator(check_device)
