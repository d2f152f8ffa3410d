"""Which part of an MNIST InfoGAN mixes the digits: G's categories, or Q's reading of real ones?

    python docs/results/mnist_purity.py --data ../shared/data/mnist-real-5k RUN...

Trains a small CNN on the labelled training digits (seeded; about a minute on one core) and
prints its accuracy on the test digits. Then, for each run's latest checkpoint:
- G's purity: 5,000 samples of G, each labelled by the CNN; the Hungarian (and majority)
  accuracy of the drawn category against that label. A category that draws 4s and 9s
  lowers it; the CNN's own errors lower it a little too.
- Q on G: how often Q's most likely category on G's samples is the one drawn (L_I's
  counterpart).
- Q on real: the Hungarian accuracy of Q's category on the test digits, what
  `disentangle eval RUN --metric accuracy` reports.
Used by docs/results.md ("MNIST on real digits"); not part of the toolkit.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from disentangle_metrics.accuracy import confusion, hungarian_accuracy, majority_accuracy
from torch import nn
from torchvision import datasets

from disentangle.analysis.evaluate import encoder
from disentangle.run import load_run
from disentangle.run.figures import as_uint8, render, sample_latents

SAMPLES = 5_000
EPOCHS = 15


def digits(root: str, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    data = datasets.MNIST(root, train=train)
    return data.data.unsqueeze(1).float() / 255, data.targets.long()


def train_cnn(images: torch.Tensor, labels: torch.Tensor) -> nn.Module:
    """Two conv layers and two linear ones, Adam, shifts of up to 2 pixels as augmentation."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(64 * 7 * 7, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    for _ in range(EPOCHS):
        order = torch.randperm(len(images))
        for batch in order.split(64):
            shift = tuple(torch.randint(-2, 3, (2,)).tolist())
            loss = nn.functional.cross_entropy(
                model(torch.roll(images[batch], shifts=shift, dims=(2, 3))), labels[batch]
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


@torch.no_grad()
def report(path: str, cnn: nn.Module, test: tuple[torch.Tensor, torch.Tensor]) -> None:
    trained = load_run(path).load()
    comps = trained.components
    code = next(i for i, c in enumerate(comps.codes) if c.discrete)
    k = comps.codes[code].dim
    latents = sample_latents(comps, SAMPLES, seed=0)
    drawn = latents[:, comps.layout.codes[code].input].argmax(1).numpy()
    images = render(trained.generator, latents, comps.value_range)
    named = torch.cat([cnn(chunk).argmax(1) for chunk in images.split(500)]).numpy()
    g = confusion(drawn, named, k, 10)
    encode = encoder(trained, torch.device("cpu"))
    first = sum(c.dim for c in comps.codes[:code])  # Q's representation: the codes in order
    on_fake = encode(as_uint8(images))[:, first : first + k].argmax(1).numpy()
    test_images, test_labels = test
    on_real = encode(as_uint8(test_images))[:, first : first + k].argmax(1).numpy()
    real = confusion(on_real, test_labels.numpy(), k, 10)
    print(
        f"{path} (iteration {trained.iteration}): G's purity {hungarian_accuracy(g):.3f} "
        f"(majority {majority_accuracy(g):.3f}), Q on G {np.mean(on_fake == drawn):.3f}, "
        f"Q on real {hungarian_accuracy(real):.3f}"
    )
    print("G's categories (rows) against the CNN's label (columns):")
    print(g)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="root holding MNIST/raw/ (IDX files)")
    parser.add_argument("runs", nargs="+", help="run folders of recipes/mnist.toml")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cnn = train_cnn(*digits(args.data, train=True))
    test = digits(args.data, train=False)
    with torch.no_grad():
        accuracy = (cnn(test[0]).argmax(1) == test[1]).float().mean()
    print(f"CNN on the test digits: {accuracy:.3f}")
    for path in args.runs:
        report(path, cnn, test)


if __name__ == "__main__":
    main()
