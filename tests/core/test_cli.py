"""The CLI: each command works, and bad input gives a clear message, exit 1, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from support.cli import assert_clean_failure, invoke

from disentangle.cli import training as cli_training
from disentangle.run.checkpoint import load_checkpoint


@pytest.fixture
def trained(tiny_toml: Path, tmp_path: Path) -> Path:
    code, output = invoke("run", str(tiny_toml), "--out", str(tmp_path / "run"), "--quiet")
    assert code == 0, output
    return tmp_path / "run"


def test_help_is_fast_and_does_not_import_torch() -> None:
    code = "import sys; from disentangle.cli import app; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
    help_run = subprocess.run(
        [sys.executable, "-m", "disentangle", "--help"], capture_output=True, text=True, check=True
    )
    assert "run" in help_run.stdout and "traverse" in help_run.stdout


def test_run_writes_a_complete_run_folder(trained: Path) -> None:
    assert (trained / "metrics.jsonl").is_file()
    assert list((trained / "checkpoints").glob("*.safetensors"))
    assert list((trained / "samples").glob("*.png"))
    assert list((trained / "traversals").glob("*.png"))


def test_validate_reports_every_problem_of_every_file(tmp_path: Path, tiny_toml: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        tiny_toml.read_text()
        .replace('"categorical"', '"categorcal"')
        .replace("batch_size = 8", "batch_size = -1\nbogus = 1")
    )
    code, output = invoke("validate", str(tiny_toml), str(bad))
    assert_clean_failure(
        code,
        output,
        "3 problem(s)",
        "codes[0].type",
        "Did you mean 'categorical'",
        "train.batch_size",
        "-1",
        "train.bogus",
        "unknown key",
    )
    assert f"ok {tiny_toml}" in " ".join(output.split())


def test_set_overrides_are_validated(tiny_toml: Path, tmp_path: Path) -> None:
    code, output = invoke(
        "run", str(tiny_toml), "--set", "method.lr_g=0", "--out", str(tmp_path / "r")
    )
    assert_clean_failure(code, output, "method.lr_g", "greater than 0")
    assert not (tmp_path / "r").exists()


def test_missing_dataset_names_the_expected_layout(tiny_toml: Path, tmp_path: Path) -> None:
    text = tiny_toml.read_text()
    start = text.index("[dataset]")
    end = text.index("[train]")
    text = text[:start] + f'[dataset]\ntype = "mnist"\nroot = "{tmp_path}/nothing"\n' + text[end:]
    tiny_toml.write_text(text)
    code, output = invoke("run", str(tiny_toml), "--out", str(tmp_path / "r"))
    assert_clean_failure(code, output, "train-images-idx3-ubyte", "download = true")
    assert not (tmp_path / "r").exists()  # nothing claimed the folder


def test_an_occupied_output_folder_is_refused(trained: Path, tiny_toml: Path) -> None:
    before = sorted(p.name for p in (trained / "checkpoints").iterdir())
    code, output = invoke("run", str(tiny_toml), "--out", str(trained))
    assert_clean_failure(code, output, "already holds a run", "--resume", "--overwrite")
    assert sorted(p.name for p in (trained / "checkpoints").iterdir()) == before


def test_resume_continues_and_extends(trained: Path) -> None:
    code, output = invoke("run", "--resume", str(trained), "--set", "train.iterations=8", "--quiet")
    assert code == 0, output
    assert (trained / "checkpoints" / "ckpt-0000008.json").is_file()


def test_resume_with_a_different_recipe_is_refused(trained: Path, tiny_toml: Path) -> None:
    code, output = invoke(
        "run", str(tiny_toml), "--set", "method.lr_g=0.01", "--resume", str(trained)
    )
    assert_clean_failure(code, output, "differs")


def test_corrupt_checkpoint_is_a_clear_error(trained: Path) -> None:
    weights = sorted((trained / "checkpoints").glob("*.safetensors"))[-1]
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    for args in (("sample", str(trained)), ("traverse", str(trained))):
        code, output = invoke(*args)
        assert_clean_failure(code, output, "truncated", weights.name)


def test_resume_falls_back_to_the_newest_intact_checkpoint(trained: Path) -> None:
    newest = sorted((trained / "checkpoints").glob("*.safetensors"))[-1]
    newest.write_bytes(newest.read_bytes()[:100])
    code, output = invoke("run", "--resume", str(trained), "--quiet")
    assert code == 0, output
    flat = " ".join(output.split())
    assert f"skipped a damaged checkpoint: {newest}: truncated" in flat
    assert "resuming from ckpt-0000004.json" in flat
    load_checkpoint(newest.with_suffix(".json"))  # rewritten whole by the resumed run


def test_sample_and_traverse_write_pngs(trained: Path, tmp_path: Path) -> None:
    code, output = invoke("sample", str(trained), "--n", "4", "--out", str(tmp_path / "s.png"))
    assert code == 0, output
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    checkpoint = sorted((trained / "checkpoints").glob("*.json"))[0]
    code, output = invoke(
        "traverse",
        str(checkpoint),
        "--code",
        "x",
        "--range",
        "-2",
        "2",
        "--rows",
        "2",
        "--out",
        str(tmp_path / "t"),
    )
    assert code == 0, output
    assert [p.name for p in (tmp_path / "t").iterdir()] == ["traverse-x-range-2_2.png"]
    code, output = invoke("traverse", str(trained), "--code", "nope")
    assert_clean_failure(code, output, "no code 'nope'", "shape, x")


def test_plugins_lists_every_first_party_component() -> None:
    code, output = invoke("plugins")
    assert code == 0, output
    for name in (
        "categorical",
        "uniform",
        "gaussian",
        "mnist",
        "variational",
        "fashion_mnist",
        "procedural",
        "disentangle-toolkit",
    ):
        assert name in output


def test_seeds_train_sibling_folders_and_print_a_table(tiny_toml: Path, tmp_path: Path) -> None:
    code, output = invoke(
        "run", str(tiny_toml), "--seeds", "1-2", "--out", str(tmp_path / "s"), "--quiet"
    )
    assert code == 0, output
    for seed in (1, 2):
        assert (tmp_path / f"s-seed{seed}" / "checkpoints" / "ckpt-0000006.json").is_file()
    assert "final L_I per code" in output and "L_I shape" in output
    assert "…" not in output  # the runs' paths (long, under pytest's tmp) fold, never cut
    code, output = invoke("run", str(tiny_toml), "--seeds", "3-x")
    assert_clean_failure(code, output, "--seeds '3-x'")


def test_figures_writes_samples_traversals_and_gifs(trained: Path) -> None:
    code, output = invoke("figures", str(trained), "--gif")
    assert code == 0, output
    names = sorted(p.name for p in (trained / "figures").iterdir())
    assert "samples-0.png" in names
    for code_name in ("shape", "x"):
        for span in ("range-1_1", "range-2_2"):
            assert f"traverse-{code_name}-{span}.png" in names
            assert f"traverse-{code_name}-{span}.gif" in names
    gif = (trained / "figures" / "traverse-x-range-1_1.gif").read_bytes()
    assert gif[:6] == b"GIF89a"


def test_variants_are_validated_and_selectable(tiny_toml: Path, tmp_path: Path) -> None:
    tiny_toml.write_text(
        tiny_toml.read_text()
        + '\n[variants.fast]\n"method.lr_g" = 5e-3\n'
        + '\n[variants.broken]\n"codes[0].k" = 1\n'
    )
    code, output = invoke("validate", str(tiny_toml))
    assert_clean_failure(code, output, "(variant broken)", "codes[0].k")
    assert "ok" in output and "(variant fast)" in output
    code, output = invoke("run", str(tiny_toml), "--variant", "nope")
    assert_clean_failure(code, output, "no variant 'nope'", "broken, fast")
    code, output = invoke(
        "run", str(tiny_toml), "--variant", "fast", "--out", str(tmp_path / "v"), "--quiet"
    )
    assert code == 0, output
    stored = (tmp_path / "v" / "recipe.json").read_text()
    assert '"lr_g": 0.005' in stored and '"name": "tiny-fast"' in stored


def test_data_prepare_loads_a_dataset_and_reports_bad_params(tmp_path: Path) -> None:
    code, output = invoke(
        "data", "prepare", "procedural", "--set", "resolution=16", "--set", "orientations=2"
    )
    assert code == 0, output
    assert "images of 1×16×16" in output
    code, output = invoke("data", "prepare", "procedural", "--set", "resolution=2")
    assert_clean_failure(code, output, "resolution")
    code, output = invoke("data", "prepare", "mnist", "--root", str(tmp_path))
    assert_clean_failure(code, output, "train-images-idx3-ubyte")


def test_data_digits_writes_real_digits_the_mnist_dataset_reads(tmp_path: Path) -> None:
    from sklearn.datasets import load_digits

    from disentangle.recipe.prepare import prepare_dataset

    code, output = invoke("data", "digits", str(tmp_path))
    assert code == 0, output
    data = prepare_dataset("mnist", str(tmp_path), [])
    assert data.images.shape == (1797, 1, 28, 28)
    assert data.labels is not None and data.labels.tolist() == load_digits().target.tolist()
    assert data.images[:, :, :4].max() == 0  # MNIST's 4-pixel border stays empty


def test_concurrent_seeds_match_sequential_ones(tiny_toml: Path, tmp_path: Path) -> None:
    """Bit for bit, so both ways train at the same thread count (each of the two workers gets
    half the cores): another count may sum in another order on some CPUs."""
    from disentangle.run import Run
    from disentangle.run.checkpoint import load_checkpoint

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // 2))
    for jobs in ("1", "2"):
        code, output = invoke(
            "run",
            str(tiny_toml),
            "--seeds",
            "4-5",
            "--jobs",
            jobs,
            "--out",
            str(tmp_path / f"jobs{jobs}"),
            "--quiet",
        )
        assert code == 0, output
    for seed in (4, 5):
        a, _ = load_checkpoint(Run(tmp_path / f"jobs1-seed{seed}").latest_checkpoint())
        b, _ = load_checkpoint(Run(tmp_path / f"jobs2-seed{seed}").latest_checkpoint())
        assert all(torch.equal(a["generator"][k], b["generator"][k]) for k in a["generator"])


def test_nproc_relaunches_under_torchrun_with_every_other_flag(
    tiny_toml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    launched: list[tuple[int, list[str]]] = []
    monkeypatch.setattr(cli_training, "_torchrun", lambda n, args: launched.append((n, args)) or 0)
    given = ["--set", "train.iterations=2", "--set", "train.seed=3", "--variant", "small"]
    given += ["--out", str(tmp_path / "o"), "--overwrite", "--quiet"]
    code, output = invoke("run", str(tiny_toml), "--nproc", "2", *given)
    assert code == 0, output
    assert launched == [(2, ["run", str(tiny_toml), *given])]


@pytest.mark.parametrize("flags", [["--seeds", "1-2"], ["--seeds", "1-2", "--jobs", "2"]])
def test_nproc_refuses_the_flags_one_launch_cannot_run(
    flags: list[str], tiny_toml: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_training, "_torchrun", lambda n, args: pytest.fail("launched"))
    assert_clean_failure(*invoke("run", str(tiny_toml), "--nproc", "2", *flags), "--seeds")
