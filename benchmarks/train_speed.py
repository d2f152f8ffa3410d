"""Training throughput of each registered backbone, per variant, against this machine's peak.

Each backbone trains at the batch size of the shipped recipe that uses it (recipes/*.toml; the
one named after the backbone where several do) with that recipe's codes and optimiser, on
random images of the backbone's shape (a dataset registered here in-process). Models, batches
and the step are built by the training loop's own Trainer; nothing is written but the JSON.

Variants: fp32, bf16 (autocast; the default memory format, channels_last for convolutions),
bf16_contiguous and bf16_channels_last (bf16, the layout forced), channels_last (fp32),
compile and bf16_compile (train.compile in fp32 and bf16: the graphs dynamo built and the
speed over the same variant eager are printed), gan (fp32, the same recipe with
`codes = []`: a plain GAN, its noise widened to keep G's input size), and r1 (fp32, the
recipe's `infogan` with the R1 penalty on D, `method.r1 = 10`).

Measured: iterations/s (median of repeats, after warm-up iterations), the FLOPs of one
iteration (D step + G step, forward and backward, counted by FlopCounterMode on the eager
model: precision, layout and compile do not change them), GFLOP/s achieved, and its fraction of
the peak of a large matmul (fp32, or bf16 for the bf16 variants), measured before every round
of repeats and taken as the median, so that a machine whose speed drifts during the run affects
peak and training alike. With --profile (CPU only), torch.profiler splits one more repeat of
each variant into matmul/convolution time and the rest: the share of the step the
matmuls take and the fraction of peak they reach on their own, the ceiling of the whole step.
Usage:
    python benchmarks/train_speed.py [--backbones mnist,faces] [--variants fp32,bf16]
        [--iterations N] [--repeats R] [--warmup W] [--threads T] [--profile] [--json PATH]
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from machine import environment
from pydantic import BaseModel, Field
from rich.console import Console
from rich.table import Table
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from disentangle import Dataset, ImageData, Params, hookimpl
from disentangle.device import resolve_device
from disentangle.plugins import host
from disentangle.recipe import BackboneFields, Train, read_recipe, validate_recipe
from disentangle.recipe.build import build_components
from disentangle.run import Run
from disentangle.training.loop import Trainer

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "recipes"
RESULTS = ROOT / "benchmarks" / "results"
PEAK_SIZE, PEAK_SAMPLES = 2048, 7  # square matmuls, median of the samples after one warm-up
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}  # train.precision → matmul dtype
TABLE_WIDTH = 130  # at least, so that a redirected run (80 columns) keeps whole headers
NUMBER_COLUMNS = ["batch", "it/s", "images/s", "GFLOP/it", "GFLOP/s", "% of peak"]
PROFILE_COLUMNS = ["matmul share", "matmul % of peak"]
#: the operators that do the counted FLOPs (matrix multiplies and convolutions, both directions)
MATMUL_OPS = {
    "aten::mm",
    "aten::addmm",
    "aten::bmm",
    "aten::baddbmm",
    "aten::_convolution",
    "aten::mkldnn_convolution",
    "aten::convolution_backward",
}


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


def train_options(**options: Any) -> Callable[[dict[str, Any]], None]:
    """A variant that sets `[train]` options of the recipe."""
    return lambda data: data.setdefault("train", {}).update(options)


def plain_gan(data: dict[str, Any]) -> None:
    """The variant without codes (no Q loss); the noise takes their width, so G is unchanged."""
    data["noise"]["dim"] = build_components(validate_recipe(data)).latent_dim
    data["codes"] = []


def with_r1(data: dict[str, Any]) -> None:
    """The variant with the R1 penalty on D's real batch (a double backward through D)."""
    data.setdefault("method", {"type": "infogan"})["r1"] = 10.0


VARIANTS: dict[str, Callable[[dict[str, Any]], None]] = {
    "fp32": train_options(),
    "bf16": train_options(precision="bf16"),
    "bf16_contiguous": train_options(precision="bf16", channels_last=False),
    "bf16_channels_last": train_options(precision="bf16", channels_last=True),
    "channels_last": train_options(channels_last=True),
    "compile": train_options(compile=True),
    "bf16_compile": train_options(precision="bf16", compile=True),
    "gan": plain_gan,
    "r1": with_r1,
}
#: what runs without --variants: r1 only on request, since only InfoGAN methods take it
DEFAULT_VARIANTS = [v for v in VARIANTS if v != "r1"]
#: each compiled variant and the eager variant it is compared with
EAGER_TWIN = {"compile": "fp32", "bf16_compile": "bf16"}


