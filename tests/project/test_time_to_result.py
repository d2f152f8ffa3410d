"""benchmarks/time_to_result.py: a shipped recipe's loop timed end to end (docs/benchmarks.md's
"Time to a result" rows), here on two iterations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from support.benchmarks import benchmark


@pytest.fixture
def time_to_result() -> Iterator[ModuleType]:
    with benchmark("time_to_result") as module:
        yield module


def test_the_recipes_loop_is_timed_for_the_iterations_asked(
    time_to_result: ModuleType, tmp_path: Path
) -> None:
    out = tmp_path / "ttr.json"
    flags = ["--runs", "dsprites-vae:2", "--variants", "fp32,bf16", "--threads", "1"]
    time_to_result.main([*flags, "--json", str(out)])
    written = json.loads(out.read_text())
    assert written["machine"]["cores"] >= 1
    rows = written["results"]
    assert [(r["recipe"], r["variant"], r["iterations"], r["batch"]) for r in rows] == [
        ("dsprites-vae", "fp32", 2, 64),
        ("dsprites-vae", "bf16", 2, 64),
    ]
    for r in rows:
        assert r["seconds"] > 0
        assert r["iterations_per_s"] == pytest.approx(2 / r["seconds"])


@pytest.mark.parametrize(
    ("text", "says"),
    [("nosuch:10", "no recipe recipes/nosuch.toml"), ("mnist:0", "positive integer")],
)
def test_a_bad_run_is_named(time_to_result: ModuleType, text: str, says: str) -> None:
    with pytest.raises(SystemExit, match=says):
        time_to_result.parse_run(text)


def test_an_unknown_variant_is_refused(
    time_to_result: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        time_to_result.parse_args(["--variants", "fp32,fp8"])
    assert "unknown fp8" in capsys.readouterr().err
