"""GPU readiness in one go: every check that needs CUDA, one table, one JSON.

    bash benchmarks/gpu_check.sh [--out DIR] [--json PATH] [--tests PATH...]

Steps, each a command run in its own process with a time limit (the whole script is sized for
under 8 minutes on one GPU):
- `cuda tests`: `python -m pytest -q -m cuda` (the update rule against its hand-written
  reference on CUDA, a run trained and resumed there in fp32 and bf16, eval there);
- `train speed`: benchmarks/train_speed.py on the mnist and dsprites backbones, fp32 and bf16,
  with the fraction of the GPU's measured matmul peak (its JSON is kept under --out);
- `quickstart`: `disentangle run recipes/quickstart.toml` with `train.device = "cuda"`;
- `nccl`: one process under torchrun joins an NCCL process group and averages a CUDA tensor's
  gradient with the toolkit's own all-reduce (`average_gradients`); a one-GPU machine cannot
  run two NCCL ranks, and a one-rank run of `disentangle run` never starts a process group;
- `eval`: `disentangle eval` of the quickstart run with `--device cuda`.

Without CUDA every step but the first is skipped, and the first skips its tests: the script
runs, prints its table and writes its JSON on any machine, and exits 1 only if a step failed.
The JSON: {"date", "torch", "cuda" (device name or null), "cpu", "steps": [{"name", "status"
(passed, failed or skipped), "seconds", "summary", "returncode", "command"}], "train_speed"
(train_speed.py's own JSON, when it ran)}.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from machine import cpu_model, describe
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


@dataclass
class Step:
    name: str
    status: str
    seconds: float
    summary: str
    returncode: int | None
    command: list[str]


def nccl_worker() -> None:
    """Under torchrun: join an NCCL group, all-reduce one gradient with the toolkit's own
    averaging, and check it is unchanged (the mean over one rank)."""
    import torch.distributed as dist

    from disentangle.training.distributed import average_gradients

    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    torch.cuda.set_device(device)
    dist.init_process_group("nccl")
    weight = torch.nn.Parameter(torch.ones(1000, device=device))
    (weight * torch.arange(1000.0, device=device)).sum().backward()
    expected = weight.grad.clone()
    average_gradients([weight], dist.get_world_size())
    torch.cuda.synchronize(device)
    assert torch.equal(weight.grad, expected), "the all-reduced gradient changed"
    print(f"nccl {torch.cuda.nccl.version()}: all-reduce over {dist.get_world_size()} rank ok")
    dist.destroy_process_group()


def run(name: str, command: list[str], timeout: int, summary_of: str = "") -> Step:
    """Run one step; its summary is the last line of its output that contains `summary_of`
    (the last line, by default)."""
    start = time.monotonic()
    try:
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return Step(name, "failed", time.monotonic() - start, f"over {timeout} s", None, command)
    seconds = time.monotonic() - start
    output = (done.stdout + done.stderr).splitlines()
    lines = [line for line in output if line.strip() and summary_of in line]
    summary = lines[-1].strip() if lines else ""
    status = "passed" if done.returncode == 0 else "failed"
    if done.returncode:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n", file=sys.stderr)
    return Step(name, status, seconds, summary, done.returncode, command)


def skipped(name: str, command: list[str]) -> Step:
    return Step(name, "skipped", 0.0, "no CUDA device", None, command)


def steps(out: Path, cuda: bool, tests_at: list[str]) -> list[Step]:
    python, cli = sys.executable, [sys.executable, "-m", "disentangle"]
    quickstart = out / "quickstart"
    tests = [python, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider", *tests_at]
    speed = [
        python,
        "benchmarks/train_speed.py",
        "--backbones",
        "mnist,dsprites",
        "--variants",
        "fp32,bf16",
        "--json",
        str(out / "train_speed.json"),
    ]
    train = [
        *cli,
        "run",
        "recipes/quickstart.toml",
        "--set",
        "train.device=cuda",
        "--out",
        str(quickstart),
        "--overwrite",
        "--quiet",
    ]
    nccl = [
        python,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node=1",
        "benchmarks/gpu_check.py",
        "--nccl-worker",
    ]
    evaluate = [*cli, "eval", str(quickstart), "--fast", "--device", "cuda"]
    done = [run("cuda tests", tests, 300)]
    if not cuda:
        for name, command in (
            ("train speed", speed),
            ("quickstart", train),
            ("nccl", nccl),
            ("eval", evaluate),
        ):
            done.append(skipped(name, command))
        return done
    done.append(run("train speed", speed, 180, "% of peak"))
    done.append(run("quickstart", train, 180, "mig"))
    done.append(run("nccl", nccl, 60, "all-reduce"))
    done.append(run("eval", evaluate, 60, "mig"))
    return done


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, help="folder of the runs and JSONs (default: a temp one)")
    p.add_argument("--json", type=Path, help="default: benchmarks/results/gpu_check-DATE.json")
    p.add_argument(
        "--tests", nargs="+", default=["tests"], help="where the cuda tests are (default: tests)"
    )
    p.add_argument("--nccl-worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.nccl_worker:
        nccl_worker()
        return 0
    cuda = torch.cuda.is_available()
    out = args.out or Path(tempfile.mkdtemp(prefix="gpu-check-"))
    out.mkdir(parents=True, exist_ok=True)
    date = datetime.date.today().isoformat()
    result = {
        "date": date,
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name() if cuda else None,
        "cpu": cpu_model(),
        "machine": describe(),
        "steps": [asdict(step) for step in steps(out, cuda, args.tests)],
    }
    speed = out / "train_speed.json"
    if speed.is_file():
        result["train_speed"] = json.loads(speed.read_text())
    path = args.json or RESULTS / f"gpu_check-{date}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")

    table = Table(
        title=f"GPU check: {result['cuda'] or 'no CUDA device'}, torch {torch.__version__}"
    )
    for column in ("step", "status", "seconds", "summary"):
        table.add_column(column)
    for step in result["steps"]:
        table.add_row(step["name"], step["status"], f"{step['seconds']:.0f}", step["summary"])
    Console(width=120).print(table)
    print(f"JSON: {path}")
    return int(any(step["status"] == "failed" for step in result["steps"]))


if __name__ == "__main__":
    sys.exit(main())
