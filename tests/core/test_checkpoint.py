"""Checkpoints: safetensors + JSON, atomic, last K kept, broken files rejected clearly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import SafetensorError

from disentangle.errors import CheckpointError
from disentangle.run import checkpoint
from disentangle.run.checkpoint import (
    join_tensors,
    list_checkpoints,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
    split_tensors,
)

META = {"recipe": {"name": "x"}}


def nested_state() -> dict:
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    return {
        "model": model.state_dict(),
        "opt": opt.state_dict(),
        "rng": {"torch": torch.get_rng_state()},
    }


def assert_same(a: object, b: object) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b) and a.dtype == b.dtype
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)  # type: ignore[arg-type]
        for x, y in zip(a, b, strict=True):  # type: ignore[call-overload]
            assert_same(x, y)
    else:
        assert a == b


def test_split_and_join_round_trip_optimizer_state() -> None:
    state = nested_state()
    tensors: dict[str, torch.Tensor] = {}
    skeleton = split_tensors(state, "s", tensors)
    json.dumps(skeleton)  # the skeleton is plain JSON
    assert all(isinstance(t, torch.Tensor) for t in tensors.values())
    restored = join_tensors(json.loads(json.dumps(skeleton)), tensors)
    assert_same(state, restored)
    assert isinstance(next(iter(restored["opt"]["state"])), int)  # int keys survive JSON


def test_save_and_load(tmp_path: Path) -> None:
    state = nested_state()
    sidecar = save_checkpoint(tmp_path, 7, state, {"recipe": {"name": "x"}})
    assert sidecar.name == "ckpt-0000007.json"
    assert sidecar.with_suffix(".safetensors").is_file()
    loaded, meta = load_checkpoint(sidecar)
    assert_same(state, loaded)
    assert meta["iteration"] == 7 and meta["recipe"] == {"name": "x"}
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_a_failed_write_names_the_file_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(tensors: dict, filename: str) -> None:
        Path(filename).write_bytes(b"part of a file")
        raise SafetensorError("Error while serializing: I/O error: No space left on device")

    monkeypatch.setattr(checkpoint, "save_file", full_disk)
    with pytest.raises(OSError, match="No space left") as info:
        save_checkpoint(tmp_path, 3, nested_state(), META)
    assert info.value.filename == str(tmp_path / "ckpt-0000003.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_the_weights_file_holds_no_pickle(tmp_path: Path) -> None:
    sidecar = save_checkpoint(tmp_path, 1, nested_state(), META)
    data = sidecar.with_suffix(".safetensors").read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_len])
    assert "state.model.weight" in header  # a safetensors header, not a pickle stream


def test_only_the_last_k_are_kept(tmp_path: Path) -> None:
    removed = []
    for it in (1, 2, 3, 4):
        save_checkpoint(tmp_path, it, {"w": torch.full((2,), float(it))}, META)
        removed += prune_checkpoints(tmp_path, 2)
    assert [p.name for p in list_checkpoints(tmp_path)] == [
        "ckpt-0000003.json",
        "ckpt-0000004.json",
    ]
    assert len(list(tmp_path.glob("*.safetensors"))) == 2
    assert sorted(p.name for p in removed) == [
        "ckpt-0000001.json",
        "ckpt-0000001.safetensors",
        "ckpt-0000002.json",
        "ckpt-0000002.safetensors",
    ]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"weights": None}, "weights"),
        ({"weights": "../../elsewhere/ckpt-1.safetensors"}, "weights"),
        ({"iteration": "x"}, "iteration"),
        ({"weights_bytes": -1}, "weights_bytes"),
        ({"recipe": [1]}, "recipe"),
    ],
)
def test_a_damaged_sidecar_names_the_bad_key(
    tmp_path: Path, change: dict[str, Any], named: str
) -> None:
    sidecar = save_checkpoint(tmp_path, 1, nested_state(), META)
    doc = json.loads(sidecar.read_text())
    for key, value in change.items():
        if value is None:
            del doc[key]
        else:
            doc[key] = value
    sidecar.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match=rf"{sidecar.name}: a damaged .*{named}"):
        load_checkpoint(sidecar)


def test_a_non_finite_state_cannot_be_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="JSON"):
        save_checkpoint(tmp_path, 1, {"lr": float("nan")}, META)


def test_truncated_weights_are_rejected(tmp_path: Path) -> None:
    sidecar = save_checkpoint(tmp_path, 1, nested_state(), META)
    weights = sidecar.with_suffix(".safetensors")
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(sidecar)


def test_corrupt_weights_are_rejected(tmp_path: Path) -> None:
    sidecar = save_checkpoint(tmp_path, 1, nested_state(), META)
    weights = sidecar.with_suffix(".safetensors")
    weights.write_bytes(b"\xff" * weights.stat().st_size)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(sidecar)


def test_corrupt_sidecar_is_rejected(tmp_path: Path) -> None:
    sidecar = save_checkpoint(tmp_path, 1, nested_state(), META)
    sidecar.write_text(sidecar.read_text()[:40])
    with pytest.raises(CheckpointError, match=str(sidecar.name)):
        load_checkpoint(sidecar)
    (tmp_path / "other.json").write_text('{"hello": 1}')
    with pytest.raises(CheckpointError, match="not a disentangle checkpoint"):
        load_checkpoint(tmp_path / "other.json")
