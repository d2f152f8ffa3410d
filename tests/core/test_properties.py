"""Property tests: whatever a user feeds in, the toolkit raises DisentangleError or succeeds.

Three inputs are fuzzed with hypothesis (derandomized, so every run checks the same examples):
recipe files (any text, and TOML built from random nested tables that reuse the recipe's real
keys so the validator is reached, not only the TOML parser), `--set` overrides, and checkpoint
sidecars (any JSON, and a real sidecar with one value replaced or removed). Any exception other
than DisentangleError fails the test.
"""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.tiny import TINY_RECIPE, TINY_TOML
from test_bad_input import DROP, dump_toml, replaced
from typer.testing import CliRunner

from disentangle.cli import app
from disentangle.errors import DisentangleError
from disentangle.recipe import apply_overrides, load_recipe, validate_recipe
from disentangle.run import load_run
from disentangle.run.checkpoint import load_checkpoint

FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------

RECIPE_WORDS = [
    "name",
    "description",
    "noise",
    "codes",
    "type",
    "dim",
    "k",
    "lambda",
    "train",
    "variants",
    "backbone",
    "dataset",
    "width",
    "method",
    "optim",
    "lr_g",
    "lr_d",
    "batch_size",
    "seed",
    "device",
    "iterations",
    "images",
    "samples",
    "traversal_rows",
    "traversal_range",
    "estimator",
    "g_updates",
    "resolution",
    "root",
]
TYPE_NAMES = ["uniform", "categorical", "gaussian", "mnist", "procedural", "variational", "x"]

keys = st.sampled_from(RECIPE_WORDS) | st.text(max_size=6)
ints = st.integers() | st.sampled_from([0, 1, 2, 3, -1, 2**31, 2**63, 10**12, 10**30])
floats = st.floats() | st.sampled_from([float("nan"), float("inf"), -float("inf"), 0.0, 1e-300])
texts = st.sampled_from([*TYPE_NAMES, "a/b", "../x", "", "cuda:0", "tpu"]) | st.text(max_size=8)
scalars = st.booleans() | ints | floats | texts
nested = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=20,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=15,
)


def paths_of(node: Any, prefix: tuple[Any, ...] = (), depth: int = 6) -> Iterator[tuple[Any, ...]]:
    """Every key path in nested dicts and lists, down to `depth` levels."""
    if depth == 0:
        return
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        yield (*prefix, key)
        if isinstance(value, dict | list):
            yield from paths_of(value, (*prefix, key), depth - 1)


RECIPE_PATHS = sorted(paths_of(TINY_RECIPE), key=repr)


def checked(call: Any, *args: Any) -> None:
    """`call(*args)` returns or raises DisentangleError; anything else fails the test."""
    with contextlib.suppress(DisentangleError):
        call(*args)


# --------------------------------------------------------------------------------------------
# Recipe files
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties")


@FUZZ
@given(text=st.text())
def test_any_text_as_a_recipe(text: str, scratch: Path) -> None:
    path = scratch / "any.toml"
    path.write_text(text, encoding="utf-8")
    checked(load_recipe, path)


@FUZZ
@given(raw=st.binary())
def test_any_bytes_as_a_recipe(raw: bytes, scratch: Path) -> None:
    path = scratch / "bytes.toml"
    path.write_bytes(raw)
    checked(load_recipe, path)


@FUZZ
@given(data=st.dictionaries(keys, nested, max_size=6))
def test_random_tables_as_a_recipe(data: dict[str, Any], scratch: Path) -> None:
    text = dump_toml(data)
    tomllib.loads(text)  # the writer's TOML is valid, so the validator is what gets tested
    path = scratch / "tables.toml"
    path.write_text(text, encoding="utf-8")
    checked(load_recipe, path)


