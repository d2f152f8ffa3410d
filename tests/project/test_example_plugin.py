"""The example third-party plugin in docs/example-plugin, installed the real way (entry points)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from disentangle.run.checkpoint import load_checkpoint

PLUGIN_SOURCE = Path(__file__).resolve().parents[2] / "docs" / "example-plugin"

RECIPE = """\
name = "example"
[noise]
type = "uniform"
dim = 8
[[codes]]
type = "bernoulli"
lambda = 1.0
[backbone]
type = "tiny_mlp"
hidden = 32
[dataset]
type = "procedural"
resolution = 28
scales = 2
orientations = 4
positions_x = 4
positions_y = 4
[train]
iterations = 4
batch_size = 8
log_every = 2
checkpoint_every = 2
sample_every = 2
[images]
samples = 16
traversal_rows = 2
"""


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """pip-install the example plugin into a folder; an environment that puts it on the path."""
    root = tmp_path_factory.mktemp("example-plugin")
    # build from a copy so pip's in-tree build never writes into the repository
    source = root / "source"
    shutil.copytree(
        PLUGIN_SOURCE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    target = root / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
    )
    env = {k: v for k, v in os.environ.items() if k != "DISENTANGLE_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(target), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "200"  # Rich wraps table cells and panels at the terminal width
    return env


def disentangle(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "disentangle", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_plugins_lists_the_example_components(plugin_env: dict[str, str], tmp_path: Path) -> None:
    result = disentangle(["plugins"], plugin_env, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("example" in line and "disentangle-example-plugin" in line for line in lines)
    rows = [line.split("│") for line in lines]
    components = {row[2].strip(): row[4].strip() for row in rows if len(row) == 6}
    assert components["bernoulli"] == components["tiny_mlp"] == "example", result.stdout
    assert components["autoencoder"] == "example", result.stdout


def test_recipe_with_the_example_components_trains(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    recipe = tmp_path / "example.toml"
    recipe.write_text(RECIPE)
    out = tmp_path / "run"
    result = disentangle(["run", str(recipe), "--out", str(out), "--quiet"], plugin_env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (out / "metrics.jsonl").is_file()
    assert list((out / "checkpoints").glob("*.safetensors"))


def test_the_example_method_trains_resumes_and_evaluates(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    """A third-party method on the core's loop: its own networks, optimizer and logged loss go
    through metrics.jsonl and the checkpoints; a resume continues it; eval scores its encoder."""
    recipe = tmp_path / "autoencoder.toml"
    # the autoencoder weighs no code: no `lambda` beside it (InfoGAN's)
    autoencoder = RECIPE.replace("lambda = 1.0\n", "")
    recipe.write_text(autoencoder + '[method]\ntype = "autoencoder"\nlr = 3e-3\n')
    out = tmp_path / "run"
    result = disentangle(["run", str(recipe), "--out", str(out), "--quiet"], plugin_env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [2, 4]
    assert all(r["loss_reconstruction"] > 0 and "mi" not in r for r in records)
    sidecar = sorted((out / "checkpoints").glob("*.json"))[-1]
    state, _ = load_checkpoint(sidecar)
    assert set(state) == {"decoder", "encoder", "opt", "rng"}
    more = ["run", "--resume", str(out), "--set", "train.iterations=6", "--quiet"]
    result = disentangle(more, plugin_env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["iteration"] for line in lines] == [2, 4, 6]
    scores = ["eval", str(out), "--metric", "factor_vae", "--fast"]
    result = disentangle(scores, plugin_env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    score = json.loads((out / "eval.json").read_text())["metrics"]["factor_vae"]["factor_vae"]
    assert 0 <= score <= 1


def test_recipe_fails_validation_without_the_plugin(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    recipe = tmp_path / "example.toml"
    recipe.write_text(RECIPE)
    env = {**plugin_env, "DISENTANGLE_PLUGINS": "codes,infogan,dcgan,data"}
    result = disentangle(["run", str(recipe), "--out", str(tmp_path / "run")], env, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "unknown latent code 'bernoulli'" in output
    assert "Traceback" not in output
    assert not (tmp_path / "run").exists()


CYCLICAL = """\
name = "cyclical"
[method]
type = "cyclical_beta_vae"
cycle = 2
[noise]
type = "gaussian"
dim = 0
[[codes]]
type = "gaussian"
dim = 2
[backbone]
type = "tiny_mlp"
hidden = 32
[dataset]
type = "procedural"
resolution = 28
scales = 2
orientations = 4
positions_x = 4
positions_y = 4
[train]
iterations = 4
batch_size = 8
log_every = 2
checkpoint_every = 2
sample_every = 2
[images]
samples = 16
traversal_rows = 2
[evaluate]
metrics = ["mig", {type = "active_units", threshold = 0.5}]
chance = false
"""


def test_a_plugin_on_the_vae_plugin_trains_and_scores_its_metric_with_params(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    """The example's β-VAE subclass (requires = ["vae"]) trains; its metric's parameter is
    set from the recipe and from the command line, and eval.json records each."""
    recipe = tmp_path / "cyclical.toml"
    recipe.write_text(CYCLICAL)
    out = tmp_path / "run"
    result = disentangle(["run", str(recipe), "--out", str(out), "--quiet"], plugin_env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    sidecar = sorted((out / "checkpoints").glob("*.json"))[-1]
    assert "schedule" in load_checkpoint(sidecar)[0]
    report = json.loads((out / "eval.json").read_text())
    assert 0 <= report["metrics"]["active_units"]["active_units"] <= 1
    assert report["protocol"]["active_units"]["params"] == {"threshold": 0.5}
    scores = ["eval", str(out), "--metric", "active_units:threshold=0.25", "--fast"]
    result = disentangle(scores, plugin_env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((out / "eval.json").read_text())
    assert report["protocol"]["active_units"]["params"] == {"threshold": 0.25}


def test_a_mistyped_metric_param_is_refused_with_the_name_meant(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    recipe = tmp_path / "cyclical.toml"
    recipe.write_text(CYCLICAL.replace("threshold = 0.5", "treshold = 0.5"))
    result = disentangle(["validate", str(recipe)], plugin_env, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "metrics[1].treshold" in output and "did you mean 'threshold'" in output
    assert "Traceback" not in output


def test_a_plugin_whose_required_plugin_is_left_out_is_skipped_with_one_warning(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**plugin_env, "DISENTANGLE_PLUGINS": "codes,dcgan,data,metrics,example"}
    result = disentangle(["plugins"], env, tmp_path)
    assert "plugin 'example'" in result.stderr
    assert "requires plugin 'vae', which DISENTANGLE_PLUGINS leaves out" in result.stderr
    assert "bernoulli" not in result.stdout
