"""Bad input, table-driven: every case must end in a clear message, never a traceback.

Each case says how to set it up (a recipe, damaged dataset files, a damaged copy of a trained
tiny run, an environment variable), the CLI arguments, the exit code it must end with (1 for
bad input, 2 for Typer's usage errors) and needles that must appear in the output: the TOML key
path, the file or folder, or the flag. Output is matched with whitespace and Rich's panel
borders normalised, so a long path that Rich wraps still matches. Each category also holds a
valid case (a positive control) that must exit 0, which shows that the harness can pass.

Placeholders in arguments, needles and recipe text: {tmp} (the case's own folder), {recipe}
({tmp}/recipe.toml, written from the case's recipe), {run} ({tmp}/run, a fresh copy of the
module's trained tiny run) and {data} ({tmp}/data, where dataset cases write MNIST IDX files).
"""

from __future__ import annotations

import copy
import importlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from support.layouts import write_split
from support.tiny import TINY_RECIPE, TINY_TOML
from typer.testing import CliRunner

from disentangle.cli import add_plugin_commands, app
from disentangle.run import lock as run_lock

runner = CliRunner()
add_plugin_commands(app)  # `data` is the datasets plugin's, added as `main` adds it

# --------------------------------------------------------------------------------------------
# A tiny TOML writer (also used by test_properties.py)
# --------------------------------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


def toml_value(value: Any) -> str:
    """A value in TOML's inline syntax (tables as inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def dump_toml(data: dict[str, Any]) -> str:
    """Top-level values first, then [tables] and [[arrays of tables]]; deeper levels inline."""
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables += [f"[{toml_key(key)}]", *_entries(value)]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                tables += [f"[[{toml_key(key)}]]", *_entries(item)]
        else:
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    return "\n".join(lines + tables) + "\n"


def _entries(table: dict[str, Any]) -> list[str]:
    return [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items()]


DROP = object()  # as a value in tiny(): remove the key


def replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A deep copy of `doc` with the value at `path` replaced (value DROP removes the key)."""
    out = copy.deepcopy(doc)
    node = out
    for part in path[:-1]:
        node = node[part]
    if value is DROP:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


def tiny(*edits: tuple[str, Any], base: dict[str, Any] | None = None) -> str:
    """The tiny recipe as TOML, with ("a.b.0.c", value) edits (value DROP removes the key)."""
    data = TINY_RECIPE if base is None else base
    for path, value in edits:
        data = replaced(data, tuple(int(p) if p.isdigit() else p for p in path.split(".")), value)
    return dump_toml(data)


# --------------------------------------------------------------------------------------------
# The harness
# --------------------------------------------------------------------------------------------

Needle = str | tuple[str, ...]  # a tuple: any one of these alternatives


@dataclass
class Ctx:
    """One case's folders."""

    tmp: Path
    trained: Path | None

    @property
    def recipe(self) -> Path:
        return self.tmp / "recipe.toml"

    @property
    def run(self) -> Path:
        return self.tmp / "run"

    @property
    def data(self) -> Path:
        return self.tmp / "data"

    def sub(self, text: str) -> str:
        for name in ("tmp", "recipe", "run", "data"):
            text = text.replace("{" + name + "}", str(getattr(self, name)))
        return text


Setup = Callable[[Ctx], None]
Check = Callable[[Ctx, str], None]


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    needles: tuple[Needle, ...] = ()
    code: int | tuple[int, ...] = 1
    recipe: str | bytes | None = TINY_TOML
    setup: Setup | None = None
    check: Check | None = None
    keep: tuple[str, ...] = ()  # paths under {tmp} whose files must not change


def case(
    id_: str,
    args: str | tuple[str, ...],
    *needles: Needle,
    code: int | tuple[int, ...] = 1,
    recipe: str | bytes | None = TINY_TOML,
    setup: Setup | None = None,
    check: Check | None = None,
    keep: tuple[str, ...] = (),
) -> Any:
    """A table row: `args` as a tuple, or a string split on spaces."""
    argv = tuple(args.split()) if isinstance(args, str) else args
    return pytest.param(Case(argv, needles, code, recipe, setup, check, keep), id=id_)


def flatten(output: str) -> tuple[str, str]:
    """The output with whitespace (and Rich's panel borders) collapsed, and with none at all."""
    flat = " ".join(re.sub(r"[│┃║]", " ", output).split())
    return flat, flat.replace(" ", "")


def assert_needles(output: str, needles: tuple[Needle, ...]) -> None:
    flat, squashed = flatten(output)
    for needle in needles:
        options = (needle,) if isinstance(needle, str) else needle
        found = any(o in flat or "".join(o.split()) in squashed for o in options)
        assert found, f"none of {options!r} in the output:\n{output}"


def assert_outcome(
    code: int, output: str, exception: BaseException | None, expected: int | tuple[int, ...]
) -> None:
    codes = (expected,) if isinstance(expected, int) else expected
    detail = f"exit {code}, expected {codes}; output:\n{output}"
    if exception is not None and not isinstance(exception, SystemExit):
        tb = "".join(traceback.format_exception(exception))
        detail += f"\nexception escaped:\n{tb}"
    assert code in codes, detail
    assert "Traceback" not in output, detail
    assert exception is None or isinstance(exception, SystemExit), detail


