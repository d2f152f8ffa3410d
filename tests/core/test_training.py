"""The training loop end to end on a tiny recipe: outputs, determinism, exact resume, NaN stop."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from disentangle.compiled import cpu_compile_problem
from disentangle.errors import RecipeError, RunDirError, TrainingError
from disentangle.recipe import validate_recipe
from disentangle.run import load_run
from disentangle.run.checkpoint import load_checkpoint
from disentangle.training.loop import Trainer, resume, train


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    state, _ = load_checkpoint(load_run(run_dir).latest_checkpoint())
    return {**state["generator"], **{f"d.{k}": v for k, v in state["discriminator"].items()}}


def test_a_run_writes_checkpoints_metrics_and_grids(
    tiny_recipe: dict[str, Any], tmp_path: Path
) -> None:
    run = train(validate_recipe(tiny_recipe), tmp_path / "run")
    names = [p.name for p in run.checkpoints()]
    assert names == ["ckpt-0000002.json", "ckpt-0000004.json", "ckpt-0000006.json"]
    records = run.metrics()
    assert [r["iteration"] for r in records] == [2, 4, 6]
    assert set(records[0]["mi"]) == {"shape", "x"}
    assert records[0]["entropy"]["shape"] == pytest.approx(torch.log(torch.tensor(3.0)).item())
    assert (tmp_path / "run" / "samples" / "iter-0000003.png").is_file()
    assert (tmp_path / "run" / "traversals" / "shape.png").is_file()
    assert (tmp_path / "run" / "traversals" / "x.png").is_file()
    assert json.loads((tmp_path / "run" / "recipe.json").read_text())["name"] == "tiny"


def test_same_seed_same_weights_other_seed_other_weights(
    tiny_recipe: dict[str, Any], tmp_path: Path
) -> None:
    train(validate_recipe(tiny_recipe), tmp_path / "a")
    train(validate_recipe(tiny_recipe), tmp_path / "b")
    tiny_recipe["train"]["seed"] = 1
    train(validate_recipe(tiny_recipe), tmp_path / "c")
    a, b, c = (weights(tmp_path / n) for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_interrupted_and_resumed_run_is_bit_identical(
    tiny_recipe: dict[str, Any], tmp_path: Path
) -> None:
    tiny_recipe["train"]["iterations"] = 10
    train(validate_recipe(tiny_recipe), tmp_path / "whole")
    # the same run stopped after iteration 4: its checkpoint is the last thing it left
    tiny_recipe["train"]["iterations"] = 4
    train(validate_recipe(tiny_recipe), tmp_path / "cut")
    resume(tmp_path / "cut", ["train.iterations=10"])
    whole, resumed = weights(tmp_path / "whole"), weights(tmp_path / "cut")
    assert whole.keys() == resumed.keys()
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
    whole_log = [r["mi"] for r in load_run(tmp_path / "whole").metrics()]
    cut_log = [r["mi"] for r in load_run(tmp_path / "cut").metrics()]
    assert whole_log == cut_log


def test_resume_drops_log_lines_after_the_checkpoint(
    tiny_recipe: dict[str, Any], tmp_path: Path
) -> None:
    run = train(validate_recipe(tiny_recipe), tmp_path / "run")
    run.latest_checkpoint().with_suffix(".safetensors").unlink()
    run.latest_checkpoint().unlink()  # killed between the iteration-6 log line and checkpoint
    resume(tmp_path / "run")
    assert [r["iteration"] for r in run.metrics()] == [2, 4, 6]


def test_a_folder_holding_a_run_is_refused(tiny_recipe: dict[str, Any], tmp_path: Path) -> None:
    recipe = validate_recipe(tiny_recipe)
    train(recipe, tmp_path / "run")
    with pytest.raises(RunDirError, match="already holds a run"):
        train(recipe, tmp_path / "run")
    train(recipe, tmp_path / "run", overwrite=True)


def test_non_finite_losses_stop_and_keep_the_last_good_checkpoint(
    tiny_recipe: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny_recipe["train"]["iterations"] = 8
    original = Trainer._record

    def poisoned(self: Trainer, totals: torch.Tensor, count: int, seconds: float) -> dict:
        if self.iteration > 4:
            totals = totals * float("nan")
        return original(self, totals, count, seconds)

    monkeypatch.setattr(Trainer, "_record", poisoned)
    with pytest.raises(TrainingError, match="non-finite loss at iteration 6") as info:
        train(validate_recipe(tiny_recipe), tmp_path / "run")
    assert "ckpt-0000004.json" in str(info.value)
    run = load_run(tmp_path / "run")
    assert run.latest_checkpoint().name == "ckpt-0000004.json"
    load_checkpoint(run.latest_checkpoint())


def test_a_trained_generator_samples_and_traverses(
    tiny_recipe: dict[str, Any], tmp_path: Path
) -> None:
    run = train(validate_recipe(tiny_recipe), tmp_path / "run")
    images = run.sample(6, seed=3)
    assert images.shape == (6, 1, 28, 28)
    assert float(images.min()) >= 0 and float(images.max()) <= 1
    assert torch.equal(images, run.sample(6, seed=3))
    grid, cols = run.traverse(0, rows=2)
    assert cols == 3 and grid.shape == (6, 1, 28, 28)  # every category of Cat(3)
    grid, cols = run.traverse(1, rows=2, steps=5, span=(-2.0, 2.0))
    assert cols == 5 and grid.shape == (10, 1, 28, 28)
    assert not torch.equal(grid[0], grid[4])  # the code changes the image along a row


def test_bf16_autocast_trains_with_finite_losses(
    tiny_recipe: dict[str, Any], tmp_path: Path
) -> None:
    tiny_recipe["train"]["precision"] = "bf16"
    run = train(validate_recipe(tiny_recipe), tmp_path / "run")
    last = run.metrics()[-1]
    assert all(map(math.isfinite, [last["loss_d"], last["loss_g"], *last["mi"].values()]))
    fp32 = train(
        validate_recipe({**tiny_recipe, "train": {**tiny_recipe["train"], "precision": "fp32"}}),
        tmp_path / "fp32",
    )
    assert weights(tmp_path / "run").keys() == weights(tmp_path / "fp32").keys()
    assert fp32.metrics()[-1] != last  # autocast really changed the arithmetic


def test_a_recipe_without_codes_is_a_plain_gan(tiny_recipe: dict[str, Any], tmp_path: Path) -> None:
    tiny_recipe["codes"] = []
    run = train(validate_recipe(tiny_recipe), tmp_path / "run")
    assert run.metrics()[-1]["mi"] == {}
    assert not list((tmp_path / "run" / "traversals").glob("*.png"))


@pytest.mark.parametrize("option", ["channels_last", "compile"])
def test_layout_and_compile_options_train_the_same_model(
    option: str, tiny_recipe: dict[str, Any], tmp_path: Path
) -> None:
    if option == "compile" and cpu_compile_problem() is not None:
        pytest.skip("inductor has no vector instruction set here: the run is refused (below)")
    tiny_recipe["train"].update(iterations=2, log_every=1)
    plain_run = train(validate_recipe(tiny_recipe), tmp_path / "plain")
    tiny_recipe["train"][option] = True
    other_run = train(validate_recipe(tiny_recipe), tmp_path / option)
    plain, other = weights(tmp_path / "plain"), weights(tmp_path / option)
    assert plain.keys() == other.keys()  # compiled modules keep their state-dict keys
    for a, b in zip(plain_run.metrics(), other_run.metrics(), strict=True):
        assert b["loss_d"] == pytest.approx(a["loss_d"], rel=1e-4)
        assert b["mi"] == pytest.approx(a["mi"], rel=1e-4, abs=1e-5)
    # Adam's first steps are ±lr for every weight whatever the gradient's size, so a gradient
    # that differs in the last bits flips a few weights' steps; nearly all must agree exactly
    differing = sum(
        int((~torch.isclose(plain[k], other[k], rtol=1e-3, atol=1e-5)).sum()) for k in plain
    )
    assert differing / sum(v.numel() for v in plain.values()) < 0.01


def test_compile_without_a_vector_instruction_set_is_refused_at_the_start(
    tiny_recipe: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where inductor has no vector ISA (ATEN_CPU_CAPABILITY=default, a CPU without AVX2)
    torch 2.14.1 generated kernels it could not compile: refused before anything is written,
    after what the recipe itself cannot do (so that message is the same on every machine)."""
    from torch._inductor import cpu_vec_isa

    monkeypatch.setattr(cpu_vec_isa, "pick_vec_isa", lambda: cpu_vec_isa.invalid_vec_isa)
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    tiny_recipe["train"]["compile"] = True
    with pytest.raises(TrainingError, match=r"train\.compile: .*ATEN_CPU_CAPABILITY=default"):
        train(validate_recipe(tiny_recipe), tmp_path / "run")
    assert not (tmp_path / "run").exists()
    tiny_recipe["method"] = {"type": "infogan", "r1": 1.0}  # a refusal of the recipe's own
    with pytest.raises(RecipeError, match=r"method\.r1"):
        train(validate_recipe(tiny_recipe), tmp_path / "run")
    del tiny_recipe["method"]
    tiny_recipe["train"]["compile"] = False  # the control: the same recipe trains without it
    train(validate_recipe(tiny_recipe), tmp_path / "run")
