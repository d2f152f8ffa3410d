"""The method docs/methods.md writes out ("Writing one"), taken from the page as it stands: it
fits in under 40 lines of method code, trains, resumes and is evaluated by the core's loop, and
its refusal is `validate`'s."""

from __future__ import annotations

import math
import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.tiny import SMALL_IMAGES, checkpointed, tiny_grid

from disentangle.analysis.evaluate import evaluate
from disentangle.errors import RecipeError
from disentangle.plugins import host
from disentangle.recipe import validate_recipe
from disentangle.training.loop import resume, train

PAGE = Path(__file__).resolve().parents[2] / "docs" / "methods.md"


def example_source() -> str:
    section = PAGE.read_text().split("## Writing one", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.fixture
def denoising() -> Iterator[types.ModuleType]:
    """The page's code as a module, its method registered for the test's duration."""
    module = types.ModuleType("denoising_from_the_docs")
    exec(compile(example_source(), str(PAGE), "exec"), module.__dict__)
    host.methods.names()  # the plugins load first, so the method joins them
    module.register_methods(
        lambda name, factory, params: host.methods.register(name, factory, params)
    )
    yield module
    host.methods.unregister("denoising")


def recipe(codes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": "denoising",
        "method": {"type": "denoising", "noise": 0.2},
        "noise": {"type": "uniform", "dim": 2},
        "codes": codes,
        "backbone": {"type": "mnist", "width": 0.125},
        "dataset": tiny_grid(28),
        "train": checkpointed(4, 8),
        "images": SMALL_IMAGES,
    }


def test_the_method_of_the_docs_is_under_40_lines() -> None:
    source = example_source()
    body = source[source.index("class Denoising(Method):") : source.index("@hookimpl")]
    lines = [line for line in body.strip().splitlines() if line.strip()]
    assert len(lines) < 40, len(lines)


def test_the_method_of_the_docs_trains_resumes_and_evaluates(
    denoising: types.ModuleType, tmp_path: Path
) -> None:
    codes = [{"type": "uniform", "name": "a"}, {"type": "uniform", "name": "b"}]
    run = train(validate_recipe(recipe(codes)), tmp_path / "run")
    assert [r["iteration"] for r in run.metrics()] == [1, 2, 3, 4]
    resume(run.path, ["train.iterations=6"])
    records = run.metrics()
    assert [r["iteration"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert all(math.isfinite(r["loss"]) for r in records)
    scores = evaluate(run, ["mig"], fast=True)
    assert math.isfinite(scores["metrics"]["mig"]["mig"])


def test_its_refusal_is_validates(denoising: types.ModuleType) -> None:
    with pytest.raises(RecipeError) as info:
        validate_recipe(recipe([{"type": "categorical", "k": 3}, {"type": "uniform"}]))
    assert [p.where for p in info.value.problems] == ["codes[0].type"]
