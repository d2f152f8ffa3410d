"""Score a checkpoint of Natsu6767/InfoGAN-PyTorch's MNIST model as the toolkit scores its own.

    python docs/results/peer_accuracy.py --data ../shared/data/mnist-real-5k CHECKPOINT...

The port (HEAD 4586919) saves `torch.save` dicts whose `discriminator` (D's trunk) and `netQ`
(Q's head) hold the state dicts of its MNIST networks. This script reads only those tensors
(`weights_only`: no code is unpickled) and computes the port's forward pass itself: conv 4×4
s2 → lReLU 0.1, conv 4×4 s2 → BN → lReLU, conv 7×7 → BN → lReLU (D's trunk), then conv 1×1 →
BN → lReLU and the 10 categorical logits (Q's head), batch norm in inference mode, pixels in
[0, 1] as the port's ToTensor gives them. Each checkpoint's category (argmax) on the test
digits is scored with the toolkit's own Hungarian and majority accuracy (disentangle_metrics),
the numbers `disentangle eval RUN --metric accuracy` reports for a toolkit run. One JSON line
per checkpoint. Used by docs/results.md ("The port beside the toolkit"); not part of the
toolkit.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from disentangle_metrics.accuracy import confusion, hungarian_accuracy, majority_accuracy
from torchvision import datasets

SLOPE, EPS, K = 0.1, 1e-5, 10
#: the port's name for the checkpoint it saves every `save_epoch` epochs
EPOCH_IN_NAME = re.compile(r"model_epoch_(\d+)_")
Tensors = dict[str, torch.Tensor]


def batch_norm(x: torch.Tensor, state: Tensors, name: str) -> torch.Tensor:
    """Inference-mode batch norm with the layer's running statistics."""
    return F.batch_norm(
        x,
        state[f"{name}.running_mean"],
        state[f"{name}.running_var"],
        state[f"{name}.weight"],
        state[f"{name}.bias"],
        training=False,
        eps=EPS,
    )


def logits(images: torch.Tensor, trunk: Tensors, q: Tensors) -> torch.Tensor:
    """The port's categorical logits for images [n, 1, 28, 28] in [0, 1]."""
    x = F.leaky_relu(F.conv2d(images, trunk["conv1.weight"], trunk["conv1.bias"], 2, 1), SLOPE)
    x = F.leaky_relu(
        batch_norm(F.conv2d(x, trunk["conv2.weight"], None, 2, 1), trunk, "bn2"), SLOPE
    )
    x = F.leaky_relu(batch_norm(F.conv2d(x, trunk["conv3.weight"]), trunk, "bn3"), SLOPE)
    x = F.leaky_relu(batch_norm(F.conv2d(x, q["conv1.weight"]), q, "bn1"), SLOPE)
    return F.conv2d(x, q["conv_disc.weight"], q["conv_disc.bias"]).flatten(1)


def epoch_of(checkpoint: Path, state: dict[str, object]) -> int | None:
    """The epoch a checkpoint was saved at: from its state where a patched port recorded it,
    else from the port's file name (model_epoch_N_MNIST); None for its final one."""
    if "epoch" in state:
        return int(state["epoch"])  # type: ignore[call-overload]
    found = EPOCH_IN_NAME.search(checkpoint.name)
    return int(found.group(1)) if found else None


@torch.no_grad()
def score(checkpoint: Path, images: torch.Tensor, labels: np.ndarray) -> dict[str, object]:
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    trunk, q = state["discriminator"], state["netQ"]
    clusters = torch.cat([logits(x, trunk, q).argmax(1) for x in images.split(500)]).numpy()
    counts = confusion(clusters, labels, K, K)
    return {
        "checkpoint": str(checkpoint),
        "epoch": epoch_of(checkpoint, state),
        "accuracy_hungarian": hungarian_accuracy(counts),
        "accuracy_majority": majority_accuracy(counts),
        "clusters_used": len(np.unique(clusters)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--data", required=True, help="a root holding MNIST/raw/t10k-* files")
    parser.add_argument("--train", action="store_true", help="score the training digits instead")
    args = parser.parse_args()
    digits = datasets.MNIST(args.data, train=args.train)
    images = digits.data.unsqueeze(1).float() / 255
    labels = digits.targets.numpy()
    for checkpoint in args.checkpoints:
        print(json.dumps(score(checkpoint, images, labels)), flush=True)


if __name__ == "__main__":
    main()
