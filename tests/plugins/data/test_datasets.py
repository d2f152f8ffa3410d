"""The first-party datasets: MNIST / Fashion-MNIST from real IDX files, and procedural sprites."""

from __future__ import annotations

import gzip
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from pydantic import ValidationError
from support.layouts import write_split

from disentangle import Dataset
from disentangle.analysis.evaluate import eval_dataset
from disentangle.errors import DatasetError
from disentangle.plugins import host

IDX_FOLDERS = [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")]


def spec_of(type_: str, **params: Any) -> Any:
    return host.datasets.get(type_).spec_model()(type=type_, **params)


def dataset(type_: str, **params: Any) -> Dataset:
    return host.datasets.build(spec_of(type_, **params))


@pytest.fixture
def idx_root(tmp_path: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Tiny train (5) and test (3) splits for both datasets, in torchvision's layout."""
    splits = {}
    for _, folder in IDX_FOLDERS:
        raw = tmp_path / folder / "raw"
        raw.mkdir(parents=True)
        splits[f"{folder}/train"] = write_split(raw, "train", 5, seed=len(folder))
        splits[f"{folder}/test"] = write_split(raw, "t10k", 3, seed=len(folder) + 1)
    return splits


def test_all_three_are_registered() -> None:
    assert {"mnist", "fashion_mnist", "procedural"} <= set(host.datasets.names())


@pytest.mark.parametrize(("name", "folder"), IDX_FOLDERS)
@pytest.mark.parametrize("split", ["train", "test"])
def test_idx_files_round_trip(
    tmp_path: Path, idx_root: dict, name: str, folder: str, split: str
) -> None:
    data = dataset(name, root=str(tmp_path), split=split).load()
    images, labels = idx_root[f"{folder}/{split}"]
    assert data.images.dtype == torch.uint8
    assert data.images.shape == (len(images), 1, 28, 28)
    assert torch.equal(data.images[:, 0], images)
    assert data.labels.dtype == torch.int64
    assert torch.equal(data.labels, labels.long())


@pytest.mark.parametrize("limit", [2, 5, 9])
def test_limit_reads_the_first_images(tmp_path: Path, idx_root: dict, limit: int) -> None:
    data = dataset("mnist", root=str(tmp_path), limit=limit).load()
    images, labels = idx_root["MNIST/train"]
    assert torch.equal(data.images[:, 0], images[:limit])
    assert torch.equal(data.labels, labels[:limit].long())


def test_limit_leaves_the_test_split_whole(tmp_path: Path, idx_root: dict) -> None:
    """A run trained on 2 images is scored on all 3 test images, as one trained on 5 is."""
    spec = spec_of("mnist", root=str(tmp_path), limit=2)
    assert len(host.datasets.build(spec).load().images) == 2
    scored = eval_dataset(SimpleNamespace(dataset=spec), None).load()
    images, labels = idx_root["MNIST/test"]
    assert torch.equal(scored.images[:, 0], images)
    assert torch.equal(scored.labels, labels.long())


def test_root_expands_home(tmp_path: Path, idx_root: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path.parent))
    data = dataset("mnist", root=f"~/{tmp_path.name}").load()
    assert torch.equal(data.images[:, 0], idx_root["MNIST/train"][0])


@pytest.mark.parametrize(("name", "folder"), IDX_FOLDERS)
def test_missing_files_name_the_expected_path(tmp_path: Path, name: str, folder: str) -> None:
    ds = dataset(name, root=str(tmp_path / "nowhere"))  # building reads nothing
    assert ds.image_shape == (1, 28, 28)
    with pytest.raises(DatasetError) as info:
        ds.load()
    message = str(info.value)
    assert str(tmp_path / "nowhere" / folder / "raw" / "train-images-idx3-ubyte") in message
    assert "t10k-labels-idx1-ubyte" in message
    assert "download = true" in message
    assert info.value.__suppress_context__


def test_one_missing_file_is_named(tmp_path: Path, idx_root: dict) -> None:
    missing = tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    missing.unlink()
    with pytest.raises(DatasetError, match="Missing: ") as info:
        dataset("mnist", root=str(tmp_path)).load()  # torchvision needs both splits
    assert str(missing) in str(info.value)
    assert "train-images-idx3-ubyte," not in str(info.value).split("Missing: ")[1]


def gzip_all(folder: Path) -> None:
    for path in list(folder.iterdir()):
        path.with_name(f"{path.name}.gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()


@pytest.mark.parametrize(("name", "folder"), IDX_FOLDERS)
def test_gzipped_idx_files_are_read_as_they_are(
    tmp_path: Path, idx_root: dict, name: str, folder: str
) -> None:
    gzip_all(tmp_path / folder / "raw")
    data = dataset(name, root=str(tmp_path), split="test").load()
    assert torch.equal(data.images[:, 0], idx_root[f"{folder}/test"][0])
    assert torch.equal(data.labels, idx_root[f"{folder}/test"][1].long())


def test_idx_files_directly_in_the_root_as_debian_ships_them(
    tmp_path: Path, idx_root: dict
) -> None:
    flat = tmp_path / "flat"
    (tmp_path / "FashionMNIST" / "raw").rename(flat)
    gzip_all(flat)
    data = dataset("fashion_mnist", root=str(flat)).load()
    assert torch.equal(data.images[:, 0], idx_root["FashionMNIST/train"][0])


def test_fashion_mnist_finds_the_system_folder_when_the_default_root_is_empty(
    tmp_path: Path, idx_root: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from disentangle_data.torchvision_sets import FashionMnist

    system = tmp_path / "usr-share-datasets-fashion-mnist"
    (tmp_path / "FashionMNIST" / "raw").rename(system)
    gzip_all(system)
    monkeypatch.setattr(FashionMnist, "system_folder", system)
    monkeypatch.chdir(tmp_path)  # ./data, the default root, does not exist
    data = dataset("fashion_mnist").load()
    assert torch.equal(data.images[:, 0], idx_root["FashionMNIST/train"][0])
    with pytest.raises(DatasetError, match="read when root is the default") as info:
        dataset("fashion_mnist", root=str(tmp_path / "mine")).load()  # a root given: only it
    assert str(system) in str(info.value)
    with pytest.raises(DatasetError):
        dataset("mnist").load()  # MNIST has no system folder


def test_a_cut_gzip_file_is_named(tmp_path: Path, idx_root: dict) -> None:
    raw = tmp_path / "MNIST" / "raw"
    gzip_all(raw)
    images = raw / "t10k-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:-30])
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte\.gz: not a whole gzip file"):
        dataset("mnist", root=str(tmp_path), split="test").load()


def test_malformed_idx_file_is_a_dataset_error(tmp_path: Path, idx_root: dict) -> None:
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x0d\x01junk")
    with pytest.raises(DatasetError, match="not valid"):
        dataset("mnist", root=str(tmp_path)).load()


# --- procedural --------------------------------------------------------------------------------

SMALL = {"resolution": 32, "scales": 3, "orientations": 4, "positions_x": 5, "positions_y": 5}


def centroid(image: torch.Tensor) -> tuple[float, float]:
    """(x, y) of an image's foreground, in pixels from the top-left."""
    ys, xs = image[0].nonzero(as_tuple=True)
    return xs.float().mean().item(), ys.float().mean().item()


def test_procedural_defaults_match_dsprites() -> None:
    ds = dataset("procedural")
    assert ds.factor_names == ("shape", "scale", "orientation", "pos_x", "pos_y")
    assert ds.factor_sizes == (3, 6, 40, 32, 32)
    assert math.prod(ds.factor_sizes) == 737_280
    assert ds.image_shape == (1, 64, 64)


def test_procedural_load_is_the_whole_grid_and_deterministic() -> None:
    data = dataset("procedural", **SMALL).load()
    assert data.images.shape == (3 * 3 * 4 * 5 * 5, 1, 32, 32)
    assert data.images.dtype == torch.uint8
    assert set(data.images.unique().tolist()) == {0, 255}
    assert (data.images.flatten(1).amax(1) == 255).all()  # no image is blank
    assert data.factors.dtype == torch.int64
    assert len(data.factors.unique(dim=0)) == len(data.factors)
    assert (data.factors.amax(0) + 1).tolist() == list(data.factor_sizes)
    assert data.factor_names == ("shape", "scale", "orientation", "pos_x", "pos_y")
    again = dataset("procedural", **SMALL).load()
    assert torch.equal(data.images, again.images)
    assert torch.equal(data.factors, again.factors)


def test_render_matches_load_for_any_batch() -> None:
    ds = dataset("procedural", **SMALL)
    data = ds.load()
    order = torch.randperm(len(data.factors), generator=torch.Generator().manual_seed(0))[:37]
    assert torch.equal(ds.render(data.factors[order]), data.images[order])


def test_each_factor_changes_the_image_the_right_way() -> None:
    ds = dataset("procedural", resolution=64, orientations=8, positions_x=5, positions_y=5)
    base = [2, 3, 0, 2, 2]

    def draw(**change: int) -> torch.Tensor:
        row = list(base)
        for name, value in change.items():
            row[ds.factor_names.index(name)] = value
        return ds.render(torch.tensor([row]))[0]

    shapes = [draw(shape=s) for s in range(3)]
    assert not torch.equal(shapes[0], shapes[1])
    assert not torch.equal(shapes[1], shapes[2])
    assert not torch.equal(shapes[0], shapes[2])
    counts = [(draw(scale=s) > 0).sum().item() for s in range(6)]
    assert counts == sorted(counts) and counts[-1] > 3 * counts[0]
    xs = [centroid(draw(pos_x=p))[0] for p in range(5)]
    assert xs == sorted(xs) and xs[-1] - xs[0] > 20
    ys = [centroid(draw(pos_y=p))[1] for p in range(5)]
    assert ys == sorted(ys) and ys[-1] - ys[0] > 20
    for orientation, wide in ((0, True), (2, False)):  # 0 and 90 degrees
        ellipse = draw(shape=1, orientation=orientation)[0] > 0
        width, height = ellipse.any(0).sum().item(), ellipse.any(1).sum().item()
        assert (width > 1.5 * height) if wide else (height > 1.5 * width)
    heart = draw(shape=2)  # point down: the top half holds more of it
    assert heart[0, :32].sum() > heart[0, 32:].sum()


def test_shapes_by_name_draw_those_shapes_in_that_order() -> None:
    grid = {"scales": 2, "orientations": 3, "positions_x": 2, "positions_y": 1}
    dsprites = dataset("procedural", **grid).load()
    assert torch.equal(dataset("procedural", shapes=["square", "ellipse", "heart"], **grid).load()
                       .images, dsprites.images)  # fmt: skip
    named = dataset("procedural", shapes=["heart", "square"], **grid)
    assert named.factor_sizes[0] == 2
    images = named.load().images.view(2, -1, 1, 64, 64)
    by_shape = dsprites.images.view(3, -1, 1, 64, 64)
    assert torch.equal(images[0], by_shape[2]) and torch.equal(images[1], by_shape[0])


def test_arch_and_tee_are_upright_and_mirror_symmetric() -> None:
    ds = dataset("procedural", shapes=["arch", "tee"], resolution=64, radius=0.4, scales=1,
                 orientations=1, positions_x=1, positions_y=1)  # fmt: skip
    arch, tee = (image[0] > 0 for image in ds.load().images)
    for shape in (arch, tee):
        assert torch.equal(shape, shape.flip(-1))
    centre = 32
    assert not arch[centre - 2 : centre + 2, centre - 2 : centre + 2].any()  # the hole
    assert arch[:centre, centre].any() and not arch[centre:, centre].any()  # open below
    top, bottom = tee[:centre].sum(1).amax().item(), tee[centre:].sum(1).amax().item()
    assert top > 2.5 * bottom  # the bar on top, the stem below


@pytest.mark.parametrize(
    ("shapes", "needle"),
    [(["square", "square"], "names a shape twice"), (["star"], "square"), ([], "at least 1"),
     (4, "less than or equal to 3")],
)  # fmt: skip
def test_bad_shapes_are_rejected(shapes: Any, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        dataset("procedural", shapes=shapes)


def test_rotation_spans_both_ways_about_upright() -> None:
    ds = dataset("procedural", resolution=64, orientations=3, rotation=90, positions_x=1,
                 positions_y=1)  # fmt: skip
    full = dataset("procedural", resolution=64, orientations=8, positions_x=1, positions_y=1)
    ellipse = [ds.render(torch.tensor([[1, 5, o, 0, 0]]))[0] for o in range(3)]
    # −45°, 0° and +45°: the middle step is upright, the ends mirror each other left to right
    assert torch.equal(ellipse[1], full.render(torch.tensor([[1, 5, 0, 0, 0]]))[0])
    assert torch.equal(ellipse[0], ellipse[2].flip(-1))
    assert torch.equal(ellipse[2], full.render(torch.tensor([[1, 5, 1, 0, 0]]))[0])


@pytest.mark.parametrize("radius", [0.1, 0.3, 0.45])
def test_radius_sets_the_size_and_the_margin(radius: float) -> None:
    ds = dataset("procedural", resolution=64, radius=radius, positions_x=2, positions_y=1)
    for x, edge in ((0, 0), (1, -1)):
        square = ds.render(torch.tensor([[0, 5, 0, x, 0]]))[0, 0] > 0
        columns = square.any(0).nonzero().flatten()
        side = 2 * radius * math.sqrt(0.5) * 64  # a square's side is √2 × its circumradius
        assert abs(len(columns) - side) <= 1
        gap = columns[0].item() if edge == 0 else 63 - columns[-1].item()
        assert abs(gap - (radius - radius * math.sqrt(0.5)) * 64) <= 1


@pytest.mark.parametrize("smallest", [0.25, 0.75, 1.0])
def test_min_scale_is_the_smallest_size(smallest: float) -> None:
    ds = dataset("procedural", resolution=64, scales=3, min_scale=smallest, positions_x=1,
                 positions_y=1)  # fmt: skip
    sides = [
        (ds.render(torch.tensor([[0, s, 0, 0, 0]]))[0, 0] > 0).any(0).sum().item() for s in range(3)
    ]
    assert abs(sides[0] - smallest * sides[2]) <= 1
    assert abs(sides[1] - (1 + smallest) / 2 * sides[2]) <= 1


def test_shapes_stay_inside_the_image() -> None:
    names = ["square", "ellipse", "heart", "arch", "tee"]
    ds = dataset("procedural", shapes=names, positions_x=3, positions_y=3)
    corners = ((0, 0), (0, 2), (2, 0), (2, 2))
    for shape in range(len(names)):
        rows = [[shape, 5, o, x, y] for o in range(40) for x, y in ((1, 1), *corners)]
        counts = (ds.render(torch.tensor(rows)) > 0).flatten(1).sum(1).view(40, 5).float()
        assert (counts[:, 1:] > 0.9 * counts[:, :1]).all()


def test_size_draws_a_deterministic_subset() -> None:
    full = dataset("procedural", **SMALL).load()
    data = dataset("procedural", **SMALL, size=20, seed=3).load()
    assert data.images.shape[0] == 20
    assert len(data.factors.unique(dim=0)) == 20
    strides = torch.tensor([4 * 5 * 5 * 3, 4 * 5 * 5, 5 * 5, 5, 1])
    index = (data.factors * strides).sum(1)
    assert torch.equal(full.factors[index], data.factors)
    assert torch.equal(full.images[index], data.images)
    same = dataset("procedural", **SMALL, size=20, seed=3).load()
    assert torch.equal(same.factors, data.factors)
    other = dataset("procedural", **SMALL, size=20, seed=4).load()
    assert not torch.equal(other.factors, data.factors)


def test_size_larger_than_the_grid_is_rejected() -> None:
    with pytest.raises(ValidationError, match="exceeds"):
        dataset("procedural", **SMALL, size=10_000)


def test_sample_factors_and_render_checks() -> None:
    ds = dataset("procedural", **SMALL)
    factors = ds.sample_factors(500, torch.Generator().manual_seed(0))
    assert factors.shape == (500, 5) and factors.dtype == torch.int64
    assert (factors.amin(0) == 0).all()
    assert (factors.amax(0) + 1).tolist() == list(ds.factor_sizes)
    assert torch.equal(factors, ds.sample_factors(500, torch.Generator().manual_seed(0)))
    assert ds.render(factors[:3]).shape == (3, 1, 32, 32)
    with pytest.raises(ValueError, match="out of range"):
        ds.render(torch.tensor([[3, 0, 0, 0, 0]]))
    with pytest.raises(ValueError, match=r"\[n, 5\]"):
        ds.render(torch.zeros(2, 4, dtype=torch.int64))


def test_supersampling_draws_each_pixels_coverage() -> None:
    grid = {"resolution": 28, "orientations": 3, "rotation": 60, "positions_x": 1, "positions_y": 1}
    binary = dataset("procedural", **grid).load().images
    assert set(binary.unique().tolist()) == {0, 255}
    k = 4
    smooth = dataset("procedural", supersample=k, **grid)
    images = smooth.load().images
    assert torch.equal(smooth.render(smooth.factors()), images)
    # the same shapes drawn binary at k× the resolution, each k×k block averaged
    fine = dataset("procedural", **{**grid, "resolution": 28 * k}).load().images.double()
    coverage = torch.nn.functional.avg_pool2d(fine / 255, k)
    assert torch.equal(images, (coverage * 255).round().to(torch.uint8))
    levels = images.unique()
    assert len(levels) > 2 and levels.min() == 0 and levels.max() == 255
    assert (images.double().mean() - binary.double().mean()).abs() < 0.05 * binary.double().mean()