@dataclass
class Result:
    backbone: str
    variant: str
    recipe: str
    batch: int
    precision: str
    iterations_per_s: float
    repeats_iterations_per_s: list[float]
    images_per_s: float
    gflop_per_iteration: float
    gflop_per_s: float
    peak_fraction: float
    infogan_overhead: float | None = None
    graphs: int | None = None
    over_eager: float | None = None
    matmul_share: float | None = None
    matmul_peak_fraction: float | None = None


def recipes_by_backbone(folder: Path) -> dict[str, Path]:
    """Backbone type → the shipped recipe that trains it (the one named after it, if several)."""
    found: dict[str, Path] = {}
    for path in sorted(folder.glob("*.toml")):
        kind = read_recipe(path)["backbone"]["type"]
        if kind not in found or path.stem == kind:
            found[kind] = path
    return found


def benchmark_data(path: Path) -> dict[str, Any]:
    """A recipe's data with random images of its backbone's shape in place of its dataset."""
    data = read_recipe(path)
    data.pop("variants", None)
    entry = host.backbones.get(data["backbone"]["type"])
    backbone = host.backbones.build(entry.spec_model(BackboneFields)(**data["backbone"]))
    batch = Train(**data.get("train", {})).batch_size
    kept = {k: v for k, v in data["dataset"].items() if k == "value_range"}
    data["dataset"] = {
        "type": "random_images",
        "shape": list(backbone.image_shape),
        "size": 4 * batch,
        **kept,
    }
    data["name"] = f"speed-{path.stem}"
    return data


def variant_recipe(data: dict[str, Any], variant: str) -> BaseModel:
    changed = copy.deepcopy(data)
    VARIANTS[variant](changed)
    return validate_recipe(changed, f"{data['name']} ({variant})")


def trainer(recipe: BaseModel) -> Trainer:
    return Trainer(recipe, Run(Path("runs") / recipe.name))  # fit() is never called: no files


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def iterations_per_s(t: Trainer, start: int, iterations: int) -> float:
    """Run `iterations` training iterations (D/Q step then G step) and time them."""
    began = time.perf_counter()
    for i in range(start, start + iterations):
        t.method.step(t.batches.batch(i))
    synchronize(t.device)
    return iterations / (time.perf_counter() - began)


def timed_repeats(t: Trainer, warmup: int, iterations: int, repeats: int) -> list[float]:
    iterations_per_s(t, 0, warmup)
    return [iterations_per_s(t, warmup + r * iterations, iterations) for r in range(repeats)]


def iteration_flops(recipe: BaseModel) -> int:
    """FLOPs of one iteration, D step + G step, forward and backward (optimisers not counted)."""
    t = trainer(recipe)
    with FlopCounterMode(display=False) as counter:
        t.method.step(t.batches.batch(0))
    return counter.get_total_flops()


def peak_gflops(dtype: torch.dtype, device: torch.device) -> float:
    """GFLOP/s of a large square matmul: the median of PEAK_SAMPLES after one warm-up."""
    a, b = (torch.randn(PEAK_SIZE, PEAK_SIZE, device=device).to(dtype) for _ in range(2))
    out = torch.empty_like(a)
    torch.mm(a, b, out=out)
    seconds = []
    for _ in range(PEAK_SAMPLES):
        synchronize(device)
        began = time.perf_counter()
        torch.mm(a, b, out=out)
        synchronize(device)
        seconds.append(time.perf_counter() - began)
    return 2 * PEAK_SIZE**3 / statistics.median(seconds) / 1e9


def flops_variant(variant: str) -> str:
    """The eager fp32 variant whose FLOPs are counted for this one: dropping the codes changes
    them; r1 gets fp32's, without its double backward, which FlopCounterMode's module hooks
    cannot follow (torch.autograd.grad refuses them), so its GFLOP/s understate the work."""
    return "gan" if variant == "gan" else "fp32"


