"""docs/results/peer_accuracy.py scores a checkpoint of Natsu6767/InfoGAN-PyTorch's MNIST model
(its state dicts, in its layer names) as the toolkit scores its own runs, on a tiny fake one."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import torch
from support.layouts import write_idx, write_split
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "results" / "peer_accuracy.py"
N = 40


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("peer_accuracy", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Trunk(nn.Module):
    """The port's D trunk, in its layer names (models/mnist_model.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 64, 4, 2, 1)
        self.conv2 = nn.Conv2d(64, 128, 4, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(128)
        self.conv3 = nn.Conv2d(128, 1024, 7, bias=False)
        self.bn3 = nn.BatchNorm2d(1024)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.leaky_relu(self.conv1(x), 0.1)
        x = nn.functional.leaky_relu(self.bn2(self.conv2(x)), 0.1)
        return nn.functional.leaky_relu(self.bn3(self.conv3(x)), 0.1)


class QHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1024, 128, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(128)
        self.conv_disc = nn.Conv2d(128, 10, 1)
        self.conv_mu = nn.Conv2d(128, 2, 1)
        self.conv_var = nn.Conv2d(128, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.leaky_relu(self.bn1(self.conv1(x)), 0.1)
        return self.conv_disc(x).flatten(1)


def fake_checkpoint(path: Path) -> tuple[Trunk, QHead]:
    """Random weights and batch-norm statistics (so inference mode matters), saved the port's
    way: a dict of state dicts, its optimizers' and params beside them."""
    torch.manual_seed(0)
    trunk, q = Trunk(), QHead()
    for bn in (trunk.bn2, trunk.bn3, q.bn1):
        bn.running_mean.normal_(0, 0.1)
        bn.running_var.uniform_(0.5, 2)
    opt = torch.optim.Adam(trunk.parameters())
    torch.save(
        {
            "discriminator": trunk.state_dict(),
            "netQ": q.state_dict(),
            "netD": {},
            "optimD": opt.state_dict(),
            "params": {"batch_size": 128, "dataset": "MNIST"},
            "epoch": 157,
        },
        path,
    )
    return trunk.eval(), q.eval()


def test_it_computes_the_port_s_categories_and_scores_them(tmp_path: Path) -> None:
    trunk, q = fake_checkpoint(tmp_path / "model_final_MNIST")
    images = torch.randint(256, (N, 28, 28), generator=torch.Generator().manual_seed(1))
    x = images.unsqueeze(1).float() / 255
    with torch.no_grad():
        want = q(trunk(x))
    script = load_script()
    state = torch.load(tmp_path / "model_final_MNIST", weights_only=True)
    got = script.logits(x, state["discriminator"], state["netQ"])
    torch.testing.assert_close(got, want)

    # labels that relabel the port's categories one to one: Hungarian accuracy 1
    clusters = want.argmax(1)
    relabel = torch.randperm(10, generator=torch.Generator().manual_seed(2))
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_split(raw, "train", 8, seed=3)  # torchvision's MNIST wants both splits' files
    write_idx(raw / "t10k-images-idx3-ubyte", images.to(torch.uint8))
    write_idx(raw / "t10k-labels-idx1-ubyte", relabel[clusters].to(torch.uint8))
    command = [sys.executable, str(SCRIPT), "--data", str(tmp_path / "data")]
    out = subprocess.run(
        [*command, str(tmp_path / "model_final_MNIST")], capture_output=True, text=True, check=True
    )
    scores = json.loads(out.stdout)
    assert scores["epoch"] == 157 and scores["clusters_used"] == len(clusters.unique())
    assert scores["accuracy_hungarian"] == 1.0 == scores["accuracy_majority"]

    # one digit in four relabelled to the next category: accuracy 3/4 at most
    wrong = relabel[clusters].clone()
    wrong[::4] = (wrong[::4] + 1) % 10
    write_idx(raw / "t10k-labels-idx1-ubyte", wrong.to(torch.uint8))
    out = subprocess.run(
        [*command, str(tmp_path / "model_final_MNIST")], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout)["accuracy_hungarian"] <= 0.75


def test_the_epoch_comes_from_the_state_or_the_port_s_file_name() -> None:
    script = load_script()
    assert script.epoch_of(Path("runs/model_final_MNIST"), {"epoch": 157}) == 157
    assert script.epoch_of(Path("runs/model_epoch_40_MNIST"), {}) == 40
    assert script.epoch_of(Path("runs/model_final_MNIST"), {}) is None
