"""Sweeps over recipe values (--grid, with --seeds), and `disentangle table`: the runs grouped by
the values that differ between them, each column as mean ± std over the group's seeds."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest
from support.cli import assert_clean_failure, invoke

from disentangle.analysis.table import flat, sweep_table
from disentangle.errors import DisentangleError
from disentangle.run import load_run
from disentangle.sweep import MAX_POINT_NAME, grid_points, parse_grid, point_label, point_name


def test_a_grid_is_the_product_of_its_axes() -> None:
    axes = parse_grid(["method.lr_g=1e-3,5e-4", "codes[1].lambda=0.1, 1"])
    assert axes == [("method.lr_g", ["1e-3", "5e-4"]), ("codes[1].lambda", ["0.1", "1"])]
    points = grid_points(axes)
    assert len(points) == 4 and points[1] == ["method.lr_g=1e-3", "codes[1].lambda=1"]
    assert point_label(points[1]) == "method.lr_g_1e-3-codes.1.lambda_1"
    assert point_name("mnist", points[1]) == "mnist-method.lr_g_1e-3-codes.1.lambda_1"
    long = point_name("mnist", [*points[1], "images.traversal_range=[-2.0, 2.0]"])
    assert len(long) <= MAX_POINT_NAME and long.startswith("mnist-")
    assert long != point_name("mnist", [*points[0], "images.traversal_range=[-2.0, 2.0]"])


def test_recipes_flatten_to_hashable_key_paths() -> None:
    data = {"codes": [{"k": 3}], "images": {"traversal_range": [-1.0, 1.0]}, "name": "x"}
    assert flat(data) == {"codes[0].k": 3, "images.traversal_range": (-1.0, 1.0), "name": "x"}


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        (["method.lr_g"], "expected KEY=V1,V2"),
        (["method.lr_g=1e-3,"], "expected KEY=V1,V2"),
        (["method.lr_g=1,1"], "given twice"),
        (["method.lr_g=1", "method.lr_g=2"], "swept twice"),
        (["codes[x]=1"], "not a key path"),
    ],
)
def test_a_bad_grid_is_a_clear_error(grid: list[str], message: str) -> None:
    with pytest.raises(DisentangleError, match=message):
        parse_grid(grid)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from support.tiny import TINY_TOML

    root = tmp_path_factory.mktemp("sweep")
    recipe = root / "tiny.toml"
    recipe.write_text(TINY_TOML)
    grid = ["--grid", "method.lr_g=1e-3,5e-4"]
    code, output = invoke("run", str(recipe), *grid, "--seeds", "1-2", "--out", str(root / "s"))
    assert code == 0, output
    assert "mean ± std over seeds" in output and "method.lr_g" in output
    return sorted((root / "s").iterdir())


def test_the_grid_trains_every_point_and_seed_into_sibling_folders(sweep: list[Path]) -> None:
    assert [p.name for p in sweep] == [
        f"tiny-method.lr_g_{lr}-seed{s}" for lr in ("1e-3", "5e-4") for s in (1, 2)
    ]
    recipes = [json.loads((p / "recipe.json").read_text()) for p in sweep]
    assert [r["method"]["lr_g"] for r in recipes] == [1e-3, 1e-3, 5e-4, 5e-4]
    assert [r["train"]["seed"] for r in recipes] == [1, 2, 1, 2]


def test_the_table_groups_by_what_differs_and_averages_the_seeds(
    sweep: list[Path], tmp_path: Path
) -> None:
    for i, path in enumerate(sweep):  # eval.json as `disentangle eval` writes it
        report = {"metrics": {"mig": {"mig": 0.1 * i}, "sap": {"sap": 0.5}}}
        (path / "eval.json").write_text(json.dumps(report))
    table = sweep_table([load_run(p) for p in sweep], ["mig"])
    assert table.swept == ["method.lr_g"]
    assert [g.values for g in table.groups] == [(1e-3,), (5e-4,)]
    assert "mig.mig" in table.columns and "sap.sap" not in table.columns
    first = table.groups[0]
    assert first.mean["mig.mig"] == pytest.approx(0.05)
    assert first.std["mig.mig"] == pytest.approx(statistics.stdev([0.0, 0.1]))
    finals = [load_run(p).metrics()[-1]["mi"]["shape"] for p in sweep[:2]]
    assert first.mean["L_I shape"] == pytest.approx(statistics.fmean(finals))
    out = tmp_path / "t.csv"
    code, output = invoke("table", *map(str, sweep), "--csv", str(out))
    assert code == 0 and "0.050 ±" in output, output
    rows = list(csv.reader(out.open()))
    assert rows[0][:2] == ["method.lr_g", "runs"] and len(rows) == 3
    code, output = invoke("table", *map(str, sweep), "--metric", "migg")  # a typo is named
    assert code == 1 and "--metric migg: no run's eval.json holds it (they hold: mig, sap)" in (
        " ".join(output.split())
    )


def test_table_needs_run_folders(tmp_path: Path) -> None:
    assert_clean_failure(*invoke("table", str(tmp_path)), str(tmp_path))
