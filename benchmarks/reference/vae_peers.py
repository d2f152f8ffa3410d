"""The toolkit's VAEs beside their peers, disent 0.9.3 and pythae 0.1.2, on the same arrays.

    DIR/bin/python benchmarks/reference/vae_peers.py check-loss --method M --peer P [--unpatched]
    DIR/bin/python benchmarks/reference/vae_peers.py train --method M --peer P --steps N \
        --seed S --json OUT [--out RUNS] [--toolkit-run RUN]
    DIR/bin/python benchmarks/reference/vae_peers.py twin --method M --peer pythae|self

DIR is the venv `bash benchmarks/reference/setup.sh DIR` builds (Python 3.12: disent needs it).

check-loss: both sides start from the same weights (the toolkit's initialisation) and take the
same batch and the same training draws (the reparameterisation noise; FactorVAE's
permutations), and each computes its loss terms with its own code; exit 0 when the largest
relative difference is at most 1e-4. Where the peer defines a loss differently from
disentanglement_lib, the peer runs a subclass that follows dlib (said in the output);
--unpatched shows the peer as shipped.

train: the toolkit trains with `disentangle run`'s loop; the peer, from the same initial
weights and the same batches in the same order, with its own loss and its trainer's optimizer
step. Both encoders' means are then scored by the toolkit's metric code on the same
ground-truth samples. --toolkit-run reuses a toolkit run of the same method, seed and steps
(e.g. the one made beside the other peer).
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import platform
import statistics
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import toolkit_side as toolkit
import torch

from disentangle.analysis.study import reference_file

#: each peer's adapter module and the methods it has
PEERS = {
    "disent": ("peer_disent", ("beta_vae", "beta_tcvae", "dip_vae_i", "dip_vae_ii")),
    "pythae": ("peer_pythae", ("beta_vae", "beta_tcvae", "factor_vae", "annealed_vae")),
}
TOLERANCE = 1e-4
#: the methods `twin` can give both sides the toolkit's noise for (one draw per step; FactorVAE
#: also draws permutations)
TWINS = ("beta_vae", "beta_tcvae", "annealed_vae")
#: where check-loss puts a scheduled method (the annealed VAE's C is then c_max / 4)
CHECK_AT = 25_000
#: check-loss scales the encoder's output layer by this: at initialisation KL ≈ 0.002 nats,
#: which would hide a wrongly weighted KL; scaled, it is hundreds of nats
SPREAD = 30.0


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(1)


def peer_module(peer: str, method: str) -> Any:
    """The peer's adapter module, refusing what it does not have."""
    if peer not in PEERS:
        fail(f"unknown peer {peer!r}; the peers are: {', '.join(PEERS)}")
    if method not in toolkit.METHODS:
        fail(f"unknown method {method!r}; the methods are: {', '.join(toolkit.METHODS)}")
    name, methods = PEERS[peer]
    if method not in methods:
        fail(f"{peer} has no {method}; its methods here: {', '.join(methods)}")
    try:
        return importlib.import_module(name)
    except ImportError as err:
        fail(
            f"{peer} is not installed here (no module {err.name!r}): build the peers' venv "
            "with `bash benchmarks/reference/setup.sh DIR` and run this script with "
            "DIR/bin/python"
        )


def build_pair(
    method: str,
    peer: str,
    seed: int,
    steps: int,
    patched: bool,
    dataset: dict | None = None,
    spread: bool = False,
) -> tuple[Any, Any, Any]:
    """The toolkit recipe, its method at initialisation (`spread`: its posterior moved away
    from the prior), and the peer on a copy of its networks (the same weights, nothing
    shared)."""
    module = peer_module(peer, method)
    recipe = toolkit.recipe_for(method, seed, steps, dataset)
    ours = toolkit.build_method(recipe)
    if spread:
        toolkit.spread_posterior(ours, SPREAD)
    nets = copy.deepcopy(toolkit.networks(ours))
    return recipe, ours, module.build(method, recipe.method, nets, patched)


def relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-12)


