"""TensorBoard event files mirror metrics.jsonl (losses, L_I beside H(c) and its ceiling,
images/s) and hold the sample and traversal grids; they are the run's files (manifest,
overwrite), optional, and a resume shows each logged iteration once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from disentangle.recipe import validate_recipe
from disentangle.training.loop import resume, train

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import (
    EventAccumulator,
)


def events(run: Path) -> EventAccumulator:
    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def test_the_events_mirror_metrics_jsonl_and_hold_the_grids(
    tiny_recipe: dict[str, Any], tmp_path: Path
) -> None:
    run = train(validate_recipe(tiny_recipe), tmp_path / "run")
    acc, records = events(run.path), run.metrics()
    for tag, key in (("loss/d", "loss_d"), ("loss/g", "loss_g"), ("speed/images_per_s", None)):
        steps = [e.step for e in acc.Scalars(tag)]
        assert steps == [r["iteration"] for r in records], tag
        if key:
            assert [e.value for e in acc.Scalars(tag)] == pytest.approx([r[key] for r in records])
    for code in ("shape", "x"):
        assert [e.value for e in acc.Scalars(f"L_I/{code}")] == pytest.approx(
            [r["mi"][code] for r in records]
        )
        assert acc.Scalars(f"H(c)/{code}")[0].value == pytest.approx(records[0]["entropy"][code])
        ceiling = records[0]["ceiling"][code]
        assert acc.Scalars(f"attainable/{code}")[0].value == pytest.approx(ceiling)
    assert {"samples", "traversals/shape", "traversals/x"} <= set(acc.Tags()["images"])
    assert [e.step for e in acc.Images("samples")] == [3, 6]  # sample_every 3, and the end


def test_the_event_files_belong_to_the_run(tiny_recipe: dict[str, Any], tmp_path: Path) -> None:
    first = train(validate_recipe(tiny_recipe), tmp_path / "run")
    (old,) = (first.path / "tensorboard").glob("events.*")
    assert f"tensorboard/{old.name}" in first.written()
    again = train(validate_recipe(tiny_recipe), tmp_path / "run", overwrite=True)
    files = list((again.path / "tensorboard").glob("events.*"))
    assert old not in files and len(files) == 1


def test_tensorboard_can_be_turned_off(tiny_recipe: dict[str, Any], tmp_path: Path) -> None:
    tiny_recipe["train"]["tensorboard"] = False
    run = train(validate_recipe(tiny_recipe), tmp_path / "run")
    assert not (run.path / "tensorboard").exists()


def test_a_resume_shows_each_iteration_once(tiny_recipe: dict[str, Any], tmp_path: Path) -> None:
    run = train(validate_recipe(tiny_recipe), tmp_path / "run")  # logs 2, 4, 6
    for newest in run.checkpoints_dir.glob("ckpt-0000006.*"):  # as if killed after logging 6
        newest.unlink()
    resume(run.path, ["train.iterations=8"])
    acc, records = events(run.path), run.metrics()
    assert [e.step for e in acc.Scalars("loss/d")] == [2, 4, 6, 8]
    assert [e.value for e in acc.Scalars("loss/d")] == pytest.approx([r["loss_d"] for r in records])
    assert len(list((run.path / "tensorboard").glob("events.*"))) == 2