@dataclass
class Measured:
    """One backbone's variants: their recipes, timed repeats, FLOPs and profile splits."""

    backbone: str
    path: Path
    recipes: dict[str, BaseModel]
    runs: dict[str, list[float]]
    flops: dict[str, int]
    splits: dict[str, tuple[float, float]]
    graphs: dict[str, int]


def measure(
    backbone: str, path: Path, args: argparse.Namespace, peaks: dict[str, list[float]]
) -> Measured:
    """Every variant of one backbone; their timed repeats take turns, so load hits all alike,
    and each round of repeats starts by measuring the peaks (appended to `peaks`)."""
    print(f"measuring {backbone}: {', '.join(args.variants)}", flush=True)
    data = benchmark_data(path)
    recipes = {v: variant_recipe(data, v) for v in args.variants}
    flops = {v: iteration_flops(variant_recipe(data, v)) for v in map(flops_variant, recipes)}
    trainers = {v: trainer(r) for v, r in recipes.items()}
    for t in trainers.values():
        iterations_per_s(t, 0, args.warmup)
    runs: dict[str, list[float]] = {v: [] for v in recipes}
    for r in range(args.repeats):
        for name, dtype in PRECISIONS.items():
            peaks[name].append(peak_gflops(dtype, trainers[args.variants[0]].device))
        for v, t in trainers.items():
            runs[v].append(iterations_per_s(t, args.warmup + r * args.iterations, args.iterations))
    start = args.warmup + args.repeats * args.iterations
    splits = (
        {v: matmul_split(t, start, args.iterations) for v, t in trainers.items()}
        if args.profile
        else {}
    )
    graphs = {v: t.updater.graphs for v, t in trainers.items() if t.updater.compile}
    return Measured(backbone, path, recipes, runs, flops, splits, graphs)