def check_loss(args: argparse.Namespace) -> int:
    patched = not args.unpatched
    dataset = {"size": 256, "seed": args.seed}  # a batch's worth of the grid: fast to draw
    recipe, ours, theirs = build_pair(
        args.method, args.peer, args.seed, 1, patched, dataset, spread=True
    )
    real = toolkit.batches(recipe).batch(0)
    toolkit.set_schedule(ours, CHECK_AT)
    theirs.set_schedule(CHECK_AT)
    noise = 1234 + args.seed
    ours_terms = toolkit.loss_terms(ours, real, noise)
    torch.manual_seed(noise)  # the peers draw from torch's global generator
    theirs_terms = theirs.terms(real)[1]
    patch = peer_module(args.peer, args.method).PATCHES.get(args.method)
    print(f"{args.method}: the toolkit beside {args.peer} {package_version(args.peer)}")
    if patch and patched:
        print(f"{args.peer} runs a subclass that follows disentanglement_lib: {patch}")
    elif patch:
        print(f"{args.peer} as shipped (its subclass would use: {patch})")
    print(f"{'term':<16}{'toolkit':>16}{args.peer:>16}{'relative diff':>16}")
    worst = 0.0
    for name, value in ours_terms.items():
        if name not in theirs_terms:
            print(f"{name:<16}{value:>16.6f}{'(not given)':>16}")
            continue
        diff = relative(value, theirs_terms[name])
        worst = max(worst, diff)
        print(f"{name:<16}{value:>16.6f}{theirs_terms[name]:>16.6f}{diff:>16.2e}")
    verdict = "agree" if worst <= TOLERANCE else "differ"
    print(f"largest relative difference {worst:.2e}: {verdict} (tolerance {TOLERANCE:g})")
    return 0 if worst <= TOLERANCE else 1


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "(not installed)"


def train_peer(theirs: Any, recipe: Any, log_every: int) -> toolkit.Trained:
    """The peer's steps over the toolkit run's batches, timed (the batches drawn outside),
    and its losses' means over each `log_every` steps, as the toolkit's metrics.jsonl."""
    batches = toolkit.batches(recipe)
    torch.manual_seed(recipe.train.seed)  # the peer's own training draws
    steps = recipe.train.iterations
    seconds, window, curve = 0.0, [], []
    for i in range(steps):
        real = batches.batch(i)
        started = time.perf_counter()
        window.append(theirs.step(real, i))
        seconds += time.perf_counter() - started
        window = window[-log_every:]
        if (i + 1) % log_every == 0 or i + 1 == steps:
            means = {k: sum(t[k] for t in window) / len(window) for k in window[-1]}
            curve.append({"iteration": i + 1, **means})
    final = {k: v for k, v in curve[-1].items() if k != "iteration"}
    return toolkit.Trained(seconds, steps * recipe.train.batch_size / seconds, final, curve=curve)


@torch.no_grad()
def encoder_distance(ours: Any, theirs: list[torch.Tensor]) -> float:
    """|w_ours − w_theirs| / |w_ours| over the encoder's parameters."""
    pairs = list(zip(ours.e.parameters(), theirs, strict=True))
    gap = sum(float((a - b).square().sum()) for a, b in pairs) ** 0.5
    return gap / sum(float(a.square().sum()) for a, _ in pairs) ** 0.5


def twin(args: argparse.Namespace) -> int:
    """Both sides from the same weights over the same batches with the SAME
    reparameterisation noise (the peer's draw replaced by the toolkit's): how far the
    encoders drift apart. `--peer self` is the control: the toolkit beside a copy of itself
    whose encoder weights are nudged by 2e-7 relative (float32 rounding's size)."""
    if args.peer not in ("pythae", "self") or args.method not in TWINS:
        fail(
            f"twin compares with pythae or `self`, for {', '.join(TWINS)} (their one noise "
            f"draw a step is what the two sides share); got --method {args.method} --peer "
            f"{args.peer}"
        )
    dataset = {"size": args.size, "seed": args.seed}
    recipe = toolkit.recipe_for(args.method, args.seed, args.steps, dataset)
    ours = toolkit.build_method(recipe)
    drawn: dict[str, torch.Tensor] = {}
    draw = ours.draw_noise

    def recorded(n: int, device: torch.device) -> torch.Tensor:
        drawn["noise"] = draw(n, device)
        return drawn["noise"]

    ours.draw_noise = recorded
    if args.peer == "self":
        other = toolkit.build_method(recipe)
        with torch.no_grad():
            for p in other.e.parameters():
                p.mul_(1 + 2e-7 * torch.randn_like(p).sign())
        other.draw_noise = lambda n, device: drawn["noise"]
        step, weights = (lambda real, i: other.step(real)), list(other.e.parameters())
    else:
        _, _, theirs = build_pair(args.method, args.peer, args.seed, args.steps, True, dataset)
        theirs.model._sample_gauss = lambda mu, std: (mu + drawn["noise"] * std, drawn["noise"])
        step, weights = theirs.step, list(theirs.model.encoder.parameters())
    batches = toolkit.batches(recipe)
    print(f"{args.method}: the toolkit beside {args.peer}, the same weights, batches and noise")
    for i in range(args.steps):
        real = batches.batch(i)
        ours.step(real)
        step(real, i)
        if i + 1 in (1, 10, 100, 300, 1000, 3000, 10000) or i + 1 == args.steps:
            print(f"step {i + 1:>6}: encoder |Δw| / |w| = {encoder_distance(ours, weights):.2e}")
    return 0