def snapshot(ctx: Ctx, paths: tuple[str, ...]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for rel in paths:
        root = ctx.tmp / rel
        found = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in found:
            files[path.relative_to(ctx.tmp).as_posix()] = path.read_bytes()
    return files


def run_case(c: Case, tmp: Path, trained: Path | None = None) -> str:
    """Set the case up, run the CLI in-process, check the outcome; the output."""
    ctx = Ctx(tmp, trained)
    if c.recipe is not None:
        if isinstance(c.recipe, bytes):
            ctx.recipe.write_bytes(c.recipe)
        else:
            ctx.recipe.write_text(ctx.sub(c.recipe), encoding="utf-8")
    if trained is not None:
        shutil.copytree(trained, ctx.run)
    if c.setup is not None:
        c.setup(ctx)
    before = snapshot(ctx, c.keep)
    result = runner.invoke(app, [ctx.sub(a) for a in c.args])
    assert_outcome(result.exit_code, result.output, result.exception, c.code)
    assert_needles(result.output, tuple(_sub_needle(ctx, n) for n in c.needles))
    if c.keep:
        after = snapshot(ctx, c.keep)
        assert after == before, f"files changed: {sorted(set(after) ^ set(before))} or content"
    if c.check is not None:
        c.check(ctx, result.output)
    return result.output


def _sub_needle(ctx: Ctx, needle: Needle) -> Needle:
    return ctx.sub(needle) if isinstance(needle, str) else tuple(ctx.sub(n) for n in needle)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny recipe trained once (6 iterations, checkpoints at 2, 4 and 6): never modified."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("trained")
    recipe = folder / "tiny.toml"
    recipe.write_text(TINY_TOML)
    result = runner.invoke(app, ["run", str(recipe), "--out", str(folder / "run"), "--quiet"])
    assert result.exit_code == 0, result.output
    return folder / "run"


OUT = ("--out", "{tmp}/out", "--quiet")  # where `run` cases train, should they get that far


def validate_and_run(
    id_: str, recipe: str | bytes | None, *needles: Needle, target: str = "{recipe}"
) -> list[Any]:
    """The same bad recipe through `validate` and through `run`."""
    return [
        case(f"{id_}-validate", ("validate", target), *needles, recipe=recipe),
        case(f"{id_}-run", ("run", target, *OUT), *needles, recipe=recipe),
    ]


# --------------------------------------------------------------------------------------------
# Recipes: the file itself
# --------------------------------------------------------------------------------------------

NOT_UTF8 = b"\xff\xfe\x00garbage" + random.Random(1).randbytes(200)
SYNTAX_ERRORS = {
    "unclosed-string": 'name = "tiny\n[noise]\ntype = "uniform"\n',
    "no-value": "name =\n",
    "bad-header": '[noise\ntype = "uniform"\n',
    "duplicate-key": 'name = "a"\nname = "b"\n',
    "table-twice": TINY_TOML + '\n[noise]\ntype = "uniform"\n',
    "bad-escape": 'name = "ti\\qny"\n',
    "trailing-garbage": TINY_TOML.replace("dim = 4", "dim = 4 4"),
    "bare-word": TINY_TOML.replace('type = "uniform"', "type = uniform", 1),
}

RECIPE_CASES = [
    case("ok-validate", "validate {recipe}", code=0),
    case("ok-run", ("run", "{recipe}", "--set", "train.iterations=2", *OUT), code=0),
    *validate_and_run("not-utf8", NOT_UTF8, "{recipe}", "UTF-8"),
    *validate_and_run("utf16", TINY_TOML.encode("utf-16"), "{recipe}", "UTF-8"),
    *validate_and_run("folder", None, "{tmp}", "folder", target="{tmp}"),
    *validate_and_run("missing", None, "{tmp}/nosuch.toml", target="{tmp}/nosuch.toml"),
    *[
        row
        for name, text in SYNTAX_ERRORS.items()
        for row in validate_and_run(f"syntax-{name}", text, "{recipe}")
    ],
]


@pytest.mark.parametrize("c", RECIPE_CASES)
def test_recipe_files(c: Case, tmp_path: Path) -> None:
    run_case(c, tmp_path)


# --------------------------------------------------------------------------------------------
# Recipe values
# --------------------------------------------------------------------------------------------

HUGE = 1_000_000_000_000


def value_case(id_: str, *edits: tuple[str, Any], needles: tuple[Needle, ...]) -> Any:
    return case(id_, ("validate", "{recipe}"), *needles, recipe=tiny(*edits))


#: a string (or a float) where TOML has the type: each key's own error, nothing coerced
STRICT_TYPES = [
    ("method", {"g_updates": "2"}, "method.g_updates"),
    ("method", {"mi_trains_trunk": "yes"}, "method.mi_trains_trunk"),
    ("method", {"mi_trains_trunk": "true"}, "method.mi_trains_trunk"),
    ("method", {"lr_g": "1e-3"}, "method.lr_g"),
    ("method", {"type": "beta_vae", "beta": "4"}, "method.beta"),
    ("train.iterations", "6", "train.iterations"),
    ("train.iterations", 6.0, "train.iterations"),
    ("train.compile", "false", "train.compile"),
    ("train.compile", 0, "train.compile"),
    ("noise.dim", "4", "noise.dim"),
    ("codes.0.k", "3", "codes[0].k"),
    ("codes.1.lambda", "0.1", "codes[1].lambda"),
    ("backbone.width", "0.125", "backbone.width"),
    ("dataset.scales", "2", "dataset.scales"),
    ("images.samples", "4", "images.samples"),
    ("evaluate", {"fast": "true"}, "evaluate.fast"),
]

VALUE_CASES = [
    case("ok-device-cuda0", "validate {recipe}", code=0, recipe=tiny(("train.device", "cuda:0"))),
    case("ok-device-cuda", "validate {recipe}", code=0, recipe=tiny(("train.device", "cuda"))),
    case("ok-device-cpu", "validate {recipe}", code=0, recipe=tiny(("train.device", "cpu"))),
    case("ok-device-auto", "validate {recipe}", code=0, recipe=tiny(("train.device", "auto"))),
    value_case("code-dim-huge", ("codes.1.dim", HUGE), needles=("codes[1].dim", "at most")),
    value_case("code-k-huge", ("codes.0.k", HUGE), needles=("codes[0].k", "at most")),
    value_case("noise-dim-huge", ("noise.dim", HUGE), needles=("noise.dim",)),
    value_case("device-tpu", ("train.device", "tpu"), needles=("train.device",)),
    value_case("duplicate-code-names", ("codes.1.name", "shape"), needles=("codes[1].name",)),
    value_case("code-name-slash", ("codes.0.name", "a/b"), needles=("codes[0].name",)),
    value_case("code-name-escape", ("codes.0.name", "../../escaped"), needles=("codes[0].name",)),
    value_case("code-name-empty", ("codes.0.name", ""), needles=("codes[0].name",)),
    value_case("code-name-space", ("codes.0.name", "has space"), needles=("codes[0].name",)),
    value_case("code-name-too-long", ("codes.0.name", "a" * 65), needles=("codes[0].name",)),
    value_case("code-name-hidden", ("codes.0.name", ".hidden"), needles=("codes[0].name",)),
    value_case("run-name-parent", ("name", "../out"), needles=("name",)),
    value_case("run-name-slash", ("name", "a/b"), needles=("name",)),
    value_case("lr-g-nan", ("method", {"lr_g": math.nan}), needles=("method.lr_g",)),
    value_case("lr-d-inf", ("method", {"lr_d": math.inf}), needles=("method.lr_d",)),
    value_case("lambda-inf", ("codes.1.lambda", math.inf), needles=("codes[1].lambda",)),
    value_case("lambda-negative", ("codes.1.lambda", -1.0), needles=("codes[1].lambda",)),
    value_case("batch-size-word", ("train.batch_size", "eight"), needles=("train.batch_size",)),
    value_case("batch-size-list", ("train.batch_size", [8]), needles=("train.batch_size",)),
    value_case("noise-dim-string", ("noise.dim", "four"), needles=("noise.dim",)),
    value_case("width-string", ("backbone.width", "wide"), needles=("backbone.width",)),
    value_case("iterations-float", ("train.iterations", 2.5), needles=("train.iterations",)),
    value_case("unknown-train-key", ("train.bogus", 1), needles=("train.bogus",)),
    value_case("unknown-top-key", ("bogus", 1), needles=("bogus",)),
    value_case("unknown-noise-key", ("noise.color", 1), needles=("noise.color",)),
    value_case("misspelled-code-type", ("codes.0.type", "categorcal"), needles=("codes[0].type",)),
    value_case("misspelled-noise-type", ("noise.type", "unifrom"), needles=("noise.type",)),
    value_case("misspelled-backbone", ("backbone.type", "mnst"), needles=("backbone.type",)),
    value_case("misspelled-dataset", ("dataset.type", "procedral"), needles=("dataset.type",)),
    value_case("no-noise", ("noise", DROP), needles=("noise",)),
    value_case("no-backbone", ("backbone", DROP), needles=("backbone",)),
    value_case("no-dataset", ("dataset", DROP), needles=("dataset",)),
    value_case("codes-number", ("codes", 5), needles=("codes",)),
    value_case("noise-number", ("noise", 3), needles=("noise",)),
    value_case("train-string", ("train", "x"), needles=("train",)),
    value_case("code-without-type", ("codes.0.type", DROP), needles=("codes[0]",)),
    value_case("seed-negative", ("train.seed", -1), needles=("train.seed",)),
    value_case("seed-huge", ("train.seed", 10_000_000_000_000), needles=("train.seed",)),
    value_case("samples-huge", ("images.samples", 10**9), needles=("images.samples",)),
    value_case(
        "traversal-rows-huge", ("images.traversal_rows", 10**6), needles=("images.traversal_rows",)
    ),
    value_case("batch-size-zero", ("train.batch_size", 0), needles=("train.batch_size",)),
    value_case("r1-negative", ("method", {"type": "infogan", "r1": -1.0}), needles=("method.r1",)),
    value_case(
        "r1-negative-cr", ("method", {"type": "infogan_cr", "r1": -1.0}), needles=("method.r1",)
    ),
    value_case(
        "mnist-limit-zero",
        ("dataset", {"type": "mnist", "limit": 0}),
        needles=("dataset.limit",),
    ),
    value_case(
        "augment-unknown",
        ("method", {"type": "infogan", "augment": ["rotation"]}),
        needles=("method.augment",),
    ),
    value_case("categorical-k-one", ("codes.0.k", 1), needles=("codes[0].k",)),
    *[
        value_case(f"strict-{key}", (key, value), needles=(where,))
        for key, value, where in STRICT_TYPES
    ],
    case(
        "strict-method-g-updates-run",
        ("run", "{recipe}", *OUT),
        "method.g_updates",
        recipe=tiny(("method", {"g_updates": "2"})),
    ),
    case("ok-int-for-float", "validate {recipe}", code=0, recipe=tiny(("method", {"lr_g": 1}))),
    case(
        "ok-int-for-float-lambda", "validate {recipe}", code=0, recipe=tiny(("codes.1.lambda", 1))
    ),
    case(
        "batch-larger-than-dataset-run",
        ("run", "{recipe}", *OUT),
        "train.batch_size",
        recipe=tiny(("train.batch_size", 256)),  # the procedural grid holds 192 images
    ),
    case(
        "device-tpu-run",
        ("run", "{recipe}", *OUT),
        "train.device",
        recipe=tiny(("train.device", "tpu")),
    ),
    case("run-name-parent-run", ("run", "{recipe}", *OUT), "name", recipe=tiny(("name", "../out"))),
    case(
        "r1-with-compile-run",
        ("run", "{recipe}", *OUT),
        "method.r1",
        "train.compile",
        recipe=tiny(("method", {"type": "infogan", "r1": 1.0}), ("train.compile", True)),
    ),
    case(
        "augment-with-compile-validate",
        ("validate", "{recipe}"),
        "method.augment",
        "train.compile",
        recipe=tiny(
            ("method", {"type": "infogan", "augment": ["cutout"]}), ("train.compile", True)
        ),
    ),
    case(
        "duplicate-code-names-run",
        ("run", "{recipe}", *OUT),
        "codes[1].name",
        recipe=tiny(("codes.1.name", "shape")),
    ),
]


@pytest.mark.parametrize("c", VALUE_CASES)
def test_recipe_values(c: Case, tmp_path: Path) -> None:
    run_case(c, tmp_path)


# --------------------------------------------------------------------------------------------
# --set overrides
# --------------------------------------------------------------------------------------------


def override_cases(id_: str, override: str, *needles: Needle) -> list[Any]:
    return [
        case(f"{id_}-validate", ("validate", "{recipe}", "--set", override), *needles),
        case(f"{id_}-run", ("run", "{recipe}", "--set", override, *OUT), *needles),
    ]


OVERRIDE_CASES = [
    case("ok-dotted-index", ("validate", "{recipe}", "--set", "codes.0.lambda=0"), code=0),
    case("ok-bracket-index", ("validate", "{recipe}", "--set", "codes[0].lambda=0"), code=0),
    *override_cases("through-a-string", "name.x.y=1", "name", "not a table"),
    *override_cases("fractional-index", "codes[0.5].k=3", "codes[0.5]"),
    *override_cases("index-out-of-range", "codes[9].k=3", "codes[9]"),
    *override_cases("no-key", "=3", "=3"),
    *override_cases("no-equals", "noequals", "noequals"),
    *override_cases("empty-piece", "a..b=1", "a..b"),
    *override_cases("index-first", "[0]=1", ("[0]=1", "[0]")),
    *override_cases("negative-index", "codes[-1].k=3", "codes[-1]"),
    *override_cases("word-index", "codes[x].k=1", "codes[x]"),
    *override_cases("zero-lr", "method.lr_g=0", "method.lr_g"),
    *override_cases("batch-size-word", "train.batch_size=abc", "train.batch_size"),
    *override_cases("unknown-key", "train.bogus=1", "train.bogus"),
    *override_cases("bool-word", "method.mi_trains_trunk=yes", "method.mi_trains_trunk"),
    *override_cases("quoted-number", 'method.g_updates="2"', "method.g_updates"),
]


@pytest.mark.parametrize("c", OVERRIDE_CASES)
def test_overrides(c: Case, tmp_path: Path) -> None:
    run_case(c, tmp_path)


# --------------------------------------------------------------------------------------------
# Variants
# --------------------------------------------------------------------------------------------

GOOD_VARIANT = TINY_TOML + '\n[variants.fast]\n"method.lr_g" = 5e-3\n'
VARIANT_NOT_TABLE = TINY_TOML + "\n[variants]\nv = 3\n"


def variant_recipe(key: str, value: Any) -> str:
    return TINY_TOML + f"\n[variants.v]\n{toml_string(key)} = {toml_value(value)}\n"


def variant_cases(id_: str, recipe: str, *needles: Needle) -> list[Any]:
    return [
        case(f"{id_}-validate", ("validate", "{recipe}"), *needles, recipe=recipe),
        case(f"{id_}-run", ("run", "{recipe}", "--variant", "v", *OUT), *needles, recipe=recipe),
    ]


VARIANT_CASES = [
    case("ok-validate", "validate {recipe}", code=0, recipe=GOOD_VARIANT),
    case(
        "ok-run",
        ("run", "{recipe}", "--variant", "fast", "--set", "train.iterations=2", *OUT),
        code=0,
        recipe=GOOD_VARIANT,
    ),
    case(
        "not-a-table-validate",
        "validate {recipe}",
        "variants",
        recipe=TINY_TOML.replace('name = "tiny"', 'name = "tiny"\nvariants = 3'),
    ),
    case(
        "not-a-table-run",
        ("run", "{recipe}", *OUT),
        "variants",
        recipe=TINY_TOML.replace('name = "tiny"', 'name = "tiny"\nvariants = 3'),
    ),
    *variant_cases("variant-not-a-table", VARIANT_NOT_TABLE, "variants.v"),
    *variant_cases("through-a-string", variant_recipe("name.x", 1), ("variants.v", "name.x")),
    *variant_cases(
        "index-out-of-range", variant_recipe("codes[7].k", 2), ("variants.v", "codes[7]")
    ),
    *variant_cases("bad-key-path", variant_recipe("codes[x].k", 2), ("variants.v", "codes[x]")),
    *variant_cases("unknown-key", variant_recipe("train.bogus", 2), ("variants.v", "train.bogus")),
    *variant_cases("bad-value", variant_recipe("codes[0].k", 1), ("variants.v", "codes[0].k")),
    case(
        "no-such-variant",
        ("run", "{recipe}", "--variant", "nosuch", *OUT),
        "nosuch",
        recipe=GOOD_VARIANT,
    ),
]


@pytest.mark.parametrize("c", VARIANT_CASES)
def test_variants(c: Case, tmp_path: Path) -> None:
    run_case(c, tmp_path)


# --------------------------------------------------------------------------------------------
# CLI flags
# --------------------------------------------------------------------------------------------

FLAG_CASES = [
    case("ok-sample", ("sample", "{run}", "--n", "4", "--out", "{tmp}/s.png"), code=0),
    case("ok-traverse", ("traverse", "{run}", "--steps", "2", "--rows", "1"), code=0),
    case("sample-n-zero", "sample {run} --n 0", "--n", code=2),
    case("sample-n-negative", "sample {run} --n -5", "--n", code=2),
    case(
        "sample-out-txt", ("sample", "{run}", "--n", "4", "--out", "{tmp}/x.txt"), "--out", "x.txt"
    ),
    case("sample-out-no-ending", ("sample", "{run}", "--out", "{tmp}/samples"), "--out"),
    case("traverse-steps-zero", "traverse {run} --steps 0", "--steps", code=2),
    case("traverse-steps-one", "traverse {run} --steps 1", "--steps", code=2),
    case("traverse-rows-zero", "traverse {run} --rows 0", "--rows", code=2),
    case("traverse-range-reversed", "traverse {run} --range 2 -2", "--range", code=2),
    case("traverse-range-empty", "traverse {run} --range 1 1", "--range", code=2),
    case("traverse-code-unknown", "traverse {run} --code nosuch", "nosuch"),
    case("traverse-code-index", "traverse {run} --code 99", "99"),
    case(
        "run-jobs-zero",
        ("run", "{recipe}", "--seeds", "1-2", "--jobs", "0", *OUT),
        "--jobs",
        code=2,
    ),
    case("run-nproc-zero", ("run", "{recipe}", "--nproc", "0", *OUT), "--nproc", code=2),
    case("run-nproc-negative", ("run", "{recipe}", "--nproc", "-1", *OUT), "--nproc", code=2),
    case("run-seeds-word", ("run", "{recipe}", "--seeds", "abc", *OUT), "--seeds"),
    case("run-seeds-reversed", ("run", "{recipe}", "--seeds", "3-1", *OUT), "--seeds"),
    case("run-seeds-repeated", ("run", "{recipe}", "--seeds", "1,1", *OUT), "--seeds"),
    case("run-nothing", ("run",), "--resume"),
    case("eval-device-tpu", "eval {run} --device tpu", "--device", code=(1, 2)),
    case("eval-metric-unknown", "eval {run} --metric nosuch", "nosuch"),
    case("eval-split-bogus", "eval {run} --split bogus", ("--split", "split")),
]


@pytest.mark.parametrize("c", FLAG_CASES)
def test_cli_flags(c: Case, tmp_path: Path, trained: Path) -> None:
    run_case(c, tmp_path, trained)


# --------------------------------------------------------------------------------------------
# Output locations
# --------------------------------------------------------------------------------------------


def user_folder(ctx: Ctx) -> None:
    """A folder of the user's that is not a run: it must survive every refused `run`."""
    (ctx.tmp / "mine" / "samples").mkdir(parents=True)
    (ctx.tmp / "mine" / "samples" / "mine.png").write_bytes(b"\x89PNG\r\n\x1a\nmine")
    (ctx.tmp / "mine" / "notes.txt").write_text("my notes\n")


def a_file(name: str) -> Setup:
    def setup(ctx: Ctx) -> None:
        (ctx.tmp / name).write_text("a file of the user's\n")

    return setup


def an_empty_folder(ctx: Ctx) -> None:
    (ctx.tmp / "empty").mkdir()


def made_nothing(path: str) -> Check:
    def check(ctx: Ctx, output: str) -> None:
        assert not (ctx.tmp / path).exists(), f"{path} was made"

    return check


NOT_A_RUN = ("not a run folder", "not empty")
OUTPUT_CASES = [
    case(
        "ok-empty-folder",
        ("run", "{recipe}", "--set", "train.iterations=2", "--out", "{tmp}/empty", "--quiet"),
        code=0,
        setup=an_empty_folder,
    ),
    case(
        "run-out-is-a-file",
        ("run", "{recipe}", "--out", "{tmp}/afile", "--quiet"),
        "{tmp}/afile",
        setup=a_file("afile"),
        keep=("afile",),
    ),
    case(
        "sample-out-under-a-file",
        ("sample", "{run}", "--n", "4", "--out", "{tmp}/afile/b.png"),
        "{tmp}/afile",
        setup=a_file("afile"),
        keep=("afile",),
    ),
    case(
        "traverse-out-is-a-file",
        ("traverse", "{run}", "--rows", "1", "--out", "{tmp}/afile"),
        "{tmp}/afile",
        setup=a_file("afile"),
        keep=("afile",),
    ),
    case(
        "data-digits-root-is-a-file",
        ("data", "digits", "{tmp}/afile"),
        "{tmp}/afile",
        setup=a_file("afile"),
        keep=("afile",),
    ),
    case(
        "run-out-user-folder",
        ("run", "{recipe}", "--out", "{tmp}/mine", "--quiet"),
        NOT_A_RUN,
        setup=user_folder,
        keep=("mine",),
    ),
    case(
        "run-out-user-folder-overwrite",
        ("run", "{recipe}", "--out", "{tmp}/mine", "--quiet", "--overwrite"),
        NOT_A_RUN,
        setup=user_folder,
        keep=("mine",),
    ),
    case(
        "run-out-holds-a-run",
        ("run", "{recipe}", "--out", "{run}", "--quiet"),
        "already holds a run",
        keep=("run",),
    ),
]


@pytest.mark.parametrize("c", OUTPUT_CASES)
def test_output_locations(c: Case, tmp_path: Path, trained: Path) -> None:
    run_case(c, tmp_path, trained)


# --------------------------------------------------------------------------------------------
# Dataset files (MNIST IDX files in torchvision's layout, then damaged)
# --------------------------------------------------------------------------------------------

MNIST_TOML = tiny(("dataset", {"type": "mnist", "root": "{data}"}), ("train.iterations", 2))
RAW = "{data}/MNIST/raw"
TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


def idx_files(damage: Callable[[Path], None] | None = None) -> Setup:
    """Valid train (16) and test (8) IDX files under {data}/MNIST/raw, then `damage(raw)`."""

    def setup(ctx: Ctx) -> None:
        raw = ctx.data / "MNIST" / "raw"
        raw.mkdir(parents=True)
        write_split(raw, "train", 16, seed=0)
        write_split(raw, "t10k", 8, seed=1)
        if damage is not None:
            damage(raw)

    return setup


def remove(name: str) -> Callable[[Path], None]:
    return lambda raw: (raw / name).unlink()


def unknown_type_code(name: str) -> Callable[[Path], None]:
    def damage(raw: Path) -> None:
        data = bytearray((raw / name).read_bytes())
        data[2] = 0x01  # the type byte of the magic number: 0x08 (uint8) is the only real one
        (raw / name).write_bytes(bytes(data))

    return damage


def truncate(name: str, keep: float = 0.5) -> Callable[[Path], None]:
    def damage(raw: Path) -> None:
        data = (raw / name).read_bytes()
        (raw / name).write_bytes(data[: int(len(data) * keep)])

    return damage


def random_bytes(name: str, n: int | None = None) -> Callable[[Path], None]:
    def damage(raw: Path) -> None:
        size = n if n is not None else (raw / name).stat().st_size
        (raw / name).write_bytes(random.Random(name).randbytes(size))

    return damage


def fewer_labels(raw: Path) -> None:
    from disentangle_data.digits import write_idx

    write_idx(raw / TRAIN_LABELS, torch.zeros(10, dtype=torch.uint8))


def wrong_image_size(raw: Path) -> None:
    from disentangle_data.digits import write_idx

    write_idx(raw / TRAIN_IMAGES, torch.zeros(16, 20, 20, dtype=torch.uint8))


def folder_instead(name: str) -> Callable[[Path], None]:
    def damage(raw: Path) -> None:
        (raw / name).unlink()
        (raw / name).mkdir()

    return damage


def dataset_case(id_: str, damage: Callable[[Path], None] | None, *needles: Needle) -> Any:
    return case(
        id_,
        ("run", "{recipe}", *OUT),
        *needles,
        recipe=MNIST_TOML,
        setup=idx_files(damage),
        check=made_nothing("out"),
    )


NAMES_THE_IMAGES = (TRAIN_IMAGES, RAW)
NAMES_THE_LABELS = (TRAIN_LABELS, RAW)
DATASET_CASES = [
    case("ok", ("run", "{recipe}", *OUT), code=0, recipe=MNIST_TOML, setup=idx_files()),
    case(
        "no-files",
        ("run", "{recipe}", *OUT),
        TRAIN_IMAGES,
        recipe=MNIST_TOML,
        check=made_nothing("out"),
    ),
    dataset_case("no-train-images", remove(TRAIN_IMAGES), TRAIN_IMAGES),
    dataset_case("no-train-labels", remove(TRAIN_LABELS), TRAIN_LABELS),
    dataset_case("no-test-labels", remove(TEST_LABELS), TEST_LABELS),
    dataset_case("images-unknown-type-code", unknown_type_code(TRAIN_IMAGES), NAMES_THE_IMAGES),
    dataset_case("labels-unknown-type-code", unknown_type_code(TRAIN_LABELS), NAMES_THE_LABELS),
    dataset_case("images-truncated", truncate(TRAIN_IMAGES), NAMES_THE_IMAGES),
    dataset_case("images-header-only", truncate(TRAIN_IMAGES, 0.001), NAMES_THE_IMAGES),
    dataset_case("images-empty", truncate(TRAIN_IMAGES, 0.0), NAMES_THE_IMAGES),
    dataset_case("labels-truncated", truncate(TRAIN_LABELS), NAMES_THE_LABELS),
    dataset_case("labels-fewer-than-images", fewer_labels, (TRAIN_LABELS, TRAIN_IMAGES, RAW)),
    dataset_case("images-random-bytes", random_bytes(TRAIN_IMAGES), NAMES_THE_IMAGES),
    dataset_case("labels-random-bytes", random_bytes(TRAIN_LABELS), NAMES_THE_LABELS),
    dataset_case("images-20x20", wrong_image_size, NAMES_THE_IMAGES),
    dataset_case("images-is-a-folder", folder_instead(TRAIN_IMAGES), NAMES_THE_IMAGES),
]


@pytest.mark.parametrize("c", DATASET_CASES)
def test_dataset_files(c: Case, tmp_path: Path) -> None:
    run_case(c, tmp_path)


# --------------------------------------------------------------------------------------------
# Run folders
# --------------------------------------------------------------------------------------------

NEWEST, OLDER = "ckpt-0000006", "ckpt-0000004"
ALL = ("ckpt-0000002", OLDER, NEWEST)
UNCHANGED = ("run/recipe.json", "run/checkpoints")


def strict_json(line: str) -> Any:
    def reject(token: str) -> Any:
        raise AssertionError(f"{token} in metrics.jsonl")

    return json.loads(line, parse_constant=reject)


def metrics_lines(ctx: Ctx) -> Iterator[str]:
    text = (ctx.run / "metrics.jsonl").read_text()
    assert text.endswith("\n"), "metrics.jsonl must end with a whole line"
    yield from text.splitlines()


def torn_metrics(ctx: Ctx) -> None:
    with (ctx.run / "metrics.jsonl").open("a") as log:
        log.write('{"iteration": 7, "loss')


def metrics_line_2(line: str) -> Setup:
    def setup(ctx: Ctx) -> None:
        path = ctx.run / "metrics.jsonl"
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join([lines[0], line + "\n", *lines[1:]]))

    return setup


