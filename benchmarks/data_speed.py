"""Images/s of the training data path from a prepared cache held in memory against the same
cache memory-mapped (datasets larger than memory).

Writes a cache of random uint8 images in the toolkit's layout (safetensors) into a temporary
folder, then draws training batches (`DeviceBatches.batch`: index, scale to [0, 1]) from it
both ways, repeats interleaved, and prints images/s per path. The file was just written, so
the operating system's page cache holds it: the memory-mapped numbers are those of a dataset
that fits in the page cache, a lower bound on the mapping's cost, not a disk's speed.

    python benchmarks/data_speed.py [--images 100000] [--side 64] [--batch 64]
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from disentangle_data.cache import mapped_images
from machine import environment
from safetensors.torch import load_file, save_file

from disentangle.training.data import DeviceBatches

RESULTS = Path(__file__).parent / "results"
CPU = torch.device("cpu")


def images_per_s(batches: DeviceBatches, count: int, start: int) -> float:
    began = time.perf_counter()
    for i in range(start, start + count):
        batches.batch(i)
    return count * batches.batch_size / (time.perf_counter() - began)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100_000, help="images in the cache")
    parser.add_argument("--side", type=int, default=64, help="image side (one channel)")
    parser.add_argument("--batch", type=int, default=64, help="batch size")
    parser.add_argument("--batches", type=int, default=500, help="batches per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="where the results go")
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    shape = (args.images, 1, args.side, args.side)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cache.safetensors"
        images = torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator())
        save_file({"images": images}, path)
        del images
        paths = {
            "in memory": DeviceBatches(load_file(path)["images"], args.batch, 0, (0, 1), CPU),
            "memory-mapped": DeviceBatches(
                mapped_images(path), args.batch, 0, (0, 1), CPU, on_disk=True
            ),
        }
        speeds: dict[str, list[float]] = {name: [] for name in paths}
        for repeat in range(args.repeats):  # interleaved: drift hits both paths alike
            for name, batches in paths.items():
                speeds[name].append(images_per_s(batches, args.batches, repeat * args.batches))
    env = {
        **environment(),
        "images": args.images,
        "bytes": args.images * args.side * args.side,
        "side": args.side,
        "batch": args.batch,
        "batches": args.batches,
        "repeats": args.repeats,
    }
    print(
        f"{args.images:,} images of {args.side}×{args.side} ({env['bytes'] / 2**20:.0f} MiB), "
        f"batch {args.batch}; torch {env['torch']}, {env['threads']} threads, {env['cpu']}"
    )
    medians = {name: statistics.median(values) for name, values in speeds.items()}
    for name, values in speeds.items():
        spread = ", ".join(f"{v:,.0f}" for v in values)
        print(f"{name:14s} {medians[name]:>12,.0f} images/s (median; repeats: {spread})")
    ratio = medians["memory-mapped"] / medians["in memory"]
    print(f"memory-mapped / in memory: {ratio:.2f}")
    out = args.json or RESULTS / f"data_speed-{datetime.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {**env, "images_per_s": speeds, "median": medians, "ratio": ratio}
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
