"""A method owns its settings (`[method]`, and what it declares beside each code): a key that
moved there is refused with its new place, a method refuses another's keys, `validate` refuses
all that `run` refuses, and a run folder written before the move still loads."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from support.tiny import SMALL_IMAGES, TINY_RECIPE, checkpointed, tiny_grid
from test_bad_input import dump_toml
from typer.testing import CliRunner

from disentangle import LatentCode, Params
from disentangle.cli import app
from disentangle.errors import RecipeError
from disentangle.plugins import host
from disentangle.recipe import to_data, validate_recipe
from disentangle.recipe.moved import MOVED, upgrade_stored
from disentangle.run import load_run
from disentangle.run.checkpoint import load_checkpoint
from disentangle.training.loop import train

runner = CliRunner()

VAE: dict[str, Any] = {
    "name": "vae",
    "method": {"type": "beta_vae"},
    "noise": {"type": "gaussian", "dim": 0},
    "codes": [{"type": "gaussian", "name": "z", "dim": 4}],
    "backbone": {"type": "dlib_conv"},
    "dataset": tiny_grid(64),
    "train": checkpointed(2, 8),
    "images": SMALL_IMAGES,
}
#: an old key's value, as a recipe wrote it before the move
OLD_VALUES = {
    "optim.lr_d": 4e-4,
    "optim.lr_g": 3e-4,
    "optim.beta1": 0.4,
    "optim.beta2": 0.99,
    "train.g_updates": 2,
    "estimator": {"type": "infonce"},
}


def with_key(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return data


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(RecipeError) as info:
        validate_recipe(data)
    return {p.where: p.message for p in info.value.problems}


@pytest.mark.parametrize("old", list(MOVED))
def test_a_moved_key_is_refused_with_its_new_place(old: str) -> None:
    found = problems(with_key(TINY_RECIPE, old, OLD_VALUES[old]))
    assert found == {old: f"moved: it is now {MOVED[old]}"}
    field = MOVED[old].split(".", 1)[1]
    moved = with_key(TINY_RECIPE, "method", {"type": "infogan", field: OLD_VALUES[old]})
    recipe = validate_recipe(moved)  # the same setting at its new place is taken
    assert to_data(recipe)["method"][field] == OLD_VALUES[old]


def test_an_old_key_on_the_command_line_names_its_new_place(tmp_path: Path) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(dump_toml(TINY_RECIPE))
    result = runner.invoke(app, ["validate", str(path), "--set", "optim.lr_g=5e-4"])
    flat = " ".join(result.output.split())
    assert result.exit_code == 1 and "optim.lr_g moved: it is now method.lr_g" in flat


@pytest.mark.parametrize("old", ["train.g_updates", "optim.lr_d", "estimator"])
def test_a_vae_refuses_infogans_keys_and_names_its_own(old: str) -> None:
    found = problems(with_key(VAE, old, OLD_VALUES[old]))
    assert list(found) == [old]
    assert "which method 'beta_vae' does not have" in found[old] and "lr, beta1" in found[old]
    field = MOVED[old].split(".", 1)[1]
    found = problems(with_key(VAE, f"method.{field}", OLD_VALUES[old]))
    assert list(found) == [f"method.{field}"]
    assert found[f"method.{field}"].startswith("unknown key")  # with the key meant, if close


def test_a_vae_refuses_a_codes_lambda() -> None:
    data = copy.deepcopy(VAE)
    data["codes"][0]["lambda"] = 0.5
    found = problems(data)
    assert list(found) == ["codes[0].lambda"]
    assert "method 'beta_vae' takes no setting beside a code" in found["codes[0].lambda"]


def test_a_method_that_cannot_be_read_is_the_only_problem_its_codes_lambdas_are_not() -> None:
    found = problems(with_key(TINY_RECIPE, "method", 3))
    assert list(found) == ["method"]


def test_the_estimator_is_a_table_of_infogans_and_unknown_names_are_suggested() -> None:
    ok = with_key(TINY_RECIPE, "method", {"type": "infogan", "estimator": {"type": "nwj"}})
    assert validate_recipe(ok).method.estimator.type == "nwj"
    bad = with_key(TINY_RECIPE, "method", {"type": "infogan", "estimator": {"type": "nwq"}})
    found = problems(bad)
    assert list(found) == ["method.estimator.type"]
    assert "Did you mean 'nwj'?" in found["method.estimator.type"]


CR = {"type": "infogan_cr", "start": 0}
#: (id, recipe, the key path each refusal names): what each method refuses
REFUSALS = [
    (
        "infogan-r1-with-compile",
        with_key(
            with_key(TINY_RECIPE, "method", {"type": "infogan", "r1": 1.0}), "train.compile", True
        ),
        "method.r1",
    ),
    (
        "infogan_cr-one-code",
        {**with_key(TINY_RECIPE, "method", CR), "codes": [{"type": "uniform"}]},
        "codes",
    ),
    (
        "infogan_cr-backbone-without-pairs",
        with_key(
            with_key(VAE, "method", CR), "codes", [{"type": "gaussian"}, {"type": "gaussian"}]
        ),
        "method.type",
    ),
    ("beta_vae-uniform-code", with_key(VAE, "codes", [{"type": "uniform"}]), "codes[0].type"),
    ("beta_vae-uniform-noise", with_key(VAE, "noise", {"type": "uniform", "dim": 2}), "noise.type"),
    (
        "beta_vae-bernoulli-on-tanh-data",
        with_key(VAE, "dataset", {**tiny_grid(64), "value_range": [-1.0, 1.0]}),
        "method.reconstruction",
    ),
]


@pytest.mark.parametrize(
    ("recipe", "where"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
@pytest.mark.parametrize("command", ["validate", "run"])
def test_validate_refuses_what_run_refuses(
    recipe: dict[str, Any], where: str, command: str, tmp_path: Path
) -> None:
    path = tmp_path / "recipe.toml"
    path.write_text(dump_toml(recipe))
    out = tmp_path / "out"
    args = [command, str(path)] + (["--out", str(out), "--quiet"] if command == "run" else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert where in result.output and "Traceback" not in result.output
    assert not out.exists()  # refused before anything is written


def downgraded(data: dict[str, Any]) -> dict[str, Any]:
    """A recipe as a run stored it before the keys moved (every section the core then had)."""
    old = copy.deepcopy(data)
    method = old["method"]
    if method["type"] == "infogan":
        old["optim"] = {k: method.pop(k) for k in ("lr_d", "lr_g", "beta1", "beta2")}
        old["train"]["g_updates"] = method.pop("g_updates")
        old["estimator"] = method.pop("estimator")
    else:
        old["optim"] = {"lr_d": 2e-4, "lr_g": 1e-3, "beta1": 0.5, "beta2": 0.999}
        old["train"]["g_updates"] = 1
        old["estimator"] = {"type": "variational"}
        for code in old["codes"]:
            code["lambda"] = 1.0
    return old


@pytest.mark.parametrize("recipe", [TINY_RECIPE, VAE], ids=["infogan", "beta_vae"])
def test_a_recipe_stored_before_the_move_reads_as_it_ran(recipe: dict[str, Any]) -> None:
    current = to_data(
        validate_recipe(with_key(recipe, "method.lr_g", 3e-4) if recipe is TINY_RECIPE else recipe)
    )
    assert upgrade_stored(downgraded(current)) == current


def test_a_run_folder_written_before_the_move_loads_and_resumes(tmp_path: Path) -> None:
    data = with_key(TINY_RECIPE, "method", {"type": "infogan", "lr_g": 3e-4, "g_updates": 2})
    data["train"] = checkpointed(4, 8)
    run = train(validate_recipe(data), tmp_path / "old")
    stored = json.loads(run.recipe_path.read_text())
    run.recipe_path.write_text(json.dumps(downgraded(stored)))
    for sidecar in run.checkpoints():
        doc = json.loads(sidecar.read_text())
        doc["recipe"] = downgraded(doc["recipe"])
        sidecar.write_text(json.dumps(doc))
    assert load_run(run.path).recipe().method.lr_g == 3e-4
    _, meta = load_checkpoint(run.checkpoints()[-1])
    assert meta["recipe"]["method"]["g_updates"] == 2 and "optim" not in meta["recipe"]
    result = runner.invoke(
        app, ["run", "--resume", str(run.path), "--set", "train.iterations=6", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert load_run(run.path).metrics()[-1]["iteration"] == 6


class NoPriorParams(Params):
    pass


class NoPrior(LatentCode):
    """A code without a prior density (`log_prior`), as a third-party code may be."""

    dim = q_dim = 1

    def __init__(self, spec: NoPriorParams) -> None:
        pass

    def sample(self, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        return torch.rand(n, 1, generator=generator, device=device)

    def log_likelihood(self, q_out: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return -(q_out - c).square().sum(dim=1)

    def entropy(self) -> float:
        return 0.0

    def traversal(self, steps: int, span: tuple[float, float]) -> torch.Tensor:
        return torch.linspace(*span, steps).unsqueeze(1)

    def representation(self, q_out: torch.Tensor) -> torch.Tensor:
        return q_out


@pytest.fixture
def no_prior() -> Iterator[None]:
    host.codes.names()  # the plugins load first
    host.codes.register("no_prior", NoPrior, NoPriorParams)
    yield
    host.codes.unregister("no_prior")


@pytest.mark.parametrize("command", ["validate", "run"])
def test_an_estimator_a_code_cannot_serve_is_refused_by_validate_too(
    no_prior: None, command: str, tmp_path: Path
) -> None:
    data = with_key(TINY_RECIPE, "method", {"type": "infogan", "estimator": {"type": "nwj"}})
    data["codes"] = [{"type": "no_prior", "name": "c"}]
    path = tmp_path / "recipe.toml"
    path.write_text(dump_toml(data))
    args = [command, str(path)] + (["--out", str(tmp_path / "o")] if command == "run" else [])
    result = runner.invoke(app, args)
    flat = " ".join(result.output.split())
    assert result.exit_code == 1 and "method.estimator.type" in flat and "log_prior" in flat
    assert not (tmp_path / "o").exists()