def speed(args: argparse.Namespace) -> int:
    """Both sides' training steps in turns (warm-up first, then each round in the other
    order), so that the machine's load touches both alike: each side's best round (the least
    disturbed by other work) and its median, in images/s."""
    dataset = {"size": 4096, "seed": args.seed}
    recipe, ours, theirs = build_pair(args.method, args.peer, args.seed, 1, True, dataset)
    batches = toolkit.batches(recipe)
    steps = {
        "toolkit": lambda i: ours.step(batches.batch(i)),
        args.peer: lambda i: theirs.step(batches.batch(i), i),
    }
    rates: dict[str, list[float]] = {side: [] for side in steps}
    for round_ in range(args.rounds + 1):  # round 0 warms up; the order turns each round
        for side, step in sorted(steps.items(), reverse=bool(round_ % 2)):
            started = time.perf_counter()
            for i in range(args.steps):
                step(round_ * args.steps + i)
            if round_:
                rates[side].append(args.steps * 64 / (time.perf_counter() - started))
    best = {side: max(values) for side, values in rates.items()}
    print(
        f"{args.method}, {args.rounds} rounds of {args.steps} steps, {torch.get_num_threads()}"
        f" threads, {cpu_name()}"
    )
    for side, values in rates.items():
        print(f"{side:<10}best {best[side]:>8.1f} images/s, median {statistics.median(values):.1f}")
    print(f"toolkit / {args.peer}: {best['toolkit'] / best[args.peer]:.2f}x (best rounds)")
    return 0


def train_both(args: argparse.Namespace) -> int:
    recipe, _, theirs = build_pair(args.method, args.peer, args.seed, args.steps, True)
    out = Path(args.out)
    run_dir = Path(args.toolkit_run) if args.toolkit_run else out / f"{recipe.name}-toolkit"
    if args.toolkit_run:
        try:
            ours = json.loads((run_dir / "vae_peers.json").read_text())["toolkit"]
        except (OSError, ValueError, KeyError) as err:
            fail(f"--toolkit-run {run_dir}: not a toolkit run of this harness ({err})")
    else:
        trained = toolkit.train_toolkit(recipe, run_dir)
        ours = {
            "scores": toolkit.scores(run_dir, seed=args.eval_seed),
            "images_per_s": trained.images_per_s,
            "seconds": trained.seconds,
            "final": trained.final,
            "run": str(run_dir),
        }
        toolkit.write_json(run_dir / "vae_peers.json", {"toolkit": ours})
    log_every = recipe.train.log_every
    peer_trained = train_peer(theirs, recipe, log_every)
    peer_scores = toolkit.scores(
        run_dir, theirs.encode, seed=args.eval_seed, out=out / f"{recipe.name}-{args.peer}-eval"
    )
    module = peer_module(args.peer, args.method)
    report = {
        "method": args.method,
        "peer_name": args.peer,
        "seed": args.seed,
        "steps": args.steps,
        "eval_seed": args.eval_seed,
        "toolkit": ours,
        "peer": {
            "scores": peer_scores,
            "images_per_s": peer_trained.images_per_s,
            "seconds": peer_trained.seconds,
            "final": peer_trained.final,
            "curve": peer_trained.curve,
            "patch": module.PATCHES.get(args.method),
        },
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "disent": package_version("disent"),
            "pythae": package_version("pythae"),
            "disentangle-toolkit": package_version("disentangle-toolkit"),
            "threads": torch.get_num_threads(),
            "cpu": cpu_name(),
        },
        "command": " ".join(sys.argv),
    }
    toolkit.write_json(Path(args.json), report)
    # the run folder carries the peer's scores of the same training: `disentangle study`
    (run_dir / f"reference-{args.peer}.json").write_text(reference_file(report))
    print_table(report["toolkit"], report["peer"], args.peer)
    return 0


#: the scores `table` shows, as (metric, score) of the JSON's `scores`
HEADLINE = (
    ("mig", "mig"),
    ("factor_vae", "factor_vae"),
    ("dci", "dci_disentanglement"),
    ("sap", "sap"),
    ("beta_vae", "beta_vae"),
    ("modularity", "modularity"),
)