def matmul_split(t: Trainer, start: int, iterations: int) -> tuple[float, float]:
    """Seconds of CPU time in matmuls and convolutions, and in everything else, over
    `iterations` profiled iterations (each operator's own time, its callees excluded)."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        iterations_per_s(t, start, iterations)
    matmul = other = 0.0
    for event in prof.key_averages():
        if event.key in MATMUL_OPS:
            matmul += event.self_cpu_time_total / 1e6
        else:
            other += event.self_cpu_time_total / 1e6
    return matmul, other


def result(
    backbone: str,
    path: Path,
    variant: str,
    recipe: BaseModel,
    runs: list[float],
    flops: int,
    peaks: dict[str, float],
) -> Result:
    rate, batch = statistics.median(runs), recipe.train.batch_size
    precision = recipe.train.precision
    return Result(
        backbone=backbone,
        variant=variant,
        recipe=path.name,
        batch=batch,
        precision=precision,
        iterations_per_s=rate,
        repeats_iterations_per_s=runs,
        images_per_s=rate * batch,
        gflop_per_iteration=flops / 1e9,
        gflop_per_s=flops * rate / 1e9,
        peak_fraction=flops * rate / 1e9 / peaks[precision],
    )


def backbone_results(m: Measured, peaks: dict[str, float], iterations: int) -> list[Result]:
    out = []
    for v, recipe in m.recipes.items():
        flops = m.flops[flops_variant(v)]
        r = result(m.backbone, m.path, v, recipe, m.runs[v], flops, peaks)
        r.graphs = m.graphs.get(v)
        if v in m.splits:
            matmul, other = m.splits[v]
            r.matmul_share = matmul / (matmul + other)
            r.matmul_peak_fraction = flops * iterations / matmul / 1e9 / peaks[r.precision]
        out.append(r)
    return out


def add_overheads(results: list[Result]) -> None:
    """InfoGAN overhead of each gan row: its it/s over the same backbone's fp32 it/s, − 1;
    each compiled row's it/s over its eager twin's (EAGER_TWIN), where that ran too."""
    rate = {(r.backbone, r.variant): r.iterations_per_s for r in results}
    for r in results:
        if r.variant == "gan" and (r.backbone, "fp32") in rate:
            r.infogan_overhead = r.iterations_per_s / rate[r.backbone, "fp32"] - 1
        twin = (r.backbone, EAGER_TWIN.get(r.variant, ""))
        if twin in rate:
            r.over_eager = r.iterations_per_s / rate[twin]


def percent(value: float | None, sign: str = "") -> str:
    return "" if value is None else f"{100 * value:{sign}.1f}%"


def table(results: list[Result], title: str, profiled: bool) -> Table:
    out = Table(title=title, title_justify="left")
    out.add_column("backbone")
    out.add_column("variant", no_wrap=True)
    columns = [*NUMBER_COLUMNS, "InfoGAN overhead", "graphs", "× eager"]
    for name in [*columns, *(PROFILE_COLUMNS if profiled else [])]:
        out.add_column(name, justify="right")
    for r in results:
        profile_cells = [percent(r.matmul_share), percent(r.matmul_peak_fraction)]
        out.add_row(
            r.backbone,
            r.variant,
            str(r.batch),
            f"{r.iterations_per_s:.2f}",
            f"{r.images_per_s:.0f}",
            f"{r.gflop_per_iteration:.2f}",
            f"{r.gflop_per_s:.1f}",
            percent(r.peak_fraction),
            percent(r.infogan_overhead, "+"),
            "" if r.graphs is None else str(r.graphs),
            "" if r.over_eager is None else f"{r.over_eager:.2f}",
            *(profile_cells if profiled else []),
        )
    return out


def comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backbones", type=comma_list, help="default: every one a recipe trains")
    p.add_argument(
        "--variants", type=comma_list, default=DEFAULT_VARIANTS, help=", ".join(VARIANTS)
    )
    p.add_argument("--iterations", type=int, default=10, help="timed iterations per repeat")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (the median is kept)")
    p.add_argument("--warmup", type=int, default=5, help="untimed iterations before the repeats")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    p.add_argument(
        "--profile", action="store_true", help="split each step into matmul time and the rest"
    )
    p.add_argument("--json", type=Path, help="default: benchmarks/results/train_speed-DATE.json")
    args = p.parse_args(argv)
    args.variants = list(dict.fromkeys(args.variants))
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    return args


def selected(args: argparse.Namespace, recipes: dict[str, Path]) -> dict[str, Path]:
    """The backbones to run, each with its recipe; registered ones without a recipe are noted."""
    registered = host.backbones.names()
    for name in args.backbones or []:
        host.backbones.get(name)  # an unknown name raises, with suggestions
        if name not in recipes:
            sys.exit(f"no recipe in {RECIPES} uses backbone {name!r}, so it has no batch size")
    names = args.backbones or [n for n in registered if n in recipes]
    skipped = [n for n in registered if n not in recipes]
    if skipped and not args.backbones:
        print(f"skipped (no shipped recipe uses them): {', '.join(skipped)}")
    return {n: recipes[n] for n in names}


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device("auto")
    if args.profile and device.type != "cpu":
        sys.exit("--profile splits CPU time: it measures nothing useful on " + str(device))
    peak_samples: dict[str, list[float]] = {name: [] for name in PRECISIONS}
    measured = [
        measure(backbone, path, args, peak_samples)
        for backbone, path in selected(args, recipes_by_backbone(RECIPES)).items()
    ]
    peaks = {name: statistics.median(samples) for name, samples in peak_samples.items()}
    results = [r for m in measured for r in backbone_results(m, peaks, args.iterations)]
    env = {
        **environment(),
        "device": str(device),
        "peak_gflop_per_s": peaks,
        "peak_samples_gflop_per_s": peak_samples,
        "iterations": args.iterations,
        "repeats": args.repeats,
        "warmup": args.warmup,
    }
    title = (
        f"torch {env['torch']}, threads {env['threads']}, {env['cpu']} "
        f"({', '.join(env['machine']['extensions']) or 'no AVX2'}), device {device}; "
        f"peak {peaks['fp32']:.0f} GFLOP/s fp32, {peaks['bf16']:.0f} GFLOP/s bf16 "
        f"({PEAK_SIZE}² matmul, median over the rounds); it/s: median of {args.repeats} × "
        f"{args.iterations} iterations after {args.warmup} warm-up"
    )
    add_overheads(results)
    console = Console(width=max(Console().width, TABLE_WIDTH))
    console.print(table(results, title, args.profile))
    out = args.json or RESULTS / f"train_speed-{datetime.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**env, "results": [asdict(r) for r in results]}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    host.add(sys.modules[__name__], "train_speed")
    main(sys.argv[1:])
