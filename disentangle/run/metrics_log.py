"""metrics.jsonl, the run's log: one strict JSON record per line, written and read here."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from disentangle.errors import RunDirError, warn


def nonfinite_keys(record: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys of a record's non-finite numbers (nested tables included)."""
    bad = []
    for key, value in record.items():
        where = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            bad += nonfinite_keys(value, where)
        elif isinstance(value, float) and not math.isfinite(value):
            bad.append(where)
    return bad


def json_line(record: dict[str, Any]) -> str:
    """A record as one strict JSON line: a non-finite number becomes null, its key listed
    under "nonfinite" (bare NaN tokens are not JSON)."""

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value

    cleaned = clean(record)
    bad = nonfinite_keys(record)
    if bad:
        cleaned["nonfinite"] = bad
    return json.dumps(cleaned, allow_nan=False) + "\n"


def is_record(record: Any) -> bool:
    """An object with an integer iteration; its per-code tables (InfoGAN's mi, entropy and
    ceiling), where the method logs them, are objects."""
    return (
        isinstance(record, dict)
        and type(record.get("iteration")) is int
        and all(isinstance(record[k], dict) for k in ("mi", "entropy", "ceiling") if k in record)
    )


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every record of a metrics.jsonl; a torn last line (a killed write) is dropped, warned."""
    if not path.is_file():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RunDirError(f"{path}: not UTF-8 text ({exc})") from None
    lines = text.split("\n")
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):  # no newline after it: a write that was cut short
                warn(f"{path}, line {number}: dropped a half-written record")
                continue
            raise RunDirError(f"{path}, line {number}: not a JSON record ({exc})") from None
        if not is_record(record):
            raise RunDirError(
                f"{path}, line {number}: not a metrics record "
                "(an object with an integer iteration; mi, entropy and ceiling tables)"
            )
        records.append(record)
    return records