def metrics_parse_strictly(ctx: Ctx, output: str) -> None:
    records = [strict_json(line) for line in metrics_lines(ctx)]
    assert all(isinstance(r, dict) and type(r.get("iteration")) is int for r in records)
    assert records[-1]["iteration"] == 8
    assert 7 not in [r["iteration"] for r in records]


def recipe_json(content: bytes | None) -> Setup:
    def setup(ctx: Ctx) -> None:
        if content is None:
            (ctx.run / "recipe.json").unlink()
        else:
            (ctx.run / "recipe.json").write_bytes(content)

    return setup


def lr_applied(ctx: Ctx, output: str) -> None:
    from disentangle.run.checkpoint import load_checkpoint

    newest = sorted((ctx.run / "checkpoints").glob("ckpt-*.json"))[-1]
    assert newest.name == "ckpt-0000008.json"
    state, meta = load_checkpoint(newest)
    groups = state["opt_d"]["param_groups"]
    assert groups and all(g["lr"] == 0.001 for g in groups), [g["lr"] for g in groups]
    assert meta["recipe"]["method"]["lr_d"] == 0.001


def resume_refused(id_: str, override: str, *needles: Needle) -> Any:
    args = ("run", "--resume", "{run}", "--set", override, "--quiet")
    return case(id_, args, *needles, keep=UNCHANGED)