@FUZZ
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(RECIPE_PATHS), nested | st.just(DROP)), min_size=1, max_size=3
    ),
    extra=st.dictionaries(keys, nested, max_size=2),
)
def test_the_tiny_recipe_mutated(
    edits: list[tuple[tuple[Any, ...], Any]], extra: dict[str, Any], scratch: Path
) -> None:
    data: Any = copy.deepcopy(TINY_RECIPE)
    for path, value in edits:
        try:
            data = replaced(data, path, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this path's parent
    data.update(extra)
    text = dump_toml(data)
    tomllib.loads(text)
    path = scratch / "mutated.toml"
    path.write_text(text, encoding="utf-8")
    checked(load_recipe, path)


# --------------------------------------------------------------------------------------------
# --set overrides
# --------------------------------------------------------------------------------------------

KEY_PIECES = [*RECIPE_WORDS, "0", "1", "2", "99", "-1", "0.5", "x", "", " "]
JOINERS = [".", "[", "]", "", "..", "=", " "]
VALUE_TEXTS = [
    "1",
    "0",
    "-1",
    "nan",
    "inf",
    "1e400",
    '"x"',
    "[1, 2]",
    "{a = 1}",
    "true",
    "abc",
    "",
    "10000000000000000000000",
    '"../x"',
    "[",
]
key_texts = st.lists(
    st.tuples(st.sampled_from(KEY_PIECES), st.sampled_from(JOINERS)), min_size=1, max_size=5
).map(lambda pairs: "".join(piece + joiner for piece, joiner in pairs))
override_texts = (
    st.text()
    | st.builds(lambda k, v: f"{k}={v}", key_texts, st.sampled_from(VALUE_TEXTS) | st.text())
    | st.builds(lambda k, v: f"{k}={v}", st.sampled_from(["codes[0].k", "codes.1.dim"]), st.text())
)


def override_and_validate(text: str) -> None:
    data = copy.deepcopy(TINY_RECIPE)
    apply_overrides(data, [text])
    validate_recipe(data)


@FUZZ
@given(text=override_texts)
def test_any_override(text: str) -> None:
    checked(override_and_validate, text)


# --------------------------------------------------------------------------------------------
# Checkpoint sidecars
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """A trained tiny run's sidecar (as data) and its safetensors file."""
    folder = tmp_path_factory.mktemp("trained-properties")
    recipe = folder / "tiny.toml"
    recipe.write_text(TINY_TOML)
    args = ["run", str(recipe), "--out", str(folder / "run"), "--quiet"]
    args += ["--set", "train.iterations=2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    sidecar = folder / "run" / "checkpoints" / "ckpt-0000002.json"
    return json.loads(sidecar.read_text()), sidecar.with_suffix(".safetensors")


@pytest.fixture(scope="module")
def sidecar_run(real_checkpoint: tuple[dict[str, Any], Path], scratch: Path) -> Path:
    """A run folder holding one checkpoint: the real tensors, a sidecar each example writes."""
    run = scratch / "fuzzed-run"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(real_checkpoint[1], run / "checkpoints" / "ckpt-0000002.safetensors")
    return run


def load_both(run: Path, doc: Any) -> None:
    """Write `doc` as the sidecar, then read it both ways."""
    sidecar = run / "checkpoints" / "ckpt-0000002.json"
    sidecar.write_text(json.dumps(doc))
    checked(load_checkpoint, sidecar)
    checked(lambda: load_run(run).load())


@FUZZ
@given(doc=json_values)
def test_any_json_as_a_sidecar(doc: Any, sidecar_run: Path) -> None:
    load_both(sidecar_run, doc)


def sidecar_paths(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    # a valid but wide backbone (up to 4× the paper) would build hundreds of MB per example
    return [p for p in paths_of(doc) if p[:2] != ("recipe", "backbone")]


@FUZZ
@given(data=st.data())
def test_a_real_sidecar_with_one_value_replaced(
    data: st.DataObject, real_checkpoint: tuple[dict[str, Any], Path], sidecar_run: Path
) -> None:
    doc = real_checkpoint[0]
    path = data.draw(st.sampled_from(sorted(sidecar_paths(doc), key=repr)), label="path")
    value = data.draw(json_values | st.just(DROP), label="value")
    load_both(sidecar_run, replaced(doc, path, value))


def test_the_unchanged_sidecar_loads(
    real_checkpoint: tuple[dict[str, Any], Path], sidecar_run: Path
) -> None:
    """The control: the fuzzed folder works with the real sidecar."""
    sidecar = sidecar_run / "checkpoints" / "ckpt-0000002.json"
    sidecar.write_text(json.dumps(real_checkpoint[0]))
    state, meta = load_checkpoint(sidecar)
    assert meta["iteration"] == 2 and "generator" in state
    assert load_run(sidecar_run).load().iteration == 2
