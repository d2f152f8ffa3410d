"""Training speed of each registered backbone given a batch size: InfoGAN iterations/s.

Models, Adam optimisers, batches and the step are built by the training loop's own Trainer from
a recipe with the paper's codes and a random dataset of the backbone's shape (registered here
in-process); 2 warm-up iterations, then the median of 3 timed repeats. Nothing is written.
Usage:
    python benchmarks/backbone_speed.py [ITERATIONS]   # iterations per repeat, default 5
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from pydantic import Field

from disentangle import Dataset, ImageData, Params, hookimpl
from disentangle.plugins import host
from disentangle.recipe import validate_recipe
from disentangle.run import Run
from disentangle.training.loop import Trainer

# the recipes' batch sizes (the 2025 re-implementation: 128 MNIST, 64 faces, 32 chairs)
BATCH_SIZES = {"mnist": 128, "svhn": 128, "celeba": 128, "faces": 64, "chairs": 32}
# the paper's latents (Appendix C): noise dims, Cat(k) codes, number of U(−1, 1) codes
CODES = {
    "mnist": (62, [10], 2),
    "svhn": (124, [10] * 4, 4),
    "celeba": (128, [10] * 10, 0),
    "faces": (128, [], 5),
    "chairs": (128, [20] * 3, 1),
}
WARMUP, REPEATS = 2, 3


class RandomParams(Params):
    shape: tuple[int, int, int] = Field(description="(channels, height, width)")
    size: int = Field(ge=1, description="number of images")


class RandomImages(Dataset):
    """Uniform random uint8 images of a given shape."""

    def __init__(self, spec: RandomParams) -> None:
        self.image_shape, self.size = spec.shape, spec.size

    def load(self) -> ImageData:
        g = torch.Generator().manual_seed(0)
        shape = (self.size, *self.image_shape)
        return ImageData(torch.randint(0, 256, shape, dtype=torch.uint8, generator=g))


@hookimpl
def register_datasets(register: Any) -> None:
    register("random_images", RandomImages, RandomParams)


def trainer(name: str, batch: int) -> Trainer:
    """A Trainer for backbone `name` at the paper's codes on random data, ready to step."""
    spec = host.backbones.get(name).spec_model()(type=name)
    shape = list(host.backbones.build(spec).image_shape)
    noise, ks, n_uniform = CODES.get(name, CODES["mnist"])
    codes = [{"type": "categorical", "k": k} for k in ks] + [{"type": "uniform"}] * n_uniform
    recipe = validate_recipe(
        {
            "name": f"speed-{name}",
            "noise": {"type": "uniform", "dim": noise},
            "codes": codes,
            "backbone": {"type": name},
            "dataset": {"type": "random_images", "shape": shape, "size": 4 * batch},
            "train": {"batch_size": batch},
        },
        f"benchmark recipe for {name!r}",
    )
    return Trainer(recipe, Run(Path("runs") / recipe.name))  # fit() is never called: no files


def iterations_per_s(t: Trainer, start: int, iterations: int) -> float:
    """Run `iterations` InfoGAN iterations (D/Q step then G step) and time them."""
    began = time.perf_counter()
    for i in range(start, start + iterations):
        t.step(t.batches.batch(i))
    if t.device.type == "cuda":
        torch.cuda.synchronize(t.device)
    return iterations / (time.perf_counter() - began)


def main(batch_sizes: dict[str, int], iterations: int) -> None:
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, fp32; iterations/s: "
        f"median of {REPEATS} repeats of {iterations} iterations after {WARMUP} warm-up"
    )
    print(f"{'backbone':<10}{'device':>7}{'batch':>6}{'iterations/s':>14}{'images/s':>10}")
    for name in (n for n in host.backbones.names() if n in batch_sizes):
        batch = batch_sizes[name]
        t = trainer(name, batch)
        iterations_per_s(t, 0, WARMUP)
        runs = [iterations_per_s(t, WARMUP + r * iterations, iterations) for r in range(REPEATS)]
        rate = statistics.median(runs)
        print(
            f"{name:<10}{t.device.type:>7}{batch:>6}{rate:>14.2f}{rate * batch:>10.0f}", flush=True
        )


if __name__ == "__main__":
    host.add(sys.modules[__name__], "backbone_speed")
    main(BATCH_SIZES, int(sys.argv[1]) if len(sys.argv) > 1 else 5)