def shape_change(id_: str, override: str, key: str) -> Any:
    return resume_refused(id_, override, "cannot be applied on resume", key)


RESUME = ("run", "--resume", "{run}", "--quiet")
RESUME_WITH_RECIPE = ("run", "{recipe}", "--resume", "{run}", "--quiet")
RUN_FOLDER_CASES = [
    case("ok-resume", RESUME, code=0),
    case(
        "ok-resume-extend",
        (*RESUME, "--set", "train.iterations=8"),
        code=0,
        check=metrics_parse_strictly,
    ),
    case(
        "metrics-torn-last-line",
        (*RESUME, "--set", "train.iterations=8"),
        "metrics.jsonl",
        code=0,
        setup=torn_metrics,
        check=metrics_parse_strictly,
    ),
    *[
        case(
            f"metrics-{name}-line-2",
            RESUME,
            "metrics.jsonl",
            "line 2",
            setup=metrics_line_2(line),
            keep=UNCHANGED,
        )
        for name, line in (
            ("garbage", "garbage"),
            ("no-iteration", '{"loss_d": 1.0, "mi": {}, "entropy": {}}'),
            ("list", "[1, 2, 3]"),
            ("string-iteration", '{"iteration": "2", "mi": {}, "entropy": {}}'),
        )
    ],
    case(
        "recipe-json-garbage",
        RESUME_WITH_RECIPE,
        "recipe.json",
        setup=recipe_json(random.Random(3).randbytes(300)),
    ),
    case(
        "recipe-json-not-json", RESUME_WITH_RECIPE, "recipe.json", setup=recipe_json(b"{not json")
    ),
    case("recipe-json-list", RESUME_WITH_RECIPE, "recipe.json", setup=recipe_json(b"[1, 2]")),
    case("recipe-json-missing", RESUME_WITH_RECIPE, "recipe.json", setup=recipe_json(None)),
    case("resume-nonexistent", "run --resume {tmp}/nothing", "{tmp}/nothing"),
    case("resume-a-file", "run --resume {tmp}/afile", "{tmp}/afile", setup=a_file("afile")),
    case("resume-empty-folder", "run --resume {tmp}/empty", "{tmp}/empty", setup=an_empty_folder),
    shape_change("resume-change-k", "codes[0].k=5", "codes[0].k"),
    shape_change("resume-change-width", "backbone.width=0.25", "backbone.width"),
    shape_change("resume-change-noise-dim", "noise.dim=7", "noise.dim"),
    shape_change("resume-change-code-dim", "codes[1].dim=2", "codes[1].dim"),
    resume_refused("resume-change-seed", "train.seed=5", "train.seed"),
    case(
        "resume-backwards",
        (*RESUME, "--set", "train.iterations=4"),
        "train.iterations",
        "4",
        "(6,",
        "backwards",
        keep=(*UNCHANGED, "run/metrics.jsonl"),
    ),
    case(
        "resume-nothing-to-do",
        (*RESUME, "--set", "train.iterations=6"),
        "nothing to do",
        code=0,
        keep=(*UNCHANGED, "run/metrics.jsonl"),
    ),
    resume_refused("resume-bad-override", "method.lr_g=0", "method.lr_g"),
    case(
        "resume-lr-override-applies",
        (*RESUME, "--set", "train.iterations=8", "--set", "method.lr_d=0.001"),
        code=0,
        check=lr_applied,
    ),
    *[
        case(
            f"{command}-not-a-run-file",
            (command, "{tmp}/notes.txt"),
            "{tmp}/notes.txt",
            setup=a_file("notes.txt"),
        )
        for command in ("sample", "traverse", "eval")
    ],
    *[
        case(
            f"{command}-empty-folder",
            (command, "{tmp}/empty"),
            "{tmp}/empty",
            setup=an_empty_folder,
        )
        for command in ("sample", "traverse", "eval")
    ],
    *[
        case(
            f"{command}-no-such-sidecar",
            (command, "{run}/checkpoints/ckpt-0000099.json"),
            "ckpt-0000099.json",
        )
        for command in ("sample", "traverse", "eval")
    ],
]


