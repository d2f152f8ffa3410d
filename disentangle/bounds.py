"""Checks shared by recipes, plugins' params and the CLI: size limits, safe names, devices."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import AfterValidator, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import core_schema

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


@dataclass(frozen=True)
class AtMost:
    """A pydantic annotation for a size that reaches a tensor: at most `limit`, for `why`.
    Validation names the reason; the JSON Schema carries the limit as `maximum`."""

    limit: int | float
    why: str

    def check(self, value: Any) -> Any:
        if value is not None and value > self.limit:
            raise ValueError(f"at most {self.limit:,}: {self.why}")
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        return {**handler(schema), "maximum": self.limit}


def at_most(limit: int | float, why: str) -> AtMost:
    """`Annotated[int, at_most(4096, "why")]`: a bound with its reason."""
    return AtMost(limit, why)


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
