"""Where a training iteration's time goes, operator by operator (torch.profiler).

For each backbone (the shipped recipe that trains it, on random images, as train_speed.py
builds it) and each variant (train_speed.py's: by default fp32, bf16_contiguous, bf16 and
channels_last; compile and bf16_compile show the compiled graphs' kernels), a few warm-up
iterations, then `--iterations` profiled ones. Each row is one ATen operator (which kernel
family ran: `aten::mkldnn_convolution` is oneDNN's convolution, `aten::addmm` and `aten::mm`
the matmuls, `aten::_to_copy` the casts, `aten::native_batch_norm` batch norm, ...): its own
CPU time per iteration (its callees excluded) and its share of the iteration's; then the
three families that do the arithmetic (matmuls, convolutions forward, convolutions backward):
their time, their FLOPs per iteration (FlopCounterMode) and the GFLOP/s they reached. A run
prints two tables per backbone and variant and writes them, with the machine
(benchmarks/machine.py), to benchmarks/results/op_profile-DATE.json.

Usage:
    python benchmarks/op_profile.py [--backbones mnist,dlib_conv] [--variants fp32,bf16]
        [--iterations 5] [--warmup 3] [--top 12] [--threads T] [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from machine import describe
from rich.console import Console
from rich.table import Table
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode
from train_speed import (
    RECIPES,
    RESULTS,
    benchmark_data,
    iterations_per_s,
    recipes_by_backbone,
    trainer,
    variant_recipe,
)

from disentangle.plugins import host

VARIANTS = ["fp32", "bf16_contiguous", "bf16", "channels_last"]
#: the operator families that do the FLOPs: the profiler's operators of each (their own time)
#: and FlopCounterMode's (their FLOPs); a convolution's FLOPs are counted on its outer operator
FAMILIES = {
    "matmul": ({"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"}, {"mm", "addmm", "bmm"}),
    "convolution": (
        {"aten::convolution", "aten::_convolution", "aten::mkldnn_convolution"},
        {"convolution", "_convolution"},
    ),
    "convolution backward": ({"aten::convolution_backward"}, {"convolution_backward"}),
}


@dataclass
class Row:
    operator: str
    calls_per_iteration: float
    self_ms_per_iteration: float
    share: float


@dataclass
class Family:
    family: str
    self_ms_per_iteration: float
    share: float
    gflop_per_iteration: float
    gflop_per_s: float


@dataclass
class Profile:
    backbone: str
    recipe: str
    variant: str
    batch: int
    ms_per_iteration: float
    rows: list[Row]
    families: list[Family]


def family_flops(t: object, start: int) -> dict[str, float]:
    """FLOPs of one iteration per family, by FlopCounterMode (forward and backward)."""
    with FlopCounterMode(display=False) as counter:
        iterations_per_s(t, start, 1)  # type: ignore[arg-type]
    counts = {str(op).split(".")[-1]: n for op, n in counter.get_flop_counts()["Global"].items()}
    return {
        name: float(sum(n for op, n in counts.items() if op in ops))
        for name, (_, ops) in FAMILIES.items()
    }


def profile_variant(path: Path, variant: str, iterations: int, warmup: int, top: int) -> Profile:
    recipe = variant_recipe(benchmark_data(path), variant)
    t = trainer(recipe)
    iterations_per_s(t, 0, warmup)
    flops_of = family_flops(t, warmup)
    warmup += 1
    began = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        iterations_per_s(t, warmup, iterations)
    wall = (time.perf_counter() - began) / iterations
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    rows = []
    for e in sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]:
        seconds = e.self_cpu_time_total / 1e6 / iterations
        rows.append(
            Row(
                operator=e.key,
                calls_per_iteration=e.count / iterations,
                self_ms_per_iteration=1e3 * seconds,
                share=e.self_cpu_time_total / total,
            )
        )
    families = []
    for name, (ops, _) in FAMILIES.items():
        own = sum(e.self_cpu_time_total for e in events if e.key in ops)
        seconds = own / 1e6 / iterations
        flops = flops_of[name]
        families.append(
            Family(
                name, 1e3 * seconds, own / total, flops / 1e9, flops / seconds / 1e9 if own else 0
            )
        )
    backbone = recipe.backbone.type
    return Profile(
        backbone, path.name, variant, recipe.train.batch_size, 1e3 * wall, rows, families
    )


def show(p: Profile, console: Console) -> None:
    title = (
        f"{p.backbone} ({p.recipe}), {p.variant}, batch {p.batch}: "
        f"{p.ms_per_iteration:.1f} ms an iteration under the profiler"
    )
    table = Table("operator", "calls/it", "self ms/it", "share", title=title)
    for r in p.rows:
        table.add_row(
            r.operator,
            f"{r.calls_per_iteration:g}",
            f"{r.self_ms_per_iteration:.2f}",
            f"{100 * r.share:.1f}%",
        )
    console.print(table)
    families = Table("family", "self ms/it", "share", "GFLOP/it", "GFLOP/s")
    for f in p.families:
        families.add_row(
            f.family,
            f"{f.self_ms_per_iteration:.2f}",
            f"{100 * f.share:.1f}%",
            f"{f.gflop_per_iteration:.2f}",
            f"{f.gflop_per_s:.1f}",
        )
    console.print(families)


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backbones", default="mnist,dsprites", help="comma-separated backbones")
    p.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated variants")
    p.add_argument("--iterations", type=int, default=5, help="profiled iterations")
    p.add_argument("--warmup", type=int, default=3, help="iterations before profiling")
    p.add_argument("--top", type=int, default=12, help="operators shown per table")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    p.add_argument("--json", type=Path, help="default: benchmarks/results/op_profile-DATE.json")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    recipes = recipes_by_backbone(RECIPES)
    names = [b for b in args.backbones.split(",") if b]
    unknown = [b for b in names if b not in recipes]
    if unknown:
        sys.exit(f"--backbones: no shipped recipe trains {', '.join(unknown)}")
    console = Console(width=max(Console().width, 110))
    profiles = []
    for backbone in names:
        for variant in (v for v in args.variants.split(",") if v):
            found = profile_variant(
                recipes[backbone], variant, args.iterations, args.warmup, args.top
            )
            show(found, console)
            profiles.append(found)
    out = args.json or RESULTS / f"op_profile-{datetime.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    env = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": describe(),
        "iterations": args.iterations,
        "warmup": args.warmup,
    }
    out.write_text(json.dumps({**env, "profiles": [asdict(p) for p in profiles]}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    host.add(sys.modules["train_speed"], "train_speed")
    main(sys.argv[1:])