@pytest.mark.parametrize("c", RUN_FOLDER_CASES)
def test_run_folders(c: Case, tmp_path: Path, trained: Path) -> None:
    run_case(c, tmp_path, trained)


# --------------------------------------------------------------------------------------------
# A run folder held by another writer (a real second process holds its lock)
# --------------------------------------------------------------------------------------------

# the toolkit's lock module, loaded from its file: the holder starts in a fraction of a second,
# without the torch that importing the `disentangle.run` package brings
HOLDER = """
import importlib.util, sys

spec = importlib.util.spec_from_file_location("lock", sys.argv[2])
lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lock)
with lock.lock_run(sys.argv[1], create=True):
    print("held", flush=True)
    sys.stdin.read()
"""
_HOLDERS: dict[Path, subprocess.Popen[str]] = {}  # by case folder


def held(folder: str, killed: bool = False) -> Setup:
    """Another process holds `folder`'s writer lock (or held it, and was SIGKILLed)."""

    def setup(ctx: Ctx) -> None:
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER, ctx.sub(folder), run_lock.__file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        _HOLDERS[ctx.tmp] = holder
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        if killed:
            holder.kill()
            holder.wait()

    return setup


#: `disentangle ARGS` with training paused in its first step until a line comes on stdin
TRAINING = """
import sys
from disentangle.cli import app
from disentangle_infogan.method import InfoGAN

step, paused = InfoGAN.step, []


def pausing(self, batch):
    if not paused:
        paused.append(True)
        print("held", flush=True)
        sys.stdin.readline()
    return step(self, batch)


InfoGAN.step = pausing
app(sys.argv[1:])
"""


