"""Bit-identity across a refactor: train every method's tiny run and print one digest per run.

Run it at the base commit and at the head, on the same machine with the same torch and the same
threads; a refactor that changes no arithmetic prints the same digests, line for line (the
script is copied first, so the base runs the head's list of runs):

    cp benchmarks/digest.py /tmp/digest.py
    git checkout BASE && python /tmp/digest.py > /tmp/base.txt; git checkout -
    python /tmp/digest.py > /tmp/head.txt && diff /tmp/base.txt /tmp/head.txt

A digest is the SHA-256 of the last checkpoint's training state (every network's and
optimizer's tensors, dtypes and shapes, the random generators' states, the iteration) and of
every logged number but the timings: any change to an update or to what it logs shows.
Floating-point results differ between CPU kinds, thread counts and torch versions, so digests
are compared on one machine and never recorded (the tests check the update rule against a
reference instead, to a tolerance: tests/plugins/infogan/test_reference_step.py).

Runs: `infogan` as the tiny recipe has it, in bf16, with two G steps, with spectral norm on D/Q,
with the R1 penalty and with DiffAugment; `infogan_cr` across the start of its contrastive term;
each VAE. Each trains 6 iterations of batch 8 on a 32-image procedural dataset.

Usage:
    python benchmarks/digest.py [--runs infogan,vae_beta] [--threads 1] [--json PATH]
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from disentangle.recipe import validate_recipe
from disentangle.run.checkpoint import load_checkpoint
from disentangle.training.loop import train

GRID = {
    "type": "procedural",
    "shapes": 2,
    "scales": 2,
    "orientations": 2,
    "positions_x": 2,
    "positions_y": 2,
}
TRAIN = {
    "iterations": 6,
    "batch_size": 8,
    "device": "cpu",
    "log_every": 2,
    "checkpoint_every": 3,
    "sample_every": 1000,
    "tensorboard": False,
}
#: the fields of metrics.jsonl that measure speed, not training
TIMINGS = ("iterations_per_s", "images_per_s")
IMAGES = {"samples": 4, "traversal_rows": 2, "traversal_steps": 3}

INFOGAN: dict[str, Any] = {
    "noise": {"type": "uniform", "dim": 4},
    "codes": [
        {"type": "categorical", "name": "kind", "k": 2},
        {"type": "uniform", "name": "a", "lambda": 0.1},
        {"type": "uniform", "name": "b", "lambda": 0.1},
    ],
    "backbone": {"type": "mnist", "width": 0.125},
    "dataset": {**GRID, "resolution": 28},
}
VAE: dict[str, Any] = {
    "noise": {"type": "gaussian", "dim": 0},
    "codes": [{"type": "gaussian", "name": "z", "dim": 4}],
    "backbone": {"type": "dlib_conv"},
    "dataset": {**GRID, "resolution": 64},
}


def infogan(tweak: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy({**INFOGAN, "train": TRAIN})
    tweak(data)
    return data


def vae(method: str, **params: Any) -> dict[str, Any]:
    return copy.deepcopy({**VAE, "method": {"type": method, **params}, "train": TRAIN})


RUNS: dict[str, dict[str, Any]] = {
    "infogan": infogan(lambda d: None),
    "infogan_bf16": infogan(lambda d: d["train"].update(precision="bf16")),
    "infogan_two_g_steps": infogan(lambda d: d.update(method={"type": "infogan", "g_updates": 2})),
    "infogan_spectral_norm": infogan(lambda d: d["backbone"].update(spectral_norm=True)),
    "infogan_r1": infogan(lambda d: d.update(method={"type": "infogan", "r1": 1.0})),
    "infogan_diffaugment": infogan(
        lambda d: d.update(method={"type": "infogan", "augment": ["translation", "cutout"]})
    ),
    "infogan_cr_across_start": infogan(
        lambda d: (
            d.update(method={"type": "infogan_cr", "start": 3}),
            d["backbone"].update(spectral_norm=True),
        )
    ),
    # each VAE with its regulariser on (at β = 1 β-TCVAE is the plain ELBO, bit for bit)
    "vae_beta": vae("beta_vae", beta=4.0),
    "vae_annealed": vae("annealed_vae", iteration_threshold=4),
    "vae_beta_tc": vae("beta_tcvae", beta=6.0),
    "vae_dip": vae("dip_vae"),
    "vae_factor": vae("factor_vae"),
}


def _feed(h: Any, key: str, value: Any) -> None:
    """Hash a nested state: tensors by dtype, shape and bytes, mappings in key order."""
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        h.update(f"{key}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        for k in sorted(value, key=str):
            _feed(h, f"{key}.{k}", value[k])
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _feed(h, f"{key}[{i}]", item)
    else:
        h.update(f"{key}={value!r}".encode())


def digest(data: dict[str, Any], folder: Path) -> str:
    """Train the run into `folder`; the SHA-256 of its last checkpoint's state."""
    run = train(validate_recipe({**data, "images": IMAGES, "name": folder.name}), folder)
    state, meta = load_checkpoint(run.checkpoints()[-1])
    h = hashlib.sha256()
    _feed(h, "state", state)
    h.update(f"iteration={meta['iteration']}".encode())
    logged = [{k: v for k, v in r.items() if k not in TIMINGS} for r in run.metrics()]
    _feed(h, "metrics", logged)
    return h.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default=",".join(RUNS), help="comma-separated run names")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--json", type=Path, help="also write {run: digest} here")
    args = parser.parse_args()
    names = [n for n in args.runs.split(",") if n]
    unknown = [n for n in names if n not in RUNS]
    if unknown:
        sys.exit(f"--runs: unknown run(s) {', '.join(unknown)}; known: {', '.join(RUNS)}")
    torch.set_num_threads(args.threads)
    found: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            found[name] = digest(RUNS[name], Path(tmp) / name)
            print(f"{name:26} {found[name]}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(found, indent=2) + "\n")


if __name__ == "__main__":
    main()