def summary(args: argparse.Namespace) -> int:
    """One Markdown row per (method, peer) over the `train` JSONs given: each headline
    score's median over seeds, toolkit / peer, each side's median images/s, and the toolkit's
    median MIG and FactorVAE score minus the peer's (the issue's margin: ≥ −0.03); with
    `--each`, a second table with every seed's MIG and FactorVAE score."""
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for path in args.reports:
        try:
            report = json.loads(Path(path).read_text())
            key = (report["method"], report["peer_name"])
        except (OSError, ValueError, KeyError) as err:
            fail(f"{path}: not a report of `vae_peers.py train` ({err})")
        found.setdefault(key, []).append(report)
    names = " | ".join(score for _, score in HEADLINE)
    print(f"| method | peer | steps | seeds | {names} | images/s | toolkit − peer (mig, fvae) |")
    print("|---|---|---|---|" + "---|" * (len(HEADLINE) + 2))
    for (method, peer), reports in sorted(found.items()):
        cells, gaps = [], {}
        for metric, score in HEADLINE:
            ours = statistics.median(r["toolkit"]["scores"][metric][score] for r in reports)
            theirs = statistics.median(r["peer"]["scores"][metric][score] for r in reports)
            cells.append(f"{ours:.3f} / {theirs:.3f}")
            gaps[metric] = ours - theirs
        rates = [
            statistics.median(r[side]["images_per_s"] for r in reports)
            for side in ("toolkit", "peer")
        ]
        steps = ", ".join(sorted({str(r["steps"]) for r in reports}))
        seeds = ", ".join(str(r["seed"]) for r in sorted(reports, key=lambda r: r["seed"]))
        print(
            f"| {method} | {peer} | {steps} | {seeds} | {' | '.join(cells)} "
            f"| {rates[0]:.0f} / {rates[1]:.0f} | {gaps['mig']:+.3f}, {gaps['factor_vae']:+.3f} |"
        )
    if args.each:
        print("\n| method | peer | seed | mig | factor_vae | images/s |\n|---|---|---|---|---|---|")
        for (method, peer), reports in sorted(found.items()):
            for r in sorted(reports, key=lambda r: r["seed"]):
                cells = [
                    f"{r['toolkit']['scores'][m][m]:.3f} / {r['peer']['scores'][m][m]:.3f}"
                    for m in ("mig", "factor_vae")
                ]
                rates = f"{r['toolkit']['images_per_s']:.0f} / {r['peer']['images_per_s']:.0f}"
                print(f"| {method} | {peer} | {r['seed']} | {' | '.join(cells)} | {rates} |")
    return 0


def cpu_name() -> str:
    """The CPU's model name (Linux), else what platform knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def print_table(ours: dict[str, Any], theirs: dict[str, Any], peer: str) -> None:
    print(f"{'':<26}{'toolkit':>12}{peer:>12}")
    for metric, values in ours["scores"].items():
        for key, value in values.items():
            other = theirs["scores"].get(metric, {}).get(key, float("nan"))
            print(f"{metric + '.' + key:<26}{value:>12.3f}{other:>12.3f}")
    for key in ("reconstruction", "kl"):
        theirs_final = theirs["final"].get(key, float("nan"))  # pythae's β-TCVAE: no KL alone
        print(f"{'final ' + key:<26}{ours['final'][key]:>12.2f}{theirs_final:>12.2f}")
    print(f"{'images/s':<26}{ours['images_per_s']:>12.1f}{theirs['images_per_s']:>12.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check-loss", help="both losses on the same weights, batch, draws")
    run = sub.add_parser("train", help="train both, score both with the toolkit's metrics")
    pace = sub.add_parser("speed", help="both sides' steps in turns: images/s")
    paired = sub.add_parser("twin", help="both trained on the same noise: how far they drift")
    summed = sub.add_parser("table", help="train's JSONs as one Markdown table of medians")
    summed.add_argument("reports", nargs="+", help="the JSON files `train --json` wrote")
    summed.add_argument("--each", action="store_true", help="and every seed's scores")
    for p in (check, run, pace):
        p.add_argument("--method", required=True)
        p.add_argument("--peer", required=True)
        p.add_argument("--seed", type=int, default=1)
    check.add_argument("--unpatched", action="store_true", help="the peer as shipped")
    run.add_argument("--steps", type=int, default=10_000)
    run.add_argument("--json", required=True, help="where the results go")
    run.add_argument("--out", default="runs/vae-peers", help="the runs' parent folder")
    run.add_argument("--toolkit-run", help="reuse this toolkit run (its vae_peers.json)")
    run.add_argument("--eval-seed", type=int, default=0)
    paired.add_argument("--method", required=True)
    paired.add_argument("--peer", required=True, help="pythae, or self (the control)")
    paired.add_argument("--seed", type=int, default=1)
    paired.add_argument("--steps", type=int, default=300)
    paired.add_argument("--size", type=int, default=8192, help="images of the grid drawn")
    pace.add_argument("--steps", type=int, default=20, help="steps per side per round")
    pace.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    commands = {
        "check-loss": check_loss,
        "train": train_both,
        "twin": twin,
        "speed": speed,
        "table": summary,
    }
    return commands[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