def training(*args: str) -> Setup:
    """Another `disentangle` process trains into the run folder (paused in its first step)."""

    def setup(ctx: Ctx) -> None:
        holder = subprocess.Popen(
            [sys.executable, "-c", TRAINING, *(ctx.sub(a) for a in args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        _HOLDERS[ctx.tmp] = holder
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"

    return setup


def trains_alone(ctx: Ctx, output: str) -> None:
    """The refused writer named the trainer; the trainer then ends alone, each iteration of
    metrics.jsonl logged once."""
    names_the_holder(ctx, output)
    holder = _HOLDERS[ctx.tmp]
    assert holder.stdin is not None
    holder.communicate("go\n", timeout=300)
    assert holder.returncode == 0
    iterations = [strict_json(line)["iteration"] for line in metrics_lines(ctx)]
    assert iterations == sorted(set(iterations)) and iterations[-1] == 8, iterations


def names_the_holder(ctx: Ctx, output: str) -> None:
    assert f"PID {_HOLDERS[ctx.tmp].pid}" in flatten(output)[0], output


def held_case(id_: str, args: str | tuple[str, ...], folder: str = "{run}") -> Any:
    return case(
        id_,
        args,
        folder,
        "another disentangle process",
        setup=held(folder),
        check=names_the_holder,
        keep=("run",),
    )


WRITER_CASES = [
    case(
        "ok-resume-after-holder-killed",
        RESUME,
        "nothing to do",
        code=0,
        setup=held("{run}", killed=True),
    ),
    case(
        "ok-sample-elsewhere-while-held",
        ("sample", "{run}", "--n", "4", "--out", "{tmp}/s.png"),
        code=0,
        setup=held("{run}"),
    ),
    case("ok-table-while-held", ("table", "{run}"), code=0, setup=held("{run}")),
    held_case("run-into-held-new-folder", ("run", "{recipe}", *OUT), folder="{tmp}/out"),
    held_case("run-overwrite-held", ("run", "{recipe}", "--out", "{run}", "--overwrite", *OUT[2:])),
    held_case("resume-held", RESUME),
    case(
        "resume-while-training",
        (*RESUME, "--set", "train.iterations=8"),
        "{run}",
        "another disentangle process",
        setup=training(*RESUME, "--set", "train.iterations=8"),
        check=trains_alone,
    ),
    held_case("resume-extend-held", (*RESUME, "--set", "train.iterations=8")),
    held_case("eval-held", ("eval", "{run}", "--metric", "accuracy", "--fast")),
    held_case("curve-held", ("curve", "{run}", "--metric", "accuracy", "--fast")),
    held_case("figures-held", ("figures", "{run}")),
    held_case("traverse-held", ("traverse", "{run}", "--rows", "1")),
    held_case("sample-held", ("sample", "{run}", "--n", "4")),
]


@pytest.mark.parametrize("c", WRITER_CASES)
def test_one_writer_per_run_folder(c: Case, tmp_path: Path, trained: Path) -> None:
    try:
        run_case(c, tmp_path, trained)
    finally:
        holder = _HOLDERS.pop(tmp_path, None)
        if holder is not None:
            holder.kill()
            holder.wait()


# --------------------------------------------------------------------------------------------
# Commands over runs of different methods or datasets ({tmp}/other: a copy of the trained run,
# its recipe.json changed; these commands read recipes before any weights)
# --------------------------------------------------------------------------------------------


def other_run(**tables: dict[str, Any]) -> Setup:
    def setup(ctx: Ctx) -> None:
        shutil.copytree(ctx.run, ctx.tmp / "other")
        path = ctx.tmp / "other" / "recipe.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **tables}))

    return setup


OTHER_METHOD = other_run(method={"type": "infogan_cr"})
OTHER_DATASET = other_run(dataset={"type": "mnist", "root": "data"})
MIXED_CASES = [
    case("ok-table-one-method", "table {run} {tmp}/other", code=0, setup=other_run()),
    case(
        "table-two-methods",
        "table {run} {tmp}/other",
        "method.type",
        "infogan_cr: {tmp}/other",
        setup=OTHER_METHOD,
    ),
    # select takes a pool of methods on one dataset (tests/core/test_select.py), not a mix of
    # datasets
    case(
        "select-two-datasets",
        "select {run} {tmp}/other",
        "dataset.type",
        "mnist: {tmp}/other",
        setup=OTHER_DATASET,
    ),
]


@pytest.mark.parametrize("c", MIXED_CASES)
def test_mixed_runs(c: Case, tmp_path: Path, trained: Path) -> None:
    run_case(c, tmp_path, trained)


# --------------------------------------------------------------------------------------------
# Ctrl-C in a command: what was kept and how to go on, in that command's terms
# --------------------------------------------------------------------------------------------


def interrupting(module: str, name: str) -> Setup:
    """`module.name` raises KeyboardInterrupt (as Ctrl-C in the middle of it would)."""

    def setup(ctx: Ctx) -> None:
        def stop(*args: Any, **kwargs: Any) -> None:
            raise KeyboardInterrupt

        _PATCHES.setattr(importlib.import_module(module), name, stop)

    return setup


def never_says(text: str) -> Check:
    def check(ctx: Ctx, output: str) -> None:
        assert text not in output, output

    return check


_PATCHES = pytest.MonkeyPatch()
INTERRUPT_CASES = [
    case(
        "eval",
        "eval {run}",
        "eval.json is unchanged",
        "disentangle eval {run} again",
        code=130,
        setup=interrupting("disentangle.analysis.evaluate", "evaluate"),
        check=never_says("--resume"),
        keep=("run",),
    ),
    case(
        "curve",
        "curve {run}",
        "curve.json keeps",
        "disentangle curve {run} again",
        code=130,
        setup=interrupting("disentangle.analysis.curve", "metric_curve"),
        check=never_says("--resume"),
    ),
    case(
        "run-resume",
        (*RESUME, "--set", "train.iterations=8"),
        "--resume RUN_DIR",
        code=130,
        setup=interrupting("disentangle.training.loop", "resume"),
    ),
    case(
        "figures",
        "figures {run}",
        "run it again",
        code=130,
        setup=interrupting("disentangle.run", "load_run"),
        check=never_says("--resume"),
    ),
]


@pytest.mark.parametrize("c", INTERRUPT_CASES)
def test_interrupted_commands(c: Case, tmp_path: Path, trained: Path) -> None:
    try:
        run_case(c, tmp_path, trained)
    finally:
        _PATCHES.undo()


#: commands whose output goes to a full device: the error names standard output
STDOUT_COMMANDS = [("schema",), ("schema", "--plugins"), ("plugins",), ("validate", "{recipe}")]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
@pytest.mark.parametrize("args", STDOUT_COMMANDS, ids=" ".join)
def test_standard_output_full(args: tuple[str, ...], tmp_path: Path) -> None:
    ctx = Ctx(tmp_path, None)
    ctx.recipe.write_text(TINY_TOML)
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "disentangle", *(ctx.sub(a) for a in args)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert_outcome(result.returncode, result.stderr, None, 1)
    assert_needles(result.stderr, ("standard output: No space left on device",))


# --------------------------------------------------------------------------------------------
# Checkpoints: a damaged newest checkpoint (sample etc. fail, --resume falls back)
# --------------------------------------------------------------------------------------------

Change = Callable[[dict[str, Any]], Any]


def sidecars(*stems: str, change: Change | None = None, text: str | None = None) -> Setup:
    """Rewrite these checkpoints' sidecars: change(doc) (its result, if not None, replaces the
    doc), or plain `text`."""

    def setup(ctx: Ctx) -> None:
        for stem in stems:
            path = ctx.run / "checkpoints" / f"{stem}.json"
            if text is not None:
                path.write_text(text)
                continue
            doc = json.loads(path.read_text())
            assert change is not None
            new = change(doc)
            path.write_text(json.dumps(doc if new is None else new))

    return setup


def drop(key: str) -> Change:
    def change(doc: dict[str, Any]) -> None:
        del doc[key]

    return change


def put(value: Any, *path: str) -> Change:
    def change(doc: dict[str, Any]) -> None:
        node = doc
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


def weights(stem: str, how: str) -> Setup:
    def setup(ctx: Ctx) -> None:
        path = ctx.run / "checkpoints" / f"{stem}.safetensors"
        data = path.read_bytes()
        if how == "truncated":
            path.write_bytes(data[: len(data) // 2])
        elif how == "random":
            path.write_bytes(random.Random(stem).randbytes(len(data)))
        else:
            path.unlink()

    return setup


def every_weights_file_deleted(ctx: Ctx) -> None:
    for stem in ALL:
        weights(stem, "deleted")(ctx)


SIDECAR, WEIGHTS = f"{NEWEST}.json", f"{NEWEST}.safetensors"
SKIPPED = "skip"  # the resume says it skipped the damaged checkpoint


def damaged(
    id_: str, setup: Setup, needle: Needle, *commands: str, extra: Needle = ()
) -> list[Any]:
    """The damage seen by `sample`/`traverse`/`eval` (exit 1) and by `--resume` (falls back)."""
    rows = []
    extras = (extra,) if extra else ()
    for command in commands or ("sample", "resume"):
        if command == "resume":
            rows.append(case(f"{id_}-resume", RESUME, needle, SKIPPED, code=0, setup=setup))
        else:
            rows.append(case(f"{id_}-{command}", (command, "{run}"), needle, *extras, setup=setup))
    return rows


CHECKPOINT_CASES = [
    case("ok-sample-older", ("sample", "{run}/checkpoints/ckpt-0000004.json", "--n", "4"), code=0),
    case(
        "ok-sample-by-weights",
        ("sample", "{run}/checkpoints/ckpt-0000004.safetensors", "--n", "4"),
        code=0,
    ),
    *[
        row
        for key in ("weights", "weights_bytes", "iteration", "recipe", "state", "format")
        for row in damaged(f"sidecar-no-{key}", sidecars(NEWEST, change=drop(key)), SIDECAR)
    ],
    *damaged("sidecar-weights-number", sidecars(NEWEST, change=put(5, "weights")), SIDECAR),
    *damaged(
        "sidecar-weights-path", sidecars(NEWEST, change=put("../../etc/passwd", "weights")), SIDECAR
    ),
    *damaged("sidecar-iteration-string", sidecars(NEWEST, change=put("x", "iteration")), SIDECAR),
    *damaged("sidecar-iteration-negative", sidecars(NEWEST, change=put(-6, "iteration")), SIDECAR),
    *damaged("sidecar-bytes-string", sidecars(NEWEST, change=put("big", "weights_bytes")), SIDECAR),
    *damaged("sidecar-format-2", sidecars(NEWEST, change=put(2, "format")), SIDECAR),
    *damaged("sidecar-recipe-list", sidecars(NEWEST, change=put([], "recipe")), SIDECAR),
    *damaged(
        "sidecar-not-json",
        sidecars(NEWEST, text="{not json"),
        SIDECAR,
        "sample",
        "traverse",
        "eval",
        "resume",
    ),
    *damaged("sidecar-list", sidecars(NEWEST, text="[1, 2]"), SIDECAR),
    *damaged("sidecar-empty", sidecars(NEWEST, text=""), SIDECAR),
    *damaged(
        "sidecar-bad-recipe",
        sidecars(NEWEST, change=put(-1, "recipe", "train", "batch_size")),
        SIDECAR,
        "sample",
        "traverse",
        "resume",
    ),
    *damaged(
        "sidecar-state-garbage", sidecars(NEWEST, change=put({"generator": 5}, "state")), SIDECAR
    ),
    *damaged("sidecar-state-number", sidecars(NEWEST, change=put(5, "state")), SIDECAR),
    *damaged(
        "weights-truncated",
        weights(NEWEST, "truncated"),
        WEIGHTS,
        "sample",
        "traverse",
        "resume",
        extra="truncated",
    ),
    *damaged("weights-random", weights(NEWEST, "random"), WEIGHTS),
    *damaged("weights-deleted", weights(NEWEST, "deleted"), WEIGHTS, "sample", "eval", "resume"),
    case(
        "every-sidecar-damaged-resume",
        RESUME,
        *(f"{s}.json" for s in ALL),
        setup=sidecars(*ALL, text="{not json"),
        keep=UNCHANGED,
    ),
    case(
        "every-weights-file-missing-resume",
        RESUME,
        *(f"{s}.safetensors" for s in ALL),
        setup=every_weights_file_deleted,
        keep=UNCHANGED,
    ),
]


@pytest.mark.parametrize("c", CHECKPOINT_CASES)
def test_checkpoints(c: Case, tmp_path: Path, trained: Path) -> None:
    run_case(c, tmp_path, trained)


# --------------------------------------------------------------------------------------------
# Plugin selection: the plugin host loads once per process, so these run in a subprocess
# --------------------------------------------------------------------------------------------

PLUGIN_CASES = [
    pytest.param("codes,data,dcgan,infogan,metrics", ("validate", "{recipe}"), 0, (), id="ok"),
    pytest.param("nosuchplugin", ("plugins",), 1, ("nosuchplugin",), id="plugins-unknown"),
    pytest.param(
        "disentangle_infogan",
        ("plugins",),
        1,
        ("disentangle_infogan", "'infogan'"),
        id="plugins-module-name",
    ),
    pytest.param(
        "nosuchplugin", ("validate", "{recipe}"), 1, ("DISENTANGLE_PLUGINS",), id="validate-unknown"
    ),
    pytest.param("none", ("validate", "{recipe}"), 1, ("DISENTANGLE_PLUGINS",), id="validate-none"),
]


@pytest.mark.parametrize(("plugins", "args", "code", "needles"), PLUGIN_CASES)
def test_plugin_selection(
    plugins: str,
    args: tuple[str, ...],
    code: int,
    needles: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx = Ctx(tmp_path, None)
    ctx.recipe.write_text(TINY_TOML)
    monkeypatch.setenv("DISENTANGLE_PLUGINS", plugins)
    result = subprocess.run(
        [sys.executable, "-m", "disentangle", *(ctx.sub(a) for a in args)],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert_outcome(result.returncode, output, None, code)
    assert_needles(output, needles)
