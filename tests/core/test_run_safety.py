"""Run folders keep what is not theirs: names never become paths, user files survive, an
overwrite removes only the run's own files, and a blown-up run keeps a checkpoint that works."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from disentangle_infogan.method import InfoGAN

from disentangle.analysis.evaluate import evaluate
from disentangle.errors import RecipeError, RunDirError, TrainingError
from disentangle.recipe import validate_recipe
from disentangle.run import Run, load_run
from disentangle.run.metrics_log import json_line
from disentangle.training.loop import resume, train


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root (relative path -> bytes)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("where", "name"),
    [
        ("codes[0].name", "../../escaped"),
        ("codes[0].name", "a/b"),
        ("codes[0].name", "/abs"),
        ("codes[0].name", ".hidden"),
        ("name", "../outside"),
        ("name", "a\\b"),
    ],
)
def test_hostile_names_are_refused_before_anything_is_written(
    tiny_recipe: dict[str, Any], tmp_path: Path, where: str, name: str
) -> None:
    if where == "name":
        tiny_recipe["name"] = name
    else:
        tiny_recipe["codes"][0]["name"] = name
    before = tree(tmp_path)
    with pytest.raises(RecipeError, match=re.escape(where)):
        validate_recipe(tiny_recipe)
    assert tree(tmp_path) == before


def test_every_file_of_a_run_with_odd_names_stays_in_its_folder(
    tiny_recipe: dict[str, Any], tmp_path: Path
) -> None:
    tiny_recipe["name"] = "run..1"
    tiny_recipe["codes"][0]["name"] = "x-.._"
    tiny_recipe["codes"][1]["name"] = "9.9"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    before = tree(outside)
    run = train(validate_recipe(tiny_recipe), outside / "runs" / "r")
    evaluate(run, ["mig"], fast=True)
    after = tree(outside)
    assert {k: v for k, v in after.items() if not k.startswith("runs/r/")} == before
    written = set(run.written())
    files = {str(p.relative_to(run.path)) for p in run.path.rglob("*") if p.is_file()}
    assert files - written == {"manifest.json"}  # every file but the manifest is listed
    assert {"traversals/x-.._.png", "traversals/9.9.png", "eval.json"} <= written


def test_names_in_paths_cannot_leave_the_run_folder(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    assert run.file("traversals", "x.png") == tmp_path / "run" / "traversals" / "x.png"
    with pytest.raises(RunDirError, match="outside the run folder"):
        run.file("traversals", "../../escaped.png")


def test_a_folder_of_user_files_is_refused_even_with_overwrite(
    tiny_recipe: dict[str, Any], tmp_path: Path
) -> None:
    folder = tmp_path / "mine"
    (folder / "samples").mkdir(parents=True)
    (folder / "samples" / "mine.png").write_bytes(b"my picture")
    (folder / "notes.txt").write_text("my notes")
    before = tree(folder)
    for overwrite in (False, True):
        with pytest.raises(RunDirError, match="not empty and is not a run folder"):
            train(validate_recipe(tiny_recipe), folder, overwrite=overwrite)
    assert tree(folder) == before


def test_overwrite_removes_only_what_the_run_wrote(
    tiny_recipe: dict[str, Any], tmp_path: Path
) -> None:
    run = train(validate_recipe(tiny_recipe), tmp_path / "run")
    (run.path / "samples" / "mine.png").write_bytes(b"my picture")
    (run.path / "notes.txt").write_text("my notes")
    (run.path / "checkpoints" / "README").write_text("my checkpoint notes")
    tiny_recipe["train"].update(iterations=2, checkpoint_every=2)
    tiny_recipe["codes"][1]["name"] = "y"
    train(validate_recipe(tiny_recipe), run.path, overwrite=True)
    assert (run.path / "samples" / "mine.png").read_bytes() == b"my picture"
    assert (run.path / "notes.txt").read_text() == "my notes"
    assert (run.path / "checkpoints" / "README").is_file()
    assert [p.name for p in run.checkpoints()] == ["ckpt-0000002.json"]
    assert not (run.path / "traversals" / "x.png").exists()  # the old run's
    assert (run.path / "traversals" / "y.png").is_file()
    assert [r["iteration"] for r in run.metrics()] == [2]


def test_a_run_without_manifest_is_not_overwritten(
    tiny_recipe: dict[str, Any], tmp_path: Path
) -> None:
    run = train(validate_recipe(tiny_recipe), tmp_path / "run")
    (run.path / "manifest.json").unlink()  # as an older version left it
    before = tree(run.path)
    with pytest.raises(RunDirError, match="without a manifest"):
        train(validate_recipe(tiny_recipe), run.path, overwrite=True)
    assert tree(run.path) == before


def test_a_blown_up_run_keeps_a_last_good_checkpoint_that_samples(
    tiny_recipe: dict[str, Any], tmp_path: Path
) -> None:
    tiny_recipe["train"].update(iterations=4)
    run = train(validate_recipe(tiny_recipe), tmp_path / "run")
    # weights blown up in the step right before a checkpoint: its loss is still finite
    overrides = [
        "train.iterations=8",
        "train.checkpoint_every=1",
        "train.log_every=1",
        "method.lr_g=1e30",
        "method.lr_d=1e30",
    ]
    with pytest.raises(TrainingError, match="non-finite") as info:
        resume(run.path, overrides)
    assert "the last good checkpoint is" in str(info.value)
    good = load_run(run.path).latest_checkpoint()
    assert str(good) in str(info.value)
    images = load_run(good).sample(16)
    assert torch.isfinite(images).all()
    assert images.std() > 0  # not a blank grid
    for line in run.metrics_path.read_text().splitlines():
        json.loads(line, parse_constant=lambda token: pytest.fail(f"bare {token} in the log"))


def test_non_finite_values_are_logged_as_null_and_listed() -> None:
    line = json_line({"iteration": 3, "loss_d": float("nan"), "mi": {"a": float("inf"), "b": 1}})
    assert json.loads(line) == {
        "iteration": 3,
        "loss_d": None,
        "mi": {"a": None, "b": 1},
        "nonfinite": ["loss_d", "mi.a"],
    }


def test_no_checkpoint_is_written_from_finite_weights_that_give_nan_images(
    tiny_recipe: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny_recipe["train"].update(iterations=4, checkpoint_every=1, log_every=1)
    original = InfoGAN.step

    def exploding(self: InfoGAN, batch: torch.Tensor) -> torch.Tensor:
        losses = original(self, batch)  # the losses of this step are finite
        if len(load_run(tmp_path / "run").checkpoints()) == 2:
            with torch.no_grad():
                for parameter in self.generator.parameters():
                    parameter.mul_(1e30)  # finite (fp32 holds 3e38), but the images overflow
        return losses

    monkeypatch.setattr(InfoGAN, "step", exploding)
    with pytest.raises(TrainingError, match=r"at iteration 3 .*not finite.*not saved") as info:
        train(validate_recipe(tiny_recipe), tmp_path / "run")
    run = load_run(tmp_path / "run")
    assert [p.name for p in run.checkpoints()] == ["ckpt-0000001.json", "ckpt-0000002.json"]
    assert str(run.latest_checkpoint()) in str(info.value)
    assert torch.isfinite(run.sample(4)).all()
